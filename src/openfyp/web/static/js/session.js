// Who is signed in, and the CSRF token their cookie session needs on every write.

import { ApiError, get, onCsrfFailure, post, setCsrfToken } from "./api.js";
import { h, icon } from "./dom.js";
import { openSheet } from "./sheet.js";

export const session = { user: null, region: null };
const listeners = new Set();

function apply(user, csrfToken) {
  session.user = user || null;
  setCsrfToken(user ? csrfToken : null);
  for (const listener of listeners) listener(session.user);
}

export function initSession(boot) {
  session.region = boot?.region || null;
  apply(boot?.me || null, boot?.csrf_token || null);
  onCsrfFailure(refreshSession);
}

export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function refreshSession() {
  try {
    const me = await get("/api/auth/me");
    apply(me.user, me.csrf_token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) apply(null, null);
    else throw err;
  }
  return session.user;
}

export async function login(username, password) {
  const result = await post("/api/auth/login", { username, password, session: "cookie" });
  apply(result.user, result.csrf_token);
  return result.user;
}

export async function signup(fields) {
  const result = await post("/api/auth/signup", { ...fields, session: "cookie" });
  apply(result.user, result.csrf_token);
  return result.user;
}

export async function logout() {
  try {
    await post("/api/auth/logout");
  } finally {
    apply(null, null);
  }
}

// After the account is gone server-side (deleted), drop it here without asking the server again.
export function forgetSession() {
  apply(null, null);
}

export function isMe(username) {
  return !!session.user && session.user.username === String(username || "").toLowerCase();
}

function withNext(path) {
  const next = location.pathname + location.search;
  return next && next !== "/login" && next !== "/signup" ? `${path}?next=${encodeURIComponent(next)}` : path;
}

// Signed-out visitors can watch; anything that acts asks them to sign in first.
export function requireSignIn(why = "Sign in to like, comment, follow and save videos.") {
  if (session.user) return true;
  openSheet({
    title: "Join openfyp",
    className: "auth-prompt",
    content: (sheet) => [
      h("div", { class: "auth-prompt-icon" }, icon("user", { size: 30 })),
      h("p", { class: "auth-prompt-text" }, why),
      h("div", { class: "auth-prompt-actions" },
        h("a", { class: "btn btn-primary btn-block", href: withNext("/signup"), onclick: () => sheet.close() }, "Sign up"),
        h("a", { class: "btn btn-secondary btn-block", href: withNext("/login"), onclick: () => sheet.close() },
          "Log in")),
    ],
  });
  return false;
}
