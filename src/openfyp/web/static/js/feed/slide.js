// One full-screen video in a feed: the player, the caption overlay and the action rail.

import { avatar, formatCount, h, icon, richText, setIcon, timeAgo } from "../dom.js";
import { isMe, requireSignIn, session } from "../session.js";
import { toast, toastError } from "../toast.js";
import {
  absoluteShareUrl, announceFollow, copyText, onFollowChange, recordShare, setFollowing, setLiked, setSaved,
} from "./actions.js";
import { openComments } from "./comments.js";
import { openVideoMenu } from "./menu.js";
import { playback } from "./playback.js";
import { WatchSession } from "./watch.js";

const HOLD_MS = 380;
// A video fills the screen (cropping) when that hides at most this share of it; otherwise it is
// letterboxed over a blurred copy of its poster.
const MAX_COVER_CROP = 0.16;

export class Slide {
  constructor(item, feed) {
    this.item = item;
    this.feed = feed;
    this.attached = false;
    this.active = false;
    this.userPaused = false;
    this.session = null;
    this.impressed = false;
    this.cleanups = [];
    this.build();
  }

  get creator() {
    return this.item.creator || { username: "unknown", display_name: "Unknown" };
  }

  build() {
    const item = this.item;
    const video = h("video", {
      class: "slide-video", playsinline: true, muted: true, loop: true, preload: "none",
      disablepictureinpicture: true, "aria-label": `Video by @${this.creator.username}`,
    });
    video.muted = true;
    video.playsInline = true;
    video.loop = true;
    if (item.poster_url) video.poster = item.poster_url;
    this.video = video;

    this.flashIcon = icon("volume", { size: 44 });
    this.flash = h("div", { class: "flash", "aria-hidden": "true" }, this.flashIcon);
    this.buffering = h("div", { class: "buffering", "aria-hidden": "true" }, h("span", { class: "spinner" }));
    this.errorBox = h("div", { class: "slide-error", hidden: true },
      icon("alert", { size: 28 }), h("p", null, "This video can't be played right now."),
      h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => this.retry() }, "Try again"));
    this.stage = h("div", { class: "stage" }, video,
      h("div", { class: "paused-indicator", "aria-hidden": "true" }, icon("play", { size: 64 })),
      this.flash, this.buffering, this.errorBox);
    this.progressFill = h("div", { class: "progress-fill" });

    this.el = h("article", {
      class: "slide", "aria-roledescription": "video", dataset: { videoId: String(item.id) },
      "aria-label": `Video by @${this.creator.username}${item.caption ? `: ${item.caption.slice(0, 80)}` : ""}`,
    },
    this.stage,
    h("div", { class: "scrim scrim-top", "aria-hidden": "true" }),
    h("div", { class: "scrim scrim-bottom", "aria-hidden": "true" }),
    this.buildMeta(),
    this.buildRail(),
    h("div", { class: "progress", "aria-hidden": "true" }, this.progressFill));

    this.bindStage();
    this.bindVideo();
    this.cleanups.push(playback.onChange((muted) => {
      video.muted = muted;
    }));
    this.cleanups.push(onFollowChange((username, following) => {
      if (username === this.creator.username) this.showFollowing(following);
    }));
  }

  buildMeta() {
    const item = this.item;
    const creator = this.creator;
    this.caption = h("p", { class: "meta-caption" }, richText(item.caption || ""));
    this.moreButton = h("button", {
      type: "button", class: "meta-more", hidden: true, "aria-expanded": "false",
      onclick: () => this.toggleCaption(),
    }, "more");
    const sound = item.sound
      ? h("a", { class: "meta-sound", href: `/sound/${item.sound.id}`, "aria-label": `Sound: ${item.sound.title}` },
        icon("music", { size: 15 }),
        h("span", { class: "ticker" }, h("span", { class: "ticker-inner" },
          h("span", null, item.sound.title), h("span", { "aria-hidden": "true" }, item.sound.title))))
      : null;
    return h("div", { class: "meta" },
      h("div", { class: "meta-line" },
        h("a", { class: "meta-creator", href: `/@${creator.username}` },
          h("span", { class: "meta-name" }, creator.display_name || creator.username),
          h("span", { class: "meta-handle" }, `@${creator.username}`)),
        item.created_at ? h("span", { class: "meta-time" }, `· ${timeAgo(item.created_at)}`) : null),
      h("div", { class: "meta-caption-wrap" }, this.caption, this.moreButton),
      sound);
  }

  buildRail() {
    const item = this.item;
    const stats = item.stats || {};
    const viewer = item.viewer || {};
    const creator = this.creator;

    this.followBadge = h("button", {
      type: "button", class: "follow-badge", "aria-label": `Follow @${creator.username}`,
      onclick: () => this.follow(),
    }, icon("plus", { size: 14 }));
    if (isMe(creator.username) || viewer.following) this.followBadge.hidden = true;

    this.likeButton = this.railButton("heart", "Like", stats.likes, () => this.toggleLike());
    this.commentButton = this.railButton("comment", "Comments", stats.comments, () => this.openComments());
    this.saveButton = this.railButton("bookmark", "Save", stats.saves, () => this.toggleSave());
    this.shareButton = this.railButton("share", "Share", stats.shares, () => this.share());
    const moreButton = this.railButton("more", "More options", null, () => openVideoMenu(this));
    this.setPressed(this.likeButton, !!viewer.liked);
    this.setPressed(this.saveButton, !!viewer.saved);

    const disc = item.sound
      ? h("a", { class: "rail-disc", href: `/sound/${item.sound.id}`, "aria-label": `Videos with ${item.sound.title}` },
        avatar(creator, 26))
      : null;
    return h("div", { class: "rail" },
      h("div", { class: "rail-avatar" },
        h("a", { href: `/@${creator.username}`, "aria-label": `Profile of @${creator.username}` }, avatar(creator, 48)),
        this.followBadge),
      this.likeButton, this.commentButton, this.saveButton, this.shareButton, moreButton, disc);
  }

  railButton(iconName, label, count, onclick) {
    const countEl = count === null ? null : h("span", { class: "rail-count" }, formatCount(count));
    const button = h("button", {
      type: "button", class: `rail-btn rail-${iconName}`, "aria-label": label, onclick,
    }, h("span", { class: "rail-icon" }, icon(iconName, { size: 32, filled: iconName !== "more" })), countEl);
    button.countEl = countEl;
    button.count = Number(count) || 0;
    return button;
  }

  setPressed(button, pressed) {
    button.setAttribute("aria-pressed", String(pressed));
    button.classList.toggle("on", pressed);
  }

  bump(button, delta) {
    button.count = Math.max(0, button.count + delta);
    if (button.countEl) button.countEl.textContent = formatCount(button.count);
  }

  pop(button) {
    button.classList.remove("pop");
    void button.offsetWidth;
    button.classList.add("pop");
  }

  // ---- the player ----------------------------------------------------------------------------

  bindStage() {
    let holdTimer = null;
    let holding = false;
    let downId = null;
    const stage = this.stage;
    stage.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || event.target.closest("button")) return;
      downId = event.pointerId;
      holding = false;
      holdTimer = setTimeout(() => {
        holding = true;
        this.el.classList.add("holding");
        this.video.pause();
      }, HOLD_MS);
    });
    const release = (cancelled) => (event) => {
      if (event.pointerId !== downId) return;
      downId = null;
      clearTimeout(holdTimer);
      if (holding) {
        holding = false;
        this.el.classList.remove("holding");
        if (!this.userPaused && this.active) this.play();
      } else if (!cancelled) {
        this.tap();
      }
    };
    stage.addEventListener("pointerup", release(false));
    stage.addEventListener("pointercancel", release(true));
    stage.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  bindVideo() {
    const video = this.video;
    let bufferTimer = null;
    video.addEventListener("waiting", () => {
      clearTimeout(bufferTimer);
      bufferTimer = setTimeout(() => this.el.classList.add("is-buffering"), 350);
    });
    const settled = () => {
      clearTimeout(bufferTimer);
      this.el.classList.remove("is-buffering");
    };
    video.addEventListener("playing", settled);
    video.addEventListener("canplay", settled);
    video.addEventListener("pause", settled);
    video.addEventListener("error", () => {
      if (!this.attached) return;
      settled();
      this.errorBox.hidden = false;
    });
    video.addEventListener("timeupdate", () => this.drawProgress());
  }

  drawProgress() {
    const duration = this.video.duration;
    const ratio = Number.isFinite(duration) && duration > 0 ? this.video.currentTime / duration : 0;
    this.progressFill.style.transform = `scaleX(${Math.min(1, ratio)})`;
  }

  tap() {
    if (!this.active) return;
    if (playback.muted) {
      playback.setMuted(false);
      this.flashWith("volume");
      if (this.video.paused && !this.userPaused) this.play();
      return;
    }
    this.togglePause();
  }

  togglePause() {
    if (this.video.paused) {
      this.userPaused = false;
      this.el.classList.remove("paused");
      this.play();
      this.flashWith("play");
    } else {
      this.userPaused = true;
      this.el.classList.add("paused");
      this.video.pause();
      this.flashWith("pause");
    }
  }

  flashWith(iconName) {
    setIcon(this.flashIcon, iconName);
    this.flash.classList.remove("show");
    void this.flash.offsetWidth;
    this.flash.classList.add("show");
  }

  attach(preload) {
    const item = this.item;
    if (!item.video_url) return;
    if (!this.attached) {
      this.video.src = item.video_url;
      this.attached = true;
    }
    this.video.preload = preload;
  }

  detach() {
    if (!this.attached) return;
    this.attached = false;
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.preload = "none";
    this.video.load();
  }

  play() {
    const video = this.video;
    video.muted = playback.muted;
    const attempt = video.play();
    if (!attempt) return;
    attempt.catch((err) => {
      if (err?.name === "NotAllowedError" && !video.muted) {
        // The browser wants a gesture before sound; play muted and let a tap bring the sound back.
        playback.setMuted(true);
        video.muted = true;
        video.play().catch(() => {});
      }
    });
  }

  retry() {
    this.errorBox.hidden = true;
    this.detach();
    this.attach("auto");
    if (this.active) this.play();
  }

  activate() {
    if (this.active) return;
    this.active = true;
    this.el.classList.add("active");
    this.attach("auto");
    this.userPaused = false;
    this.el.classList.remove("paused");
    this.session = new WatchSession(this.item, this.video);
    this.play();
    this.measureCaption();
  }

  deactivate() {
    if (!this.active) return;
    this.active = false;
    this.el.classList.remove("active", "paused", "holding");
    this.session?.end();
    this.session = null;
    this.video.pause();
    if (this.attached && this.video.readyState > 0) this.video.currentTime = 0;
    this.drawProgress();
  }

  // Fill the screen when little would be cropped; letterbox over a blurred poster otherwise.
  fit(width, height) {
    const videoAspect = this.item.width && this.item.height ? this.item.width / this.item.height : 9 / 16;
    const boxAspect = width / height;
    const crop = videoAspect > boxAspect ? 1 - boxAspect / videoAspect : 1 - videoAspect / boxAspect;
    const cover = crop <= MAX_COVER_CROP;
    this.stage.classList.toggle("cover", cover);
    if (!cover && !this.backdrop && this.item.poster_url) {
      this.backdrop = h("img", { class: "backdrop", src: this.item.poster_url, alt: "", "aria-hidden": "true" });
      this.stage.prepend(this.backdrop);
    }
  }

  measureCaption() {
    if (this.captionMeasured) return;
    this.captionMeasured = true;
    requestAnimationFrame(() => {
      this.moreButton.hidden = this.caption.scrollHeight <= this.caption.clientHeight + 1;
    });
  }

  toggleCaption() {
    const expanded = this.el.classList.toggle("caption-open");
    this.moreButton.textContent = expanded ? "less" : "more";
    this.moreButton.setAttribute("aria-expanded", String(expanded));
  }

  // ---- actions -------------------------------------------------------------------------------

  async toggleLike() {
    if (!requireSignIn("Sign in to like videos and help your For You feed learn what you enjoy.")) return;
    const liked = this.likeButton.getAttribute("aria-pressed") !== "true";
    this.setPressed(this.likeButton, liked);
    this.bump(this.likeButton, liked ? 1 : -1);
    if (liked) this.pop(this.likeButton);
    try {
      await setLiked(this.item, liked);
      if (this.item.viewer) this.item.viewer.liked = liked;
    } catch (err) {
      this.setPressed(this.likeButton, !liked);
      this.bump(this.likeButton, liked ? -1 : 1);
      toastError(err);
    }
  }

  async toggleSave() {
    if (!requireSignIn("Sign in to save videos for later.")) return;
    const saved = this.saveButton.getAttribute("aria-pressed") !== "true";
    this.setPressed(this.saveButton, saved);
    this.bump(this.saveButton, saved ? 1 : -1);
    if (saved) this.pop(this.saveButton);
    try {
      await setSaved(this.item, saved);
      toast(saved ? "Saved to your collection" : "Removed from saved", { kind: "success" });
    } catch (err) {
      this.setPressed(this.saveButton, !saved);
      this.bump(this.saveButton, saved ? -1 : 1);
      toastError(err);
    }
  }

  async share() {
    const url = absoluteShareUrl(this.item);
    const copied = await copyText(url);
    toast(copied ? "Link copied" : url, { kind: copied ? "success" : "info" });
    if (!session.user) return;
    try {
      await recordShare(this.item);
      this.bump(this.shareButton, 1);
    } catch (err) {
      toastError(err);
    }
  }

  async follow() {
    const username = this.creator.username;
    if (!requireSignIn(`Sign in to follow @${username} and see their videos in Following.`)) return;
    this.showFollowing(true);
    try {
      await setFollowing(username, true, this.item);
      announceFollow(username, true);
      toast(`Following @${username}`, { kind: "success" });
    } catch (err) {
      this.showFollowing(false);
      toastError(err);
    }
  }

  showFollowing(following) {
    if (this.item.viewer) this.item.viewer.following = following;
    if (following) {
      this.followBadge.classList.add("done");
      setTimeout(() => {
        this.followBadge.hidden = true;
      }, 600);
    } else if (!isMe(this.creator.username)) {
      this.followBadge.classList.remove("done");
      this.followBadge.hidden = false;
    }
  }

  openComments() {
    openComments(this.item, {
      onCountChange: (delta) => this.bump(this.commentButton, delta),
      count: this.commentButton.count,
    });
  }

  destroy() {
    this.deactivate();
    this.detach();
    for (const cleanup of this.cleanups) cleanup();
    this.el.remove();
  }
}
