// Studio: a creator's numbers for the account and for each video, drawn with plain SVG and CSS.

import { get } from "../api.js";
import { button, emptyState, formatCount, formatDuration, h, icon, linkButton, spinner, timeAgo } from "../dom.js";
import { sourceLabel } from "../feed/menu.js";
import { session } from "../session.js";
import { pageHeader, renderError, setTitle } from "./common.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const METRICS = [
  { key: "views", label: "Views" },
  { key: "likes", label: "Likes" },
  { key: "comments", label: "Comments" },
  { key: "shares", label: "Shares" },
  { key: "follows", label: "New followers", accountOnly: true },
];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

function percent(value) {
  return `${Math.round((Number(value) || 0) * 1000) / 10}%`;
}

function seconds(value) {
  const s = Number(value) || 0;
  return s < 60 ? `${s.toFixed(1)}s` : formatDuration(s);
}

function kpi(label, value, hint = null) {
  return h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, label), h("strong", { class: "kpi-value" }, value),
    hint ? h("span", { class: "kpi-hint" }, hint) : null);
}

function shortDate(iso) {
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}

export function barChart(daily, key, label) {
  const width = 320;
  const height = 132;
  const top = 14;
  const bottom = 20;
  const values = daily.map((d) => Number(d[key]) || 0);
  const max = Math.max(1, ...values);
  const slot = width / Math.max(1, values.length);
  const barWidth = Math.max(2, slot * 0.68);
  const total = values.reduce((a, b) => a + b, 0);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bar-chart", role: "img",
    "aria-label": `${label} per day over ${values.length} days: ${total} in total, at most ${max} in a day` },
  svg("line", { x1: 0, x2: width, y1: height - bottom + 0.5, y2: height - bottom + 0.5, class: "axis" }),
  svg("line", { x1: 0, x2: width, y1: top, y2: top, class: "gridline" }),
  svg("text", { x: 0, y: top - 4, class: "axis-label" }, document.createTextNode(formatCount(max))),
  values.map((value, i) => {
    const barHeight = value ? Math.max(2, ((height - top - bottom) * value) / max) : 0;
    const rect = svg("rect", { x: i * slot + (slot - barWidth) / 2, y: height - bottom - barHeight, width: barWidth,
      height: barHeight, rx: Math.min(3, barWidth / 2), class: value ? "bar" : "bar empty" });
    rect.append(svg("title", {}, document.createTextNode(`${shortDate(daily[i].date)}: ${value}`)));
    return rect;
  }),
  daily.length ? svg("text", { x: 0, y: height - 4, class: "axis-label" }, document.createTextNode(shortDate(daily[0].date))) : null,
  daily.length ? svg("text", { x: width, y: height - 4, class: "axis-label", "text-anchor": "end" },
    document.createTextNode(shortDate(daily[daily.length - 1].date))) : null);
  return chart;
}

function chartCard(daily, { account }) {
  const metrics = METRICS.filter((m) => account || !m.accountOnly);
  let current = metrics[0];
  const holder = h("div", { class: "chart-holder" });
  const total = h("strong", { class: "chart-total" });
  const chips = h("div", { class: "chip-row chip-scroll", role: "tablist", "aria-label": "Metric" });
  const draw = () => {
    holder.replaceChildren(barChart(daily, current.key, current.label));
    total.textContent = formatCount(daily.reduce((sum, d) => sum + (Number(d[current.key]) || 0), 0));
    chips.replaceChildren(...metrics.map((m) => h("button", {
      type: "button", role: "tab", class: ["chip", m === current && "active"], "aria-selected": String(m === current),
      onclick: () => {
        current = m;
        draw();
      },
    }, m.label)));
  };
  draw();
  return h("section", { class: "card" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, "Daily activity"), total),
    chips, holder);
}

