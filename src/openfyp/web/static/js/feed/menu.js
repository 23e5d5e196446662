// The "⋯" menu of a video: not interested (video, creator, sound), why this video, copy link.

import { get, post } from "../api.js";
import { h } from "../dom.js";
import { requireSignIn, session } from "../session.js";
import { openMenu, openSheet } from "../sheet.js";
import { toast, toastError } from "../toast.js";
import { absoluteShareUrl, copyText, notInterested } from "./actions.js";

const SOURCE_LABELS = {
  following: "A creator you follow",
  popular: "Popular in your region",
  popularity: "Popular in your region",
  trending: "Trending right now",
  fresh: "New, and getting its first viewers",
  new: "New, and getting its first viewers",
  recent: "New, and getting its first viewers",
  exploration: "Something new to explore",
  explore: "Something new to explore",
  collaborative: "Viewers with similar taste enjoyed it",
  ease: "Viewers with similar taste enjoyed it",
  als: "Viewers with similar taste enjoyed it",
  item2item: "Similar to videos you enjoyed",
  similar: "Similar to videos you enjoyed",
  content: "Similar to videos you enjoyed",
  embedding: "Close to your recent interests",
  hashtag: "Hashtags you watch",
  hashtags: "Hashtags you watch",
  sound: "A sound you like",
  creator: "A creator you watch",
  share: "Someone shared it with you",
  profile: "From a profile you opened",
  search: "From your search",
  nonpersonalised: "Popular in your region (personalisation is off)",
};

export function humanise(name) {
  const text = String(name || "").replace(/[_.:-]+/g, " ").trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "Other";
}

export function sourceLabel(source) {
  return SOURCE_LABELS[String(source).toLowerCase()] || humanise(source);
}

const SURFACE_REASONS = {
  profile: (item) => `You opened @${item.creator?.username}'s profile.`,
  hashtag: () => "You're browsing a hashtag.",
  sound: () => "You're browsing videos that use this sound.",
  search: () => "It matched your search.",
  share: () => "Someone shared a link to it.",
  following: (item) => `You follow @${item.creator?.username}.`,
};

export function openWhySheet(item) {
  const reason = item.reason;
  const content = [];
  if (reason) {
    content.push(h("p", { class: "why-summary" }, reason.summary || "Our recommender picked this for your For You feed."));
    const sources = reason.sources || [];
    if (sources.length) {
      content.push(h("h3", { class: "why-heading" }, "Where it came from"),
        h("ul", { class: "why-sources" }, sources.map((s) => h("li", { class: "chip" }, sourceLabel(s)))));
    }
    const contributions = (reason.contributions || []).filter((c) => Number.isFinite(Number(c.value)));
    if (contributions.length) {
      const largest = Math.max(...contributions.map((c) => Math.abs(Number(c.value)))) || 1;
      content.push(h("h3", { class: "why-heading" }, "What mattered most"),
        h("ul", { class: "why-bars" }, contributions.slice(0, 6).map((c) => {
          const value = Number(c.value);
          const width = `${Math.max(4, (Math.abs(value) / largest) * 100)}%`;
          return h("li", { class: ["why-bar", value < 0 && "negative"] },
            h("span", { class: "why-bar-name" }, humanise(c.name)),
            h("span", { class: "why-bar-track" }, h("span", { class: "why-bar-fill", style: { width } })),
            h("span", { class: "why-bar-value" }, `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`));
        })));
    }
  } else {
    const explain = SURFACE_REASONS[item.source];
    content.push(h("p", { class: "why-summary" }, explain ? explain(item) : "You opened this video directly."));
  }
  content.push(h("p", { class: "why-footer" },
    "Your For You feed learns from what you watch, like, share and skip. ",
    h("a", { href: "/settings" }, "Turn off personalisation or reset your feed"), "."));
  const audit = h("p", { class: "why-audit", hidden: true });
  content.push(audit);
  const sheet = openSheet({ title: "Why you're seeing this", className: "why-sheet", content });
  if (session.user && item.request_id) {
    // The reason as the server logged it when it served this video: the record an audit would see.
    get(`/api/me/why/${encodeURIComponent(item.request_id)}/${item.id}`).then((logged) => {
      const parts = [logged.personalised ? "Personalised" : "Not personalised"];
      if (logged.model_version) parts.push(`model ${logged.model_version}`);
      if (logged.config_version) parts.push(`config ${logged.config_version}`);
      parts.push(`served ${new Date(logged.served_at).toLocaleString()}`);
      audit.textContent = `Logged with this recommendation: ${parts.join(" · ")}`;
      audit.hidden = false;
    }).catch(() => {});
  }
  return sheet;
}

