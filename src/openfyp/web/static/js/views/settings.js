// Settings: personalisation, feed reset, muted words, data export, sign out and account deletion.
//
// The governance endpoints may not exist on every server version; a 404 or 405 from them is shown as
// "not available here" rather than as an error.

import { ApiError, api, get, post } from "../api.js";
import { avatar, clear, emptyState, h, icon, linkButton } from "../dom.js";
import { tracker } from "../events.js";
import { forgetSession, logout, refreshSession, session } from "../session.js";
import { confirmSheet, openSheet } from "../sheet.js";
import { toast, toastError } from "../toast.js";
import { pageHeader, setTitle } from "./common.js";

export const GOVERNANCE_ENDPOINTS = {
  personalisation: { method: "PUT", path: "/api/me/personalisation", body: (on) => ({ personalised: on }) },
  resetFeed: { method: "POST", path: "/api/me/feed-reset" },
  exportData: { method: "POST", path: "/api/me/export" },
  deleteAccount: { method: "DELETE", path: "/api/me" },
};

function unavailable(err) {
  return err instanceof ApiError && (err.status === 404 || err.status === 405 || err.status === 501);
}

async function governance(name, arg) {
  const endpoint = GOVERNANCE_ENDPOINTS[name];
  try {
    return await api(endpoint.path, { method: endpoint.method, body: endpoint.body ? endpoint.body(arg) : undefined });
  } catch (err) {
    if (unavailable(err)) {
      toast("This isn't available on this server yet.", { kind: "info" });
      return undefined;
    }
    throw err;
  }
}

function row({ iconName, title, body = null, control = null, onclick = null, href = null, danger = false }) {
  const inner = [h("span", { class: "setting-icon" }, icon(iconName, { size: 20 })),
    h("span", { class: "setting-text" }, h("span", { class: "setting-title" }, title),
      body ? h("span", { class: "setting-body" }, body) : null),
    control || (onclick || href ? icon("right", { size: 18 }) : null)];
  const cls = ["setting", danger && "danger"];
  if (href) return h("a", { class: cls, href }, inner);
  if (onclick) return h("button", { type: "button", class: cls, onclick }, inner);
  return h("div", { class: cls }, inner);
}

function group(title, ...rows) {
  return h("section", { class: "settings-group" }, h("h2", { class: "settings-group-title" }, title),
    h("div", { class: "settings-card" }, rows));
}

function toggle(label, checked, onchange) {
  const input = h("input", { type: "checkbox", role: "switch", class: "switch-input", "aria-label": label });
  input.checked = checked;
  input.addEventListener("change", () => onchange(input));
  return h("label", { class: "switch" }, input, h("span", { class: "switch-track", "aria-hidden": "true" }));
}

export async function render({ root, navigate }) {
  setTitle("Settings");
  const page = h("div", { class: "page settings-page" }, pageHeader("Settings and privacy"));
  root.append(page);
  if (!session.user) {
    page.append(h("div", { class: "page-center" }, emptyState({
      iconName: "sliders", title: "Sign in to change your settings",
      action: h("div", { class: "stack" }, linkButton("Log in", "/login?next=/settings"),
        linkButton("Sign up", "/signup?next=/settings", { variant: "secondary" })),
    })));
    return null;
  }
  const me = session.user;

  const personalised = toggle("Personalised For You", me.personalised !== false, async (input) => {
    const wanted = input.checked;
    input.disabled = true;
    try {
      const result = await governance("personalisation", wanted);
      if (result === undefined) input.checked = !wanted;
      else {
        await refreshSession().catch(() => {});
        toast(wanted ? "For You is personalised again" : "For You now shows what's popular in your region", { kind: "success" });
      }
    } catch (err) {
      input.checked = !wanted;
      toastError(err);
    } finally {
      input.disabled = false;
    }
  });

  const mutedList = h("ul", { class: "muted-words" });
  const mutedInput = h("input", { class: "input", placeholder: "Add a word or phrase", maxlength: "200", "aria-label": "Word to mute" });
  const mutedForm = h("form", { class: "muted-form" }, mutedInput, h("button", { type: "submit", class: "btn btn-secondary btn-small" }, "Mute"));
  mutedForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const word = mutedInput.value.trim();
    if (!word) return;
    try {
      await post("/api/me/muted-words", { word });
      mutedInput.value = "";
      loadMuted();
    } catch (err) {
      if (unavailable(err)) toast("Muted words aren't available on this server.", { kind: "info" });
      else toastError(err);
    }
  });
  async function loadMuted() {
    try {
      const { items } = await get("/api/me/muted-words");
      clear(mutedList).append(...(items.length ? items.map((m) => h("li", { class: "chip chip-removable" }, m.word,
        h("button", {
          type: "button", class: "icon-btn", "aria-label": `Unmute ${m.word}`,
          onclick: async () => {
            try {
              await api(`/api/me/muted-words/${m.id}`, { method: "DELETE" });
              loadMuted();
            } catch (err) {
              toastError(err);
            }
          },
        }, icon("close", { size: 14 })))) : [h("li", { class: "muted small" }, "Videos and comments with these words are hidden from you.")]));
    } catch (err) {
      clear(mutedList).append(h("li", { class: "muted small" }, unavailable(err) ? "Not available on this server." : err.message));
    }
  }

  page.append(
    h("a", { class: "settings-account", href: `/@${me.username}` }, avatar(me, 56),
      h("span", { class: "setting-text" }, h("span", { class: "setting-title" }, me.display_name || me.username),
        h("span", { class: "setting-body" }, `@${me.username}`)), icon("right", { size: 18 })),
    group("For You",
      row({ iconName: "sliders", title: "Personalised For You",
        body: "Uses what you watch, like and follow. Off: For You shows what's popular in your region, the same for everyone.",
        control: personalised }),
      row({ iconName: "refresh", title: "Reset For You", body: "Start fresh: your past activity stops shaping recommendations.",
        onclick: async () => {
          const sure = await confirmSheet({ title: "Reset your For You feed?", confirmLabel: "Reset",
            body: "Recommendations will stop using your activity so far and learn from what you do next. Your likes, follows and videos stay." });
          if (!sure) return;
          try {
            if ((await governance("resetFeed")) !== undefined) toast("Your For You feed was reset", { kind: "success" });
          } catch (err) {
            toastError(err);
          }
        } }),
      row({ iconName: "info", title: "How For You works", body: "Every video's ⋯ menu has “Why this video” with the reasons it was picked." })),
    group("Content", h("div", { class: "setting setting-column" },
      h("span", { class: "setting-title" }, "Muted words"), mutedList, mutedForm)),
    group("Your data",
      row({ iconName: "globe", title: `Stored in region “${session.region || me.region}”`,
        body: "Your account, videos and activity are kept and processed in this region." }),
      row({ iconName: "download", title: "Download your data", body: "A copy of your account, videos and activity.",
        onclick: () => exportData() })),
    group("Account",
      row({ iconName: "logout", title: "Log out", onclick: async () => {
        tracker.flushNow();
        await logout().catch(() => {});
        toast("Logged out");
        navigate("/", { replace: true });
      } }),
      row({ iconName: "trash", title: "Delete account", body: "Permanently remove your account and videos.", danger: true,
        onclick: () => deleteAccount(navigate) })),
  );
  loadMuted();
  return null;
}

