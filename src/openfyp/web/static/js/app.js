// The web client's entry point: session from the page, client-side routing, and the tab bar.

import { h, icon } from "./dom.js";
import { closePlayer } from "./feed/player.js";
import { initSession, onSessionChange, session } from "./session.js";
import { closeAllSheets } from "./sheet.js";
import { renderError } from "./views/common.js";

const ROUTES = [
  { name: "home", pattern: /^\/$/, load: () => import("./views/home.js"), tab: "home", options: { feed: "foryou" } },
  { name: "home", pattern: /^\/following$/, load: () => import("./views/home.js"), tab: "home", options: { feed: "following" } },
  { name: "profile", pattern: /^\/@([^/]+)$/, load: () => import("./views/profile.js"), tab: "profile" },
  { name: "tag", pattern: /^\/tag\/([^/]+)$/, load: () => import("./views/collection.js"), tab: "search", options: { kind: "hashtag" } },
  { name: "sound", pattern: /^\/sound\/(\d+)$/, load: () => import("./views/collection.js"), tab: "search", options: { kind: "sound" } },
  { name: "video", pattern: /^\/v\/(\d+)$/, load: () => import("./views/video.js"), tab: "home" },
  { name: "search", pattern: /^\/search$/, load: () => import("./views/search.js"), tab: "search" },
  { name: "upload", pattern: /^\/upload$/, load: () => import("./views/upload.js"), tab: "upload" },
  { name: "login", pattern: /^\/login$/, load: () => import("./views/auth.js"), tab: "profile", options: { mode: "login" } },
  { name: "signup", pattern: /^\/signup$/, load: () => import("./views/auth.js"), tab: "profile", options: { mode: "signup" } },
  { name: "studio", pattern: /^\/studio(?:\/(\d+))?$/, load: () => import("./views/studio.js"), tab: "studio" },
  { name: "settings", pattern: /^\/settings$/, load: () => import("./views/settings.js"), tab: "profile" },
];

const view = document.getElementById("view");
const tabbar = document.getElementById("tabbar");
let current = { url: null, cleanup: null, controller: null, token: 0 };

function match(pathname) {
  for (const route of ROUTES) {
    const found = route.pattern.exec(pathname);
    if (found) return { route, params: found.slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p))) };
  }
  return null;
}

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.origin);
  const path = target.pathname + target.search;
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  return render();
}

async function render() {
  const url = location.pathname + location.search;
  if (url === current.url) return;
  closePlayer({ viaHistory: true });
  closeAllSheets();
  try {
    current.cleanup?.();
  } catch (err) {
    console.warn("view cleanup failed", err);
  }
  current.controller?.abort();
  const controller = new AbortController();
  const token = current.token + 1;
  current = { url, cleanup: null, controller, token };

  const found = match(location.pathname);
  view.replaceChildren();
  view.scrollTop = 0;
  view.className = `view view-${found ? found.route.name : "missing"}`;
  document.body.dataset.route = found ? found.route.name : "missing";
  drawTabbar(tabFor(found));
  if (!found) {
    renderError(view, { status: 404, message: "This page doesn't exist." });
    return;
  }
  try {
    const module = await found.route.load();
    if (current.token !== token) return;
    const cleanup = await module.render({
      root: view, params: found.params, query: new URLSearchParams(location.search), signal: controller.signal,
      options: found.route.options || {}, navigate,
    });
    if (current.token !== token) {
      cleanup?.();
      return;
    }
    current.cleanup = cleanup || null;
  } catch (err) {
    if (err?.name === "AbortError" || current.token !== token) return;
    console.error(err);
    renderError(view, err);
  }
}

// Someone else's profile belongs to no tab; only the viewer's own lights up "Profile".
function tabFor(found) {
  if (!found) return null;
  if (found.route.name === "profile") {
    return session.user && found.params[0]?.toLowerCase() === session.user.username ? "profile" : null;
  }
  return found.route.tab;
}

function drawTabbar(active) {
  const me = session.user;
  const tabs = [
    { id: "home", href: "/", label: "Home", iconName: "home" },
    { id: "search", href: "/search", label: "Discover", iconName: "search" },
    { id: "upload", href: "/upload", label: "Upload", iconName: "plus", special: true },
    { id: "studio", href: "/studio", label: "Studio", iconName: "chart" },
    { id: "profile", href: me ? `/@${me.username}` : "/login", label: me ? "Profile" : "Log in", iconName: "user" },
  ];
  tabbar.replaceChildren(...tabs.map((tab) => h("a", {
    href: tab.href, class: ["tab", tab.special && "tab-upload", tab.id === active && "active"],
    "aria-current": tab.id === active ? "page" : null,
    "aria-label": tab.special ? "Upload a video" : null,
  }, tab.special ? h("span", { class: "upload-pill" }, icon("plus", { size: 20 }))
    : icon(tab.iconName, { size: 24, filled: tab.id === active && tab.iconName === "home" }),
  tab.special ? null : h("span", { class: "tab-label" }, tab.label))));
  tabbar.dataset.active = active || "";
}

// Same-origin links to client routes stay in the page; everything else (media, API, docs) is left alone.
function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) {
    if (document.querySelector(".player-layer")) closePlayer();
    closeAllSheets();
    return;
  }
  navigate(url.pathname + url.search);
}

function boot() {
  let data = {};
  try {
    data = JSON.parse(document.getElementById("boot")?.textContent || "{}");
  } catch {
    data = {};
  }
  initSession(data);
  onSessionChange(() => drawTabbar(tabbar.dataset.active));
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", () => render());
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  render();
}

boot();
