// Upload: pick a file, write a caption, watch the bytes go up, then watch the server process it.

import { get, uploadWithProgress } from "../api.js";
import { button, clear, emptyState, h, hashtagsIn, icon, linkButton } from "../dom.js";
import { session } from "../session.js";
import { pageHeader, setTitle } from "./common.js";

const MAX_CAPTION = 2200;
const POLL_MS = 1500;

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

function formatBytes(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

// The caption box shows #hashtags in colour: a mirror element behind a transparent textarea holds the
// same text with the tags wrapped, so the caret and selection stay native.
function captionEditor() {
  const mirror = h("div", { class: "caption-mirror", "aria-hidden": "true" });
  const area = h("textarea", {
    id: "caption", class: "caption-input", maxlength: String(MAX_CAPTION), rows: "4",
    placeholder: "Describe your video. Add #hashtags so people can find it.",
  });
  const counter = h("span", { class: "caption-count" }, `0/${MAX_CAPTION}`);
  const tags = h("div", { class: "caption-tags", "aria-live": "polite" });
  const redraw = () => {
    const text = area.value;
    const parts = [];
    let last = 0;
    for (const m of text.matchAll(/#[\p{L}\p{N}_]+/gu)) {
      parts.push(text.slice(last, m.index), h("mark", null, m[0]));
      last = m.index + m[0].length;
    }
    parts.push(text.slice(last) + "\n");
    mirror.replaceChildren(...parts.filter((p) => p !== "").map((p) => (typeof p === "string" ? document.createTextNode(p) : p)));
    mirror.scrollTop = area.scrollTop;
    counter.textContent = `${text.length}/${MAX_CAPTION}`;
    const names = [...new Set(hashtagsIn(text))];
    tags.replaceChildren(...names.slice(0, 12).map((n) => h("span", { class: "chip chip-tag" }, `#${n}`)));
  };
  area.addEventListener("input", redraw);
  area.addEventListener("scroll", () => {
    mirror.scrollTop = area.scrollTop;
  });
  const el = h("div", { class: "field" },
    h("label", { for: "caption", class: "label" }, "Caption"),
    h("div", { class: "caption-box" }, mirror, area),
    h("div", { class: "caption-foot" }, tags, counter));
  return { el, area };
}

export async function render({ root, signal }) {
  setTitle("Upload");
  const page = h("div", { class: "page upload-page" }, pageHeader("Upload video"));
  root.append(page);
  if (!session.user) {
    page.append(h("div", { class: "page-center" }, emptyState({
      iconName: "upload", title: "Sign in to post videos",
      body: "Share short videos with everyone on openfyp.",
      action: h("div", { class: "stack" }, linkButton("Sign up", "/signup?next=/upload"),
        linkButton("Log in", "/login?next=/upload", { variant: "secondary" })),
    })));
    return null;
  }

  const body = h("div", { class: "upload-body" });
  page.append(body);
  let objectUrl = null;
  let pollTimer = null;
  let activeUpload = null;

  function reset() {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = null;
    clearTimeout(pollTimer);
    showPicker();
  }

  function showPicker() {
    const input = h("input", { type: "file", id: "upload-file", accept: "video/mp4,video/quicktime,video/webm,video/*", class: "visually-hidden" });
    const zone = h("label", { for: "upload-file", class: "dropzone" },
      h("span", { class: "dropzone-icon" }, icon("upload", { size: 34 })),
      h("span", { class: "dropzone-title" }, "Select a video to upload"),
      h("span", { class: "dropzone-hint" }, "MP4, MOV or WebM · vertical looks best · up to 10 minutes"),
      h("span", { class: "btn btn-primary dropzone-btn" }, "Choose file"));
    input.addEventListener("change", () => input.files[0] && showDetails(input.files[0]));
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      const file = event.dataTransfer?.files?.[0];
      if (file) showDetails(file);
    });
    clear(body).append(input, zone);
  }

  function showDetails(file) {
    objectUrl = URL.createObjectURL(file);
    const preview = h("video", { class: "upload-preview", src: objectUrl, muted: true, loop: true, autoplay: true,
      playsinline: true, "aria-label": "Preview of the chosen video" });
    preview.muted = true;
    const caption = captionEditor();
    const visibility = h("select", { id: "visibility", class: "input" },
      h("option", { value: "public" }, "Everyone"),
      h("option", { value: "followers" }, "Followers"),
      h("option", { value: "private" }, "Only me"));
    const error = h("p", { class: "form-error", role: "alert" });
    const post = h("button", { type: "submit", class: "btn btn-primary btn-block btn-large" }, icon("upload", { size: 18 }), "Post");
    const form = h("form", { class: "upload-form" },
      h("div", { class: "upload-file-row" },
        h("div", { class: "upload-preview-wrap" }, preview),
        h("div", { class: "upload-file-info" },
          h("p", { class: "upload-file-name" }, file.name),
          h("p", { class: "muted" }, formatBytes(file.size)),
          button("Change", { variant: "secondary", extraClass: "btn-small", onclick: reset }))),
      caption.el,
      h("div", { class: "field" }, h("label", { for: "visibility", class: "label" }, "Who can watch"), visibility),
      error, post);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData();
      data.append("caption", caption.area.value.trim());
      data.append("visibility", visibility.value);
      data.append("file", file, file.name);
      startUpload(data, file);
    });
    clear(body).append(form);
    caption.area.focus({ preventScroll: true });
  }

  function startUpload(data, file) {
    const bar = h("div", { class: "progress-bar-fill" });
    const percent = h("span", { class: "upload-percent" }, "0%");
    const detail = h("span", { class: "muted" }, `0 of ${formatBytes(file.size)}`);
    const status = h("div", { class: "upload-status" },
      h("div", { class: "upload-status-head" }, h("strong", null, "Uploading…"), percent),
      h("div", { class: "progress-bar", role: "progressbar", "aria-label": "Upload progress", "aria-valuemin": "0",
        "aria-valuemax": "100", "aria-valuenow": "0" }, bar),
      detail,
      button("Cancel", { variant: "ghost", onclick: () => activeUpload?.abort() }));
    clear(body).append(h("div", { class: "upload-stage" }, uploadPoster(), status));
    activeUpload = uploadWithProgress("/api/videos", data, (loaded, total) => {
      const pct = Math.min(100, Math.round((loaded / total) * 100));
      bar.style.width = `${pct}%`;
      percent.textContent = `${pct}%`;
      status.querySelector(".progress-bar").setAttribute("aria-valuenow", String(pct));
      detail.textContent = `${formatBytes(loaded)} of ${formatBytes(total)}`;
    });
    activeUpload.promise.then((accepted) => {
      activeUpload = null;
      showProcessing(accepted.id);
    }, (err) => {
      activeUpload = null;
      showFailure({ code: err.code, reason: err.message }, null, err.code === "aborted");
    });
  }

  function uploadPoster() {
    return objectUrl ? h("video", { class: "upload-preview large", src: objectUrl, muted: true, loop: true, autoplay: true,
      playsinline: true, "aria-hidden": "true" }) : null;
  }

  function showProcessing(videoId) {
    const stage = h("div", { class: "upload-stage" }, uploadPoster(),
      h("div", { class: "upload-status" },
        h("div", { class: "upload-status-head" }, h("strong", null, "Processing…"), h("span", { class: "spinner small" })),
        h("p", { class: "muted" }, "Uploaded. We're preparing your video for every screen; this usually takes a few seconds."),
        h("div", { class: "progress-bar indeterminate" }, h("div", { class: "progress-bar-fill" }))));
    clear(body).append(stage);
    const poll = async () => {
      if (signal.aborted) return;
      try {
        const video = await get(`/api/videos/${videoId}`, null, { signal });
        if (video.status === "ready") return showReady(video);
        if (video.status === "failed") return showFailure(video.failure || {}, video);
      } catch (err) {
        if (err.name === "AbortError") return;
        if (err.status && err.status < 500) return showFailure({ code: err.code, reason: err.message });
      }
      pollTimer = setTimeout(poll, POLL_MS);
    };
    pollTimer = setTimeout(poll, 600);
  }

  function showReady(video) {
    clear(body).append(h("div", { class: "upload-stage done" },
      video.poster_url ? h("img", { class: "upload-preview large", src: video.poster_url, alt: "" }) : null,
      h("div", { class: "upload-status" },
        h("div", { class: "upload-status-head" }, h("strong", null, "Your video is live"), icon("check", { size: 22 })),
        video.hashtags?.length ? h("div", { class: "caption-tags" }, video.hashtags.map((t) => h("a", { class: "chip chip-tag", href: `/tag/${t}` }, `#${t}`))) : null,
        h("div", { class: "stack" },
          linkButton("View video", `/v/${video.id}`, { iconName: "play" }),
          button("Upload another", { variant: "secondary", onclick: reset }),
          linkButton("See it in Studio", `/studio/${video.id}`, { variant: "ghost", iconName: "chart" })))));
  }

  function showFailure(failure, video = null, cancelled = false) {
    clear(body).append(h("div", { class: "upload-stage failed" },
      h("div", { class: "upload-status" },
        h("div", { class: "upload-status-head" }, h("strong", null, cancelled ? "Upload cancelled" : "This video couldn't be posted"),
          icon("alert", { size: 22 })),
        cancelled ? null : h("p", { class: "failure-reason" }, sentence(failure.reason) || "The server could not process this file."),
        failure.code && !cancelled ? h("p", { class: "muted small" }, `Error code: ${failure.code}`) : null,
        h("div", { class: "stack" },
          button("Try another file", { onclick: reset }),
          video ? linkButton("Go to your profile", `/@${session.user.username}`, { variant: "secondary" }) : null))));
  }

  showPicker();
  return () => {
    activeUpload?.abort();
    clearTimeout(pollTimer);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}