function trafficCard(sources) {
  const body = sources?.length
    ? h("ul", { class: "traffic" }, sources.map((s) => h("li", { class: "traffic-row" },
      h("div", { class: "traffic-head" }, h("span", null, trafficLabel(s.source)),
        h("span", { class: "muted" }, `${percent(s.share)} · ${formatCount(s.views)}`)),
      h("div", { class: "meter" }, h("span", { class: "meter-fill", style: { width: `${Math.max(2, (s.share || 0) * 100)}%` } })))))
    : h("p", { class: "muted" }, "No views yet. Sources appear once people watch.");
  return h("section", { class: "card" }, h("h2", { class: "card-title" }, "Traffic sources"), body);
}

// Staged exposure: a new video is shown to a first pool of viewers and climbs to larger pools while its
// completion and like rates beat the pool's typical video; the creator sees where it stands and why.
const POOL_STATUS = {
  active: (p) => `Being shown to its ${p.pool} pool: ${formatCount(p.views_in_pool)} of ${formatCount(p.pool_size)} views so far.`,
  graduated: () => "Beat every pool's typical video: it now competes in the main For You feed.",
  settled: () => "Did not beat this pool's typical video, so it stays at this reach. New viewers can still find it.",
};

function poolRate(label, value, typical) {
  const better = (Number(value) || 0) >= (Number(typical) || 0);
  return h("div", { class: "pool-rate" }, h("span", { class: "kpi-label" }, label),
    h("strong", { class: better ? "pool-ahead" : "pool-behind" }, percent(value)),
    h("span", { class: "kpi-hint" }, `typical ${percent(typical)}`));
}

export function poolCard(pool) {
  if (!pool) return null;
  const describe = POOL_STATUS[pool.status] || (() => "");
  const used = pool.status === "active" ? Math.min(1, (pool.views_in_pool || 0) / Math.max(1, pool.pool_size)) : 1;
  return h("section", { class: "card pool-card", "data-pool-status": pool.status },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, "Traffic pool"),
      h("span", { class: `pool-badge ${pool.status}` }, `${pool.pool} · ${pool.pool_index + 1} of ${pool.pools}`)),
    h("p", { class: "muted small" }, describe(pool)),
    h("div", { class: "meter" }, h("span", { class: "meter-fill", style: { width: `${Math.max(2, used * 100)}%` } })),
    h("div", { class: "pool-rates" }, poolRate("Completion", pool.completion_rate, pool.typical?.completion_rate),
      poolRate("Like rate", pool.like_rate, pool.typical?.like_rate)));
}

const TRAFFIC = { foryou: "For You", following: "Following", profile: "Your profile", search: "Search",
  hashtag: "Hashtag pages", sound: "Sound pages", share: "Shared links", other: "Other" };

function trafficLabel(source) {
  return TRAFFIC[source] || sourceLabel(source);
}

function kpis(data, { account }) {
  return h("section", { class: "kpis" },
    kpi("Views", formatCount(data.views)),
    kpi("Unique viewers", formatCount(data.unique_viewers)),
    kpi("Avg. watch time", seconds(data.avg_watch_seconds), `${formatCount(data.viewings)} ${data.viewings === 1 ? "viewing" : "viewings"}`),
    kpi("Completion rate", percent(data.completion_rate), "watched to the end"),
    kpi("Likes", formatCount(data.likes)),
    kpi("Comments", formatCount(data.comments)),
    kpi("Shares", formatCount(data.shares)),
    account ? kpi("Followers", formatCount(data.followers)) : kpi("Saves", formatCount(data.saves)));
}

function signedOut(root) {
  root.append(h("div", { class: "page" }, pageHeader("Studio", { back: false }), h("div", { class: "page-center" }, emptyState({
    iconName: "chart", title: "Your creator studio", body: "Sign in to see how your videos are doing: views, watch time and where viewers come from.",
    action: h("div", { class: "stack" }, linkButton("Log in", "/login?next=/studio"),
      linkButton("Sign up", "/signup?next=/studio", { variant: "secondary" })),
  }))));
}

