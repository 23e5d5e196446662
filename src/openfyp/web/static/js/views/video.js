// A single video, as a share link opens it; For You continues underneath.

import { get } from "../api.js";
import { emptyState, h, icon, linkButton } from "../dom.js";
import { Feed } from "../feed/feed.js";
import { renderError, setTitle } from "./common.js";

export async function render({ root, params, signal }) {
  const id = Number(params[0]);
  let video;
  try {
    video = await get(`/api/videos/${id}`, null, { signal });
  } catch (err) {
    if (err.status === 404) {
      root.replaceChildren(h("div", { class: "page page-center" }, emptyState({
        iconName: "film", title: "Video unavailable",
        body: "It may have been deleted, made private, or it isn't available in your region.",
        action: linkButton("Watch For You", "/", { variant: "secondary" }),
      })));
      return null;
    }
    renderError(root, err);
    return null;
  }
  setTitle(`@${video.creator?.username || "video"}`);
  if (video.status !== "ready") {
    root.replaceChildren(h("div", { class: "page page-center" }, emptyState({
      iconName: video.status === "failed" ? "alert" : "clock",
      title: video.status === "failed" ? "This video couldn't be processed" : "Still processing",
      body: video.status === "failed" ? video.failure?.reason || "" : "Check back in a moment.",
      action: linkButton("Go to For You", "/", { variant: "secondary" }),
    })));
    return null;
  }
  const first = { ...video, source: "share", request_id: null, position: 0 };
  const feed = new Feed({
    label: "Shared video",
    items: [first],
    load: async (cursor) => {
      const page = await get("/api/feed/foryou", { cursor, limit: 8 }, { signal });
      return {
        ...page,
        items: (page.items || []).filter((item) => item.id !== video.id).map((item, index) => ({
          ...item, source: "foryou", request_id: item.request_id || page.request_id || null,
          position: Number.isInteger(item.position) ? item.position : index,
        })),
      };
    },
  });
  root.append(h("div", { class: "home" },
    h("header", { class: "feed-header" },
      h("a", { href: "/", class: "icon-btn feed-header-side", "aria-label": "Home" }, icon("back", { size: 24 })),
      h("span", { class: "feed-header-title" }, "For You"),
      h("a", { href: "/search", class: "icon-btn feed-header-side", "aria-label": "Search" }, icon("search", { size: 24 }))),
    feed.el));
  feed.start();
  return () => feed.destroy();
}
