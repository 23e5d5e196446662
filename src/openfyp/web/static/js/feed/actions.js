// Explicit actions on a video or creator. They go through the REST endpoints (which log the matching
// events server-side), carrying where the video was seen so the event joins back to its feed request.

import { api, post } from "../api.js";

export function actionContext(item) {
  const context = {};
  if (item?.source) context.source = item.source;
  if (item?.request_id) context.request_id = item.request_id;
  if (Number.isInteger(item?.position)) context.position = item.position;
  return context;
}

// POST carries the origin in its JSON body; DELETE has no body, so there it rides in the query string.
function toggle(path, on, item) {
  const origin = actionContext(item);
  return on ? post(path, origin) : api(path, { method: "DELETE", query: origin });
}

export const setLiked = (item, liked) => toggle(`/api/videos/${item.id}/like`, liked, item);

export const setSaved = (item, saved) => toggle(`/api/videos/${item.id}/save`, saved, item);

export const recordShare = (item, channel = "copy") =>
  post(`/api/videos/${item.id}/share`, { channel, ...actionContext(item) });

export const setFollowing = (username, following, item = null) =>
  toggle(`/api/users/${encodeURIComponent(username)}/follow`, following, item);

export const notInterested = (item, targetKind) => {
  const targetId = targetKind === "creator" ? item.creator.id : targetKind === "sound" ? item.sound?.id : item.id;
  return post("/api/not-interested", {
    target_kind: targetKind, target_id: targetId, video_id: item.id, ...actionContext(item),
  });
};

// Everywhere a creator appears, their follow buttons agree: one change is broadcast to all of them.
const followListeners = new Set();

export function onFollowChange(listener) {
  followListeners.add(listener);
  return () => followListeners.delete(listener);
}

export function announceFollow(username, following) {
  for (const listener of followListeners) listener(username, following);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Plain-http deployments have no async clipboard; a selected textarea still copies.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

export function absoluteShareUrl(item) {
  const url = item.share_url || `/v/${item.id}`;
  return new URL(url, location.origin).href;
}
