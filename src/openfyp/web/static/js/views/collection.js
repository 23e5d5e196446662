// Hashtag and sound pages: a header about the tag or sound, then every video using it.

import { get } from "../api.js";
import { avatar, emptyState, formatCount, formatDuration, h, icon, linkButton } from "../dom.js";
import { VideoGrid, pageHeader, renderError, setTitle } from "./common.js";

export async function render({ root, params, options, signal }) {
  const isSound = options.kind === "sound";
  const key = isSound ? Number(params[0]) : params[0].toLowerCase().replace(/^#/, "");
  const path = isSound ? `/api/sounds/${key}` : `/api/hashtags/${encodeURIComponent(key)}`;
  const heading = isSound ? "Sound" : `#${key}`;
  setTitle(heading);
  const page = h("div", { class: "page collection-page" }, pageHeader(heading));
  root.append(page);

  let first;
  try {
    first = await get(path, { limit: 24 }, { signal });
  } catch (err) {
    if (err.status === 404) {
      page.append(h("div", { class: "page-center" }, emptyState({
        iconName: isSound ? "music" : "hash",
        title: isSound ? "Sound not found" : `No videos with #${key} yet`,
        body: isSound ? "It may have been removed." : "Use it in a caption and yours will be the first.",
        action: linkButton(isSound ? "Back to For You" : "Upload a video", isSound ? "/" : "/upload", { variant: "secondary" }),
      })));
      return null;
    }
    renderError(root, err);
    return null;
  }

  let pending = first;
  const grid = new VideoGrid({
    source: isSound ? "sound" : "hashtag",
    title: isSound ? first.sound?.title || "Sound" : `#${key}`,
    load: async (cursor) => {
      if (pending && !cursor) {
        const page0 = pending;
        pending = null;
        return page0;
      }
      return get(path, { cursor, limit: 24 }, { signal });
    },
    empty: () => emptyState({ iconName: "film", title: "No videos to show", body: "Check back later." }),
  });

  let audio = null;
  if (isSound) {
    const sound = first.sound || {};
    setTitle(sound.title || "Sound");
    const art = h("div", { class: "sound-art" }, h("div", { class: "sound-disc" }, avatar(sound.creator, 44)));
    let playButton = null;
    if (sound.audio_url) {
      audio = h("audio", { src: sound.audio_url, preload: "none" });
      playButton = h("button", { type: "button", class: "btn btn-secondary", "aria-pressed": "false" },
        icon("play", { size: 18, filled: true }), h("span", null, "Play sound"));
      playButton.addEventListener("click", () => (audio.paused ? audio.play() : audio.pause()));
      const sync = () => {
        const playing = !audio.paused;
        playButton.setAttribute("aria-pressed", String(playing));
        playButton.replaceChildren(icon(playing ? "pause" : "play", { size: 18, filled: true }),
          h("span", null, playing ? "Pause" : "Play sound"));
        art.classList.toggle("spinning", playing);
      };
      audio.addEventListener("play", sync);
      audio.addEventListener("pause", sync);
      audio.addEventListener("ended", sync);
    }
    page.append(h("section", { class: "collection-hero" }, art,
      h("div", { class: "collection-text" },
        h("h1", { class: "collection-title" }, sound.title || "Original sound"),
        sound.creator ? h("a", { class: "collection-sub", href: `/@${sound.creator.username}` }, `@${sound.creator.username}`) : null,
        h("p", { class: "collection-meta" },
          `${formatCount(sound.video_count ?? 0)} ${sound.video_count === 1 ? "video" : "videos"}`,
          sound.duration_s ? ` · ${formatDuration(sound.duration_s)}` : ""),
        h("div", { class: "collection-actions" }, playButton,
          sound.origin_video_id ? linkButton("Original video", `/v/${sound.origin_video_id}`, { variant: "ghost" }) : null)),
      audio));
  } else {
    const tag = first.hashtag || { name: key };
    page.append(h("section", { class: "collection-hero" },
      h("div", { class: "tag-art" }, icon("hash", { size: 44 })),
      h("div", { class: "collection-text" },
        h("h1", { class: "collection-title" }, `#${tag.name}`),
        h("p", { class: "collection-meta" },
          `${formatCount(tag.video_count ?? 0)} ${tag.video_count === 1 ? "video" : "videos"}`))));
  }
  page.append(grid.el);
  grid.start();
  return () => {
    grid.destroy();
    audio?.pause();
  };
}
