// A full-screen player over a grid (profile, hashtag, sound, search): the same feed, starting at the
// tapped video, closed by its back button or the browser's back.

import { h, icon } from "../dom.js";
import { Feed } from "./feed.js";

let current = null;

export function closePlayer({ viaHistory = false } = {}) {
  if (!current) return;
  const { layer, feed, onPop, marker } = current;
  current = null;
  window.removeEventListener("popstate", onPop);
  feed.destroy();
  layer.classList.remove("show");
  setTimeout(() => layer.remove(), 200);
  if (!viaHistory && history.state?.player === marker) history.back();
}

export function playerOpen() {
  return !!current;
}

/**
 * @param {object} options
 * @param {object[]} options.items videos already annotated with source and position
 * @param {number} options.index the tapped one
 * @param {(cursor: string|null) => Promise<object>} [options.load] fetches more after the last
 * @param {string|null} [options.cursor]
 * @param {string} [options.title]
 */
export function openPlayer({ items, index = 0, load = null, cursor = null, title = "Videos" }) {
  closePlayer({ viaHistory: true });
  const marker = `${Date.now()}-${Math.random()}`;
  const feed = new Feed({ items, startIndex: index, load: cursor ? load : null, cursor, label: title, endCard: false });
  const back = h("button", { type: "button", class: "icon-btn player-back", "aria-label": "Close player",
    onclick: () => closePlayer() }, icon("back", { size: 26 }));
  const layer = h("div", { class: "player-layer", role: "dialog", "aria-label": title }, feed.el,
    h("div", { class: "player-top" }, back, h("span", { class: "player-title" }, title)));
  document.getElementById("app").append(layer);
  const onPop = () => {
    if (history.state?.player !== marker) closePlayer({ viaHistory: true });
  };
  history.pushState({ ...(history.state || {}), player: marker }, "", location.href);
  window.addEventListener("popstate", onPop);
  current = { layer, feed, onPop, marker };
  requestAnimationFrame(() => layer.classList.add("show"));
  feed.start();
  back.focus({ preventScroll: true });
}
