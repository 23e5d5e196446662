// Search: creators, hashtags and videos, as you type.

import { get } from "../api.js";
import { clear, emptyState, formatCount, h, icon, spinner } from "../dom.js";
import { VideoGrid, setTitle } from "./common.js";
import { personRow } from "./profile.js";

const TABS = [
  { type: "all", label: "Top" },
  { type: "users", label: "Users" },
  { type: "hashtags", label: "Hashtags" },
  { type: "videos", label: "Videos" },
];
const DEBOUNCE_MS = 280;
const RECENT_KEY = "openfyp.recentSearches";

function recentSearches() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]").filter((q) => typeof q === "string").slice(0, 8);
  } catch {
    return [];
  }
}

function remember(query) {
  const list = [query, ...recentSearches().filter((q) => q !== query)].slice(0, 8);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    /* private mode: nothing to remember */
  }
}

export async function render({ root, query, signal }) {
  let q = (query.get("q") || "").trim();
  let type = TABS.some((t) => t.type === query.get("type")) ? query.get("type") : "all";
  let grid = null;
  let timer = null;
  let generation = 0;

  const input = h("input", {
    type: "search", class: "search-input", placeholder: "Search creators, hashtags, videos", value: q,
    "aria-label": "Search", autocomplete: "off", autocapitalize: "none", spellcheck: "false", enterkeyhint: "search",
  });
  const clearButton = h("button", { type: "button", class: "icon-btn search-clear", "aria-label": "Clear search",
    hidden: !q }, icon("close", { size: 18 }));
  const form = h("form", { class: "search-bar", role: "search" },
    h("span", { class: "search-icon" }, icon("search", { size: 20 })), input, clearButton);
  const tabs = h("div", { class: "search-tabs", role: "tablist", "aria-label": "Result types" });
  const results = h("div", { class: "search-results", "aria-live": "polite" });
  root.append(h("div", { class: "page search-page" }, h("header", { class: "search-header" }, form, tabs), results));

  function drawTabs() {
    tabs.replaceChildren(...TABS.map((tab) => h("button", {
      type: "button", role: "tab", class: ["search-tab", tab.type === type && "active"],
      "aria-selected": String(tab.type === type),
      onclick: () => {
        type = tab.type;
        drawTabs();
        sync();
        run();
      },
    }, tab.label)));
  }

  function sync() {
    const params = new URLSearchParams();
    if (q) params.set("q", q);
    if (type !== "all") params.set("type", type);
    const url = `/search${params.toString() ? `?${params}` : ""}`;
    history.replaceState(history.state, "", url);
    setTitle(q ? `“${q}”` : "Discover");
  }

  function showDiscover() {
    const recent = recentSearches();
    clear(results).append(h("div", { class: "discover" },
      h("h2", { class: "section-title" }, recent.length ? "Recent searches" : "Find something to watch"),
      recent.length
        ? h("ul", { class: "recent-list" }, recent.map((r) => h("li", null, h("button", {
          type: "button", class: "recent-item", onclick: () => setQuery(r),
        }, icon("clock", { size: 18 }), h("span", null, r)))))
        : h("p", { class: "muted" }, "Search by @username, #hashtag or any words from a caption."),
      h("div", { class: "chip-row" }, ["#dance", "#cats", "#cooking", "#music", "#travel"].map((t) =>
        h("button", { type: "button", class: "chip chip-tag", onclick: () => setQuery(t) }, t)))));
  }

  function setQuery(value) {
    input.value = value;
    q = value.trim();
    clearButton.hidden = !q;
    sync();
    run();
  }

  async function run() {
    const mine = ++generation;
    grid?.destroy();
    grid = null;
    if (!q) {
      showDiscover();
      return;
    }
    clear(results).append(h("div", { class: "page-center" }, spinner("Searching")));
    try {
      const first = await get("/api/search", { q, type, limit: 20 }, { signal });
      if (mine !== generation) return;
      drawResults(first);
    } catch (err) {
      if (err.name === "AbortError" || mine !== generation) return;
      clear(results).append(emptyState({ iconName: "alert", title: "Search failed", body: err.message }));
    }
  }

  function drawResults(first) {
    clear(results);
    const users = first.users || [];
    const hashtags = first.hashtags || [];
    const videos = first.videos || [];
    if (!users.length && !hashtags.length && !videos.length) {
      results.append(emptyState({ iconName: "search", title: "No results", body: `Nothing matches “${q}” yet. Try other words.` }));
      return;
    }
    if (users.length && (type === "all" || type === "users")) {
      results.append(section(type === "all" ? "Users" : null,
        h("ul", { class: "people-list" }, users.map((u) => personRow(u, {
          subtitle: `@${u.username} · ${formatCount(u.followers)} ${u.followers === 1 ? "follower" : "followers"}`,
        })))));
    }
    if (hashtags.length && (type === "all" || type === "hashtags")) {
      results.append(section(type === "all" ? "Hashtags" : null,
        h("ul", { class: "tag-list" }, hashtags.map((t) => h("li", null, h("a", { class: "tag-row", href: `/tag/${encodeURIComponent(t.name)}` },
          h("span", { class: "tag-row-icon" }, icon("hash", { size: 20 })),
          h("span", { class: "person-text" }, h("span", { class: "person-name" }, `#${t.name}`),
            h("span", { class: "person-sub" }, `${formatCount(t.video_count)} ${t.video_count === 1 ? "video" : "videos"}`))))))));
    }
    if (videos.length && (type === "all" || type === "videos")) {
      let pending = first;
      grid = new VideoGrid({
        source: "search", title: `“${q}”`,
        load: async (cursor) => {
          if (pending && !cursor) {
            const page = { items: pending.videos, next_cursor: type === "videos" ? pending.next_cursor : null };
            pending = null;
            return page;
          }
          const page = await get("/api/search", { q, type: "videos", cursor, limit: 20 }, { signal });
          return { items: page.videos || [], next_cursor: page.next_cursor };
        },
      });
      results.append(section(type === "all" ? "Videos" : null, grid.el));
      grid.start();
    }
    if (type !== "videos" && first.next_cursor && type !== "all") {
      results.append(h("p", { class: "muted center small" }, "Refine your search to see more."));
    }
  }

  function section(title, body) {
    return h("section", { class: "search-section" }, title ? h("h2", { class: "section-title" }, title) : null, body);
  }

  input.addEventListener("input", () => {
    clearButton.hidden = !input.value;
    clearTimeout(timer);
    timer = setTimeout(() => {
      q = input.value.trim();
      sync();
      run();
    }, DEBOUNCE_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    q = input.value.trim();
    if (q) remember(q);
    input.blur();
    sync();
    run();
  });
  clearButton.addEventListener("click", () => {
    setQuery("");
    input.focus();
  });

  drawTabs();
  sync();
  run();
  if (!q) input.focus({ preventScroll: true });
  return () => {
    clearTimeout(timer);
    grid?.destroy();
    if (q) remember(q);
  };
}