export async function render({ root, params, signal }) {
  if (!session.user) {
    setTitle("Studio");
    signedOut(root);
    return null;
  }
  const videoId = params[0] ? Number(params[0]) : null;
  setTitle(videoId ? "Video analytics" : "Studio");
  const page = h("div", { class: "page studio-page" },
    pageHeader(videoId ? "Video analytics" : "Studio", { back: !!videoId }),
    h("div", { class: "page-center" }, spinner("Loading analytics")));
  root.append(page);
  try {
    if (videoId) await drawVideo(page, videoId, signal);
    else await drawAccount(page, signal);
  } catch (err) {
    if (err.name === "AbortError") return null;
    if (err.status === 404 || err.status === 403) {
      page.replaceChildren(pageHeader("Video analytics"), h("div", { class: "page-center" }, emptyState({
        iconName: "chart", title: "No analytics here", body: "You can only see analytics for your own videos.",
        action: linkButton("Back to Studio", "/studio", { variant: "secondary" }),
      })));
      return null;
    }
    renderError(root, err);
  }
  return null;
}

async function drawAccount(page, signal) {
  const data = await get("/api/analytics/me", null, { signal });
  const videos = data.top_videos || [];
  page.replaceChildren(pageHeader("Studio", { back: false, actions: [
    h("a", { href: `/@${session.user.username}`, class: "icon-btn", "aria-label": "Your profile" }, icon("user", { size: 22 }))] }),
  h("p", { class: "studio-period" }, `Last ${data.period_days || 30} days · ${formatCount(data.videos_count)} ${data.videos_count === 1 ? "video" : "videos"}`),
  kpis(data, { account: true }),
  chartCard(data.daily || [], { account: true }),
  trafficCard(data.traffic_sources),
  h("section", { class: "card" },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, "Your videos"),
      linkButton("Upload", "/upload", { variant: "ghost", iconName: "plus" })),
    videos.length ? h("ul", { class: "studio-videos" }, videos.map((v) => h("li", null,
      h("a", { class: "studio-video", href: `/studio/${v.id}` },
        h("span", { class: "studio-video-text" },
          h("span", { class: "studio-video-caption" }, v.caption || `Video ${v.id}`),
          h("span", { class: "muted small" }, v.status !== "ready" ? statusLabel(v.status) : timeAgo(v.created_at),
            v.traffic_pool ? h("span", { class: `pool-badge ${v.traffic_pool.status}` }, `${v.traffic_pool.pool} pool`) : null)),
        h("span", { class: "studio-video-stats" },
          h("span", null, icon("play", { size: 14, filled: true }), formatCount(v.views)),
          h("span", null, icon("heart", { size: 14, filled: true }), formatCount(v.likes))),
        icon("right", { size: 18 })))))
      : emptyState({ iconName: "upload", title: "No videos yet", body: "Post one and its numbers show up here." })));
}

function statusLabel(status) {
  return status === "processing" ? "Processing…" : status === "failed" ? "Failed" : status;
}

async function drawVideo(page, videoId, signal) {
  const [data, video] = await Promise.all([
    get(`/api/analytics/videos/${videoId}`, null, { signal }),
    get(`/api/videos/${videoId}`, null, { signal }).catch(() => null),
  ]);
  page.replaceChildren(pageHeader("Video analytics"),
    h("section", { class: "studio-hero" },
      video?.poster_url ? h("img", { class: "studio-poster", src: video.poster_url, alt: "" })
        : h("div", { class: "studio-poster tile-placeholder" }, icon("film", { size: 28 })),
      h("div", { class: "studio-hero-text" },
        h("p", { class: "studio-video-caption" }, video?.caption || `Video ${videoId}`),
        h("p", { class: "muted small" }, video ? `Posted ${timeAgo(video.created_at)} ago`.replace("now ago", "just now") : ""),
        video?.status === "ready" ? linkButton("Watch", `/v/${videoId}`, { variant: "secondary", iconName: "play", extraClass: "btn-small" })
          : h("span", { class: "tile-badge" }, statusLabel(data.status)))),
    h("p", { class: "studio-period" }, `Last ${data.period_days || 30} days`),
    kpis(data, { account: false }),
    poolCard(data.traffic_pool),
    chartCard(data.daily || [], { account: false }),
    trafficCard(data.traffic_sources),
    h("div", { class: "center" }, button("Back to Studio", { variant: "ghost", onclick: () => history.back() })));
}