const EXPORT_POLL_MS = 1500;
const EXPORT_WAIT_MS = 180_000;
let exportInProgress = false;

function download(href) {
  // A same-origin attachment: the browser saves the archive and the page stays where it is.
  const link = h("a", { href, download: "" });
  document.body.append(link);
  link.click();
  link.remove();
}

// The server writes the archive in the background; wait for it while the page stays open.
async function waitForExport(id) {
  const deadline = Date.now() + EXPORT_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
    const { items = [] } = await get("/api/me/exports");
    const mine = items.find((item) => item.id === id);
    if (mine?.status === "ready" && mine.download_url) return mine;
    if (!mine || mine.status === "failed") throw new Error("The export could not be made. Please try again.");
  }
  return null;
}

async function exportData() {
  if (exportInProgress) {
    toast("Your archive is still being prepared.", { kind: "info" });
    return;
  }
  exportInProgress = true;
  try {
    const request = await governance("exportData");
    if (request === undefined) return;
    const ready = request.download_url ? request : (toast("Preparing your data archive…", { kind: "info" }),
      await waitForExport(request.id));
    if (!ready) {
      toast("Your archive is taking a while. Try the export again later to download it.", { kind: "info" });
      return;
    }
    download(ready.download_url);
    toast("Your data archive is downloading", { kind: "success" });
  } catch (err) {
    toastError(err);
  } finally {
    exportInProgress = false;
  }
}

function deleteAccount(navigate) {
  const username = session.user.username;
  const confirmInput = h("input", { class: "input", placeholder: username, autocomplete: "off", "aria-label": "Type your username to confirm" });
  const password = h("input", { class: "input", type: "password", placeholder: "Password", autocomplete: "current-password", "aria-label": "Password" });
  const go = h("button", { type: "submit", class: "btn btn-danger btn-block", disabled: true }, "Delete my account");
  const ready = () => {
    go.disabled = confirmInput.value.trim().toLowerCase() !== username || !password.value;
  };
  confirmInput.addEventListener("input", ready);
  password.addEventListener("input", ready);
  const sheet = openSheet({
    title: "Delete your account?", className: "form-sheet",
    content: h("form", {
      class: "sheet-form",
      onsubmit: async (event) => {
        event.preventDefault();
        go.disabled = true;
        try {
          const endpoint = GOVERNANCE_ENDPOINTS.deleteAccount;
          await api(endpoint.path, { method: endpoint.method, body: { password: password.value } });
          sheet.close();
          forgetSession();
          toast("Your account was deleted");
          navigate("/", { replace: true });
        } catch (err) {
          if (unavailable(err)) toast("Account deletion isn't available on this server yet.", { kind: "info" });
          else toastError(err);
          go.disabled = false;
        }
      },
    },
    h("p", { class: "confirm-body" }, "Your profile, videos, comments and activity will be removed. This can't be undone."),
    h("label", { class: "label" }, `Type ${username} and your password to confirm`), confirmInput, password, go),
  });
}