export function openVideoMenu(slide) {
  const item = slide.item;
  const creator = item.creator?.username;
  const dismiss = (kind, message) => async () => {
    if (!requireSignIn("Sign in to tune what your For You feed shows you.")) return;
    try {
      await notInterested(item, kind);
      toast(message, { kind: "success" });
      slide.feed?.dismiss(slide, kind);
    } catch (err) {
      toastError(err);
    }
  };
  openMenu({
    label: "Video options",
    items: [
      { icon: "hide", label: "Not interested", hint: "Show fewer videos like this", action: dismiss("video", "Got it. You'll see fewer videos like this.") },
      creator && { icon: "user", label: `Hide videos from @${creator}`, hint: "Their videos leave your For You feed",
        action: dismiss("creator", `You won't see @${creator} in For You.`) },
      item.sound && { icon: "music", label: "Hide videos with this sound", hint: item.sound.title,
        action: dismiss("sound", "Videos with this sound are hidden.") },
      { icon: "info", label: "Why this video", hint: "How it reached your feed", action: () => openWhySheet(item) },
      { icon: "alert", label: "Report", hint: "Tell moderators about a problem", danger: true,
        action: () => requireSignIn("Sign in to report videos.") && openReportSheet("video", item.id) },
      { icon: "link", label: "Copy link", action: async () => {
        const copied = await copyText(absoluteShareUrl(item));
        toast(copied ? "Link copied" : absoluteShareUrl(item), { kind: copied ? "success" : "info" });
      } },
    ],
  });
}


const REPORT_REASONS = [
  ["spam", "Spam or scam"],
  ["harassment", "Harassment or bullying"],
  ["hate", "Hate speech"],
  ["violence", "Violence or dangerous acts"],
  ["nudity", "Nudity or sexual content"],
  ["minor_safety", "Minor safety"],
  ["misinformation", "Misinformation"],
  ["copyright", "Copyright"],
];

export function openReportSheet(targetKind, targetId) {
  const details = h("textarea", { class: "input", rows: "2", maxlength: "2000", placeholder: "Anything else moderators should know (optional)",
    "aria-label": "Details" });
  const submit = h("button", { type: "submit", class: "btn btn-danger btn-block", disabled: true }, "Send report");
  const options = REPORT_REASONS.map(([value, label]) => h("label", { class: "radio-row" },
    h("input", { type: "radio", name: "report-reason", value, onchange: () => {
      submit.disabled = false;
    } }), h("span", null, label)));
  const sheet = openSheet({
    title: "Report", className: "form-sheet",
    content: h("form", {
      class: "sheet-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const reason = sheet.el.querySelector("input[name=report-reason]:checked")?.value;
        if (!reason) return;
        submit.disabled = true;
        try {
          await post("/api/reports", { target_kind: targetKind, target_id: targetId, reason, details: details.value.trim() });
          sheet.close();
          toast("Thanks. Our moderators will review it.", { kind: "success" });
        } catch (err) {
          submit.disabled = false;
          toastError(err);
        }
      },
    }, h("fieldset", { class: "radio-list" }, h("legend", { class: "label" }, "What's wrong?"), options), details, submit),
  });
}
