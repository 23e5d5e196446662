// The home screen: the For You and Following feeds under two tabs.

import { get } from "../api.js";
import { emptyState, h, icon, linkButton } from "../dom.js";
import { Feed } from "../feed/feed.js";
import { session } from "../session.js";
import { setTitle } from "./common.js";

const PAGE_SIZE = 8;

function annotate(page, source) {
  return {
    ...page,
    items: (page.items || []).map((item, index) => ({
      ...item,
      source,
      request_id: item.request_id || page.request_id || null,
      position: Number.isInteger(item.position) ? item.position : index,
    })),
  };
}

export async function render({ root, options, signal }) {
  const which = options.feed === "following" ? "following" : "foryou";
  setTitle(which === "following" ? "Following" : null);
  const tabs = h("nav", { class: "feed-tabs", "aria-label": "Feeds" },
    h("a", { href: "/following", class: ["feed-tab", which === "following" && "active"],
      "aria-current": which === "following" ? "page" : null }, "Following"),
    h("a", { href: "/", class: ["feed-tab", which === "foryou" && "active"],
      "aria-current": which === "foryou" ? "page" : null }, "For You"));
  const header = h("header", { class: "feed-header" },
    h("span", { class: "feed-header-side" }),
    tabs,
    h("a", { href: "/search", class: "icon-btn feed-header-side", "aria-label": "Search" }, icon("search", { size: 24 })));

  if (which === "following" && !session.user) {
    root.append(h("div", { class: "home" }, header, h("div", { class: "page-center home-empty" }, emptyState({
      iconName: "user", title: "See videos from creators you follow",
      body: "Sign in and follow creators; their newest videos collect here.",
      action: h("div", { class: "stack" }, linkButton("Sign up", "/signup?next=/following"),
        linkButton("Log in", "/login?next=/following", { variant: "secondary" })),
    }))));
    return null;
  }

  const feed = new Feed({
    label: which === "following" ? "Following feed" : "For You feed",
    load: async (cursor) => annotate(await get(`/api/feed/${which}`, { cursor, limit: PAGE_SIZE }, { signal }), which),
    empty: () => which === "following"
      ? emptyState({ iconName: "user", title: "No videos from people you follow yet",
        body: "Follow creators from their videos or profiles, and their posts land here.",
        action: linkButton("Find creators", "/search", { variant: "secondary", iconName: "search" }) })
      : session.user
        // For You never repeats a video, so an empty page usually means everything was already watched.
        ? emptyState({ iconName: "check", title: "You're all caught up",
          body: "You've seen every video we have for you right now. New ones arrive as creators post.",
          action: h("div", { class: "stack" }, linkButton("Discover more", "/search", { variant: "secondary", iconName: "search" }),
            linkButton("Post a video", "/upload", { iconName: "upload" })) })
        : emptyState({ iconName: "film", title: "No videos yet",
          body: "Be the first: post a short video and it will show up here.",
          action: linkButton("Upload a video", "/upload", { iconName: "upload" }) }),
  });
  root.append(h("div", { class: "home" }, header, feed.el));
  feed.start();
  return () => feed.destroy();
}
