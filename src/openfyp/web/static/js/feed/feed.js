// A vertical, snapping feed of full-screen videos: the visible one plays, the next one preloads, and
// more are fetched as the viewer nears the end.

import { button, h, icon } from "../dom.js";
import { tracker } from "../events.js";
import { openSheets } from "../sheet.js";
import { toastError } from "../toast.js";
import { playback } from "./playback.js";
import { Slide } from "./slide.js";
import { eventContext } from "./watch.js";

const IMPRESSION_RATIO = 0.5;
const ACTIVE_RATIO = 0.6;
const PROGRESS_EVERY_MS = 5000;
const LOAD_MORE_WITHIN = 3;
// Slides further than this from the visible one give their decoder back.
const KEEP_ATTACHED = 2;

export class Feed {
  /**
   * @param {object} options
   * @param {(cursor: string|null) => Promise<{items: object[], next_cursor: string|null}>} [options.load]
   * @param {object[]} [options.items] items known up front (already annotated with source and position)
   * @param {string|null} [options.cursor] cursor for `load` after the up-front items
   * @param {number} [options.startIndex]
   * @param {() => Node} [options.empty] what to show when there is nothing at all
   * @param {string} [options.label]
   */
  constructor({ load = null, items = [], cursor = null, startIndex = 0, empty = null, label = "Videos",
    endCard = true } = {}) {
    this.load = load;
    this.nextCursor = cursor;
    this.done = !load;
    this.loading = null;
    this.slides = [];
    this.active = null;
    this.startIndex = startIndex;
    this.initialItems = items;
    this.empty = empty;
    this.endCard = endCard;
    this.ratios = new Map();
    this.destroyed = false;

    this.scroller = h("div", { class: "feed", role: "feed", "aria-label": label, "aria-busy": "true" });
    this.muteButton = h("button", { type: "button", class: "feed-mute", onclick: () => playback.toggleMuted() },
      icon("muted", { size: 20 }), h("span", { class: "feed-mute-label" }, "Tap for sound"));
    this.el = h("div", { class: "feed-wrap idle" }, this.scroller, this.muteButton,
      h("div", { class: "feed-arrows" },
        h("button", { type: "button", class: "icon-btn round", "aria-label": "Previous video", onclick: () => this.step(-1) },
          icon("up", { size: 22 })),
        h("button", { type: "button", class: "icon-btn round", "aria-label": "Next video", onclick: () => this.step(1) },
          icon("down", { size: 22 }))));
    this.showMuteState(playback.muted);

    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      root: this.scroller, threshold: [0, 0.25, IMPRESSION_RATIO, ACTIVE_RATIO, 0.8, 1],
    });
    this.resizeObserver = new ResizeObserver(() => this.fitAll());
    this.resizeObserver.observe(this.scroller);
    this.onKey = (event) => this.handleKey(event);
    document.addEventListener("keydown", this.onKey);
    this.unsubscribers = [
      playback.onChange((muted) => this.showMuteState(muted)),
      tracker.beforeFlush(() => this.active?.session?.reportProgress()),
    ];
    this.progressTimer = setInterval(() => this.active?.session?.reportProgress(), PROGRESS_EVERY_MS);
    this.onVisibility = () => {
      if (!this.active) return;
      if (document.visibilityState === "hidden") this.active.video.pause();
      else if (!this.active.userPaused) this.active.play();
    };
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  async start() {
    this.scroller.append(this.skeleton = skeletonSlide());
    if (this.initialItems.length) {
      this.add(this.initialItems);
    }
    if (!this.slides.length || (this.startIndex >= this.slides.length - LOAD_MORE_WITHIN && !this.done)) {
      await this.loadMore();
    }
    if (this.destroyed) return;
    this.skeleton?.remove();
    this.skeleton = null;
    this.scroller.setAttribute("aria-busy", "false");
    if (!this.slides.length) {
      if (this.failed) this.showError();
      else if (!this.endMarker) this.showEmpty();
      return;
    }
    const start = Math.min(this.startIndex, this.slides.length - 1);
    this.scroller.scrollTop = start * this.scroller.clientHeight;
    this.setActive(this.slides[start]);
  }

  add(items) {
    for (const item of items) {
      if (this.slides.some((s) => s.item.id === item.id && s.item.source === item.source)) continue;
      const slide = new Slide(item, this);
      this.slides.push(slide);
      if (this.endMarker) this.scroller.insertBefore(slide.el, this.endMarker);
      else if (this.skeleton) this.scroller.insertBefore(slide.el, this.skeleton);
      else this.scroller.append(slide.el);
      this.observer.observe(slide.el);
      slide.fit(this.scroller.clientWidth || 390, this.scroller.clientHeight || 780);
    }
    if (this.active) this.updatePreload();
  }

  loadMore() {
    if (this.done || this.loading || !this.load) return this.loading;
    this.loading = (async () => {
      try {
        const page = await this.load(this.nextCursor);
        if (this.destroyed) return;
        this.nextCursor = page.next_cursor || null;
        this.done = !this.nextCursor || !(page.items || []).length;
        this.add(page.items || []);
        if (page.notice) {
          this.done = true;
          this.showNotice(page.notice);
        }
      } catch (err) {
        if (err?.name !== "AbortError") toastError(err);
        this.done = false;
        this.failed = true;
      } finally {
        this.loading = null;
        if (this.done && !this.destroyed && this.slides.length) this.showEnd();
      }
    })();
    return this.loading;
  }

  showError() {
    const card = h("div", { class: "slide slide-message" }, h("div", { class: "empty" },
      h("div", { class: "empty-icon" }, icon("alert", { size: 36 })),
      h("h2", { class: "empty-title" }, "Couldn't load videos"),
      h("p", { class: "empty-body" }, "Check your connection and try again."),
      button("Try again", { variant: "secondary", iconName: "refresh", onclick: () => {
        card.remove();
        this.failed = false;
        this.start();
      } })));
    this.scroller.append(card);
    this.muteButton.hidden = true;
  }

  showEmpty() {
    this.scroller.append(h("div", { class: "slide slide-message" }, this.empty ? this.empty() : h("p", null, "Nothing here yet.")));
    this.muteButton.hidden = true;
  }

  // A notice in place of videos (a minor's daily screen-time limit): shown as the last card.
  showNotice(notice) {
    if (this.endMarker) return;
    this.endMarker = h("div", { class: "slide slide-message slide-notice" },
      h("div", { class: "empty" },
        h("div", { class: "empty-icon" }, icon("clock", { size: 36 })),
        h("h2", { class: "empty-title" }, "Time for a break"),
        h("p", { class: "empty-body" }, notice.message || "The feed is paused for now.")));
    this.scroller.append(this.endMarker);
    this.muteButton.hidden = !this.slides.length;
  }

  showEnd() {
    if (this.endMarker || !this.endCard) return;
    this.endMarker = h("div", { class: "slide slide-message slide-end" },
      h("div", { class: "empty" },
        h("div", { class: "empty-icon" }, icon("check", { size: 36 })),
        h("h2", { class: "empty-title" }, "You're all caught up"),
        h("p", { class: "empty-body" }, "New videos show up here as creators post them."),
        button("Watch again from the top", { variant: "secondary", iconName: "refresh", onclick: () => this.jumpTo(0) })));
    this.scroller.append(this.endMarker);
  }

  onIntersect(entries) {
    for (const entry of entries) {
      const slide = this.slides.find((s) => s.el === entry.target);
      if (!slide) continue;
      this.ratios.set(slide, entry.intersectionRatio);
      if (entry.intersectionRatio >= IMPRESSION_RATIO && !slide.impressed) {
        slide.impressed = true;
        tracker.track("impression", eventContext(slide.item));
      }
    }
    let best = null;
    let bestRatio = 0;
    for (const [slide, ratio] of this.ratios) {
      if (ratio > bestRatio) {
        best = slide;
        bestRatio = ratio;
      }
    }
    if (best && bestRatio >= ACTIVE_RATIO && best !== this.active) this.setActive(best);
    if (!best || bestRatio < ACTIVE_RATIO) {
      // Scrolled onto the end card (or between slides): nothing should keep playing off screen.
      const visibleEnd = this.endMarker && this.scroller.scrollTop >= this.endMarker.offsetTop - 10;
      if (visibleEnd && this.active) this.setActive(null);
    }
  }

  setActive(slide) {
    if (this.destroyed) return;
    const previous = this.active;
    if (previous === slide) return;
    previous?.deactivate();
    this.active = slide;
    this.el.classList.toggle("idle", !slide);
    if (!slide) return;
    slide.activate();
    this.updatePreload();
    const index = this.slides.indexOf(slide);
    if (index >= this.slides.length - LOAD_MORE_WITHIN) this.loadMore();
  }

  // The visible video and the next one load fully; the previous keeps its metadata; the rest load nothing.
  updatePreload() {
    const current = this.slides.indexOf(this.active);
    if (current < 0) return;
    this.slides.forEach((slide, index) => {
      const distance = index - current;
      if (distance === 0 || distance === 1) slide.attach("auto");
      else if (distance === -1) slide.attach("metadata");
      else if (Math.abs(distance) > KEEP_ATTACHED) slide.detach();
      else if (slide.attached) slide.video.preload = "none";
    });
  }

  fitAll() {
    const width = this.scroller.clientWidth;
    const height = this.scroller.clientHeight;
    if (!width || !height) return;
    // Scroll snapping re-snaps to the current slide after a resize by itself (mobile URL bars resize the
    // viewport mid-swipe, so scrolling here would fight the viewer's finger).
    for (const slide of this.slides) slide.fit(width, height);
  }

  step(delta) {
    const index = this.active ? this.slides.indexOf(this.active) : -1;
    const target = index + delta;
    if (target < 0) return;
    if (target >= this.slides.length) {
      (this.endMarker || this.slides[this.slides.length - 1]?.el)?.scrollIntoView({ behavior: "smooth", block: "start" });
      return;
    }
    this.slides[target].el.scrollIntoView({ behavior: smoothScroll(), block: "start" });
  }

  jumpTo(index) {
    this.slides[index]?.el.scrollIntoView({ behavior: smoothScroll(), block: "start" });
  }

  handleKey(event) {
    if (this.destroyed || openSheets() || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if (!this.el.isConnected || this.el.closest("[hidden]")) return;
    if (document.querySelector(".player-layer") && !this.el.closest(".player-layer")) return;
    const key = event.key;
    if (key === "ArrowDown" || key === "PageDown" || key === "j") {
      event.preventDefault();
      this.step(1);
    } else if (key === "ArrowUp" || key === "PageUp" || key === "k") {
      event.preventDefault();
      this.step(-1);
    } else if (key === " " && !(target instanceof HTMLButtonElement) && !(target instanceof HTMLAnchorElement)) {
      event.preventDefault();
      this.active?.togglePause();
    } else if (key === "m") {
      playback.toggleMuted();
    } else if (key === "l") {
      this.active?.toggleLike();
    } else if (key === "c") {
      this.active?.openComments();
    }
  }

  showMuteState(muted) {
    this.muteButton.querySelector("svg").replaceWith(icon(muted ? "muted" : "volume", { size: 20 }));
    this.muteButton.setAttribute("aria-label", muted ? "Unmute" : "Mute");
    this.muteButton.setAttribute("aria-pressed", String(!muted));
    this.muteButton.classList.toggle("is-muted", muted);
  }

  // After "not interested": drop the slide (and, for a creator or sound, their other upcoming slides).
  dismiss(slide, kind) {
    const matches = (other) => other === slide
      || (kind === "creator" && other.item.creator?.id === slide.item.creator?.id)
      || (kind === "sound" && slide.item.sound && other.item.sound?.id === slide.item.sound.id);
    const activeIndex = this.slides.indexOf(this.active);
    const doomed = this.slides.filter((other, index) => matches(other) && (other === slide || index > activeIndex));
    for (const other of doomed) {
      this.observer.unobserve(other.el);
      this.ratios.delete(other);
      if (other === this.active) this.active = null;
      other.el.classList.add("leaving");
    }
    setTimeout(() => {
      for (const other of doomed) {
        other.destroy();
        this.slides.splice(this.slides.indexOf(other), 1);
      }
      if (!this.active && this.slides.length) {
        const next = this.slides[Math.min(Math.max(activeIndex, 0), this.slides.length - 1)];
        next.el.scrollIntoView({ block: "start" });
        this.setActive(next);
      }
      if (this.slides.length - Math.max(activeIndex, 0) <= LOAD_MORE_WITHIN) this.loadMore();
    }, 220);
  }

  destroy() {
    if (this.destroyed) return;
    this.active?.deactivate();
    this.destroyed = true;
    this.observer.disconnect();
    this.resizeObserver.disconnect();
    clearInterval(this.progressTimer);
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("visibilitychange", this.onVisibility);
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    for (const slide of this.slides) slide.destroy();
    this.slides = [];
    this.el.remove();
    tracker.flush();
  }
}

function smoothScroll() {
  return matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
}

function skeletonSlide() {
  return h("div", { class: "slide slide-skeleton", "aria-hidden": "true" },
    h("div", { class: "skeleton-spinner" }, h("span", { class: "spinner" })),
    h("div", { class: "skeleton-rail" }, h("span", { class: "sk sk-circle" }), h("span", { class: "sk sk-circle" }),
      h("span", { class: "sk sk-circle" }), h("span", { class: "sk sk-circle" })),
    h("div", { class: "skeleton-meta" }, h("span", { class: "sk sk-line short" }), h("span", { class: "sk sk-line" }),
      h("span", { class: "sk sk-line mid" })));
}
