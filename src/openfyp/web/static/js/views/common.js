// Pieces shared by the pages: headers, error and empty states, and the grid of video posters.

import { emptyState, formatCount, formatDuration, h, icon, linkButton } from "../dom.js";
import { openPlayer } from "../feed/player.js";
import { toastError } from "../toast.js";

export function setTitle(title) {
  document.title = title ? `${title} · openfyp` : "openfyp";
}

export function pageHeader(title, { back = true, actions = [] } = {}) {
  return h("header", { class: "page-header" },
    back ? h("button", {
      type: "button", class: "icon-btn", "aria-label": "Back",
      onclick: () => (history.length > 1 ? history.back() : (location.href = "/")),
    }, icon("back", { size: 24 })) : h("span", { class: "page-header-spacer" }),
    h("h1", { class: "page-title" }, title),
    h("div", { class: "page-actions" }, actions));
}

export function renderError(root, err) {
  const status = err?.status;
  root.replaceChildren(h("div", { class: "page page-center" },
    status === 404
      ? emptyState({ iconName: "search", title: "Not found", body: err?.message || "We couldn't find that.",
        action: linkButton("Go to For You", "/", { variant: "secondary" }) })
      : emptyState({ iconName: "alert", title: "Something went wrong", body: err?.message || "Please try again.",
        action: h("button", { type: "button", class: "btn btn-secondary", onclick: () => location.reload() }, "Reload") })));
}

export function gridSkeleton(count = 9) {
  return h("div", { class: "grid", "aria-hidden": "true" },
    Array.from({ length: count }, () => h("div", { class: "tile tile-skeleton sk" })));
}

/**
 * A grid of posters that opens the player at the tapped video. Loads further pages when its end
 * scrolls into view.
 */
export class VideoGrid {
  constructor({ source, title, load, owner = false, empty = null }) {
    this.source = source;
    this.title = title;
    this.loader = load;
    this.owner = owner;
    this.empty = empty;
    this.items = [];
    this.cursor = null;
    this.done = false;
    this.loading = null;
    this.grid = h("div", { class: "grid", role: "list" });
    this.sentinel = h("div", { class: "grid-sentinel" });
    this.el = h("section", { class: "grid-section" }, this.grid, this.sentinel);
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { rootMargin: "400px" });
  }

  async start() {
    this.grid.replaceWith(this.skeleton = gridSkeleton());
    await this.more();
    this.skeleton.replaceWith(this.grid);
    if (!this.items.length && this.empty) this.grid.replaceWith(h("div", { class: "grid-empty" }, this.empty()));
    this.observer.observe(this.sentinel);
  }

  more() {
    if (this.done || this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const page = await this.loader(this.cursor);
        this.cursor = page.next_cursor || null;
        this.done = !this.cursor;
        this.addItems(page.items || []);
      } catch (err) {
        this.done = true;
        toastError(err);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  addItems(items) {
    for (const raw of items) {
      const item = { ...raw, source: this.source, position: this.items.length };
      this.items.push(item);
      this.grid.append(this.tile(item));
    }
  }

  playable() {
    return this.items.filter((item) => item.status === "ready" && item.video_url);
  }

  tile(item) {
    const ready = item.status === "ready";
    const badge = item.status === "processing" ? h("span", { class: "tile-badge processing" }, icon("clock", { size: 14 }), "Processing")
      : item.status === "failed" ? h("span", { class: "tile-badge failed" }, icon("alert", { size: 14 }), "Failed")
        : item.visibility && item.visibility !== "public" ? h("span", { class: "tile-badge" }, icon("lock", { size: 14 }), item.visibility)
          : null;
    const poster = item.poster_url ? h("img", { class: "tile-poster", src: item.poster_url, alt: "", loading: "lazy" })
      : h("div", { class: "tile-poster tile-placeholder" }, icon(item.status === "failed" ? "alert" : "film", { size: 28 }));
    const label = item.caption ? item.caption.slice(0, 90) : `Video ${item.id}`;
    const tile = h("button", {
      type: "button", class: ["tile", !ready && "not-ready"], role: "listitem",
      "aria-label": ready ? `Play: ${label}` : `${label} (${item.status})`,
      onclick: () => this.open(item),
    }, poster, badge,
    h("span", { class: "tile-stats" },
      ready ? [icon("play", { size: 14, filled: true }), formatCount(item.stats?.views)] : null,
      ready && item.duration_s ? h("span", { class: "tile-duration" }, formatDuration(item.duration_s)) : null));
    if (item.status === "failed" && item.failure?.reason) tile.title = item.failure.reason;
    return tile;
  }

  open(item) {
    if (item.status !== "ready") {
      if (this.owner) {
        import("../toast.js").then(({ toast }) => toast(item.status === "failed"
          ? `Processing failed: ${item.failure?.reason || "unknown reason"}` : "Still processing — it will appear here when ready.",
        { kind: item.status === "failed" ? "error" : "info" }));
      }
      return;
    }
    const playable = this.playable();
    openPlayer({
      items: playable, index: playable.indexOf(item), title: this.title, cursor: this.cursor,
      load: async (cursor) => {
        const page = await this.loader(cursor);
        this.cursor = page.next_cursor || null;
        this.done = !this.cursor;
        const before = this.items.length;
        this.addItems(page.items || []);
        return { items: this.items.slice(before).filter((i) => i.status === "ready"), next_cursor: this.cursor };
      },
    });
  }

  destroy() {
    this.observer.disconnect();
  }
}

export function statBlock(value, label, { href = null } = {}) {
  const inner = [h("strong", null, formatCount(value)), h("span", null, label)];
  return href ? h("a", { class: "stat", href }, inner) : h("div", { class: "stat" }, inner);
}

export { emptyState };
