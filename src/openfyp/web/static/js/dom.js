// Building DOM without innerHTML: every piece of user text goes in as a text node, so captions,
// names and comments can never inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, props = null, ...children) {
  const el = document.createElement(tag);
  if (props) applyProps(el, props);
  append(el, children);
  return el;
}

function applyProps(el, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key in el && !key.includes("-") && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Icons drawn for this app on a 24×24 grid; stroked unless `filled`.
const ICONS = {
  home: "M3.5 10.2 12 3.5l8.5 6.7V19a1.5 1.5 0 0 1-1.5 1.5h-4.2v-6h-5.6v6H5A1.5 1.5 0 0 1 3.5 19z",
  search: "M10.8 4a6.8 6.8 0 1 0 0 13.6a6.8 6.8 0 1 0 0-13.6zM15.8 15.8 20.5 20.5",
  plus: "M12 5v14M5 12h14",
  user: "M12 11.5a4 4 0 1 0 0-8a4 4 0 1 0 0 8zM4.5 20.5a7.5 7.5 0 0 1 15 0",
  chart: "M5 20V11M12 20V5M19 20v-6M3 20.5h18",
  heart: "M12 20.2s-7.4-4.5-9.1-9.2C1.6 7.5 3.7 4 7.2 4c2 0 3.6 1.1 4.8 2.8C13.2 5.1 14.8 4 16.8 4c3.5 0 5.6 3.5 4.3 7-1.7 4.7-9.1 9.2-9.1 9.2z",
  comment: "M20.5 11.4c0 4.2-3.8 7.6-8.5 7.6-1.3 0-2.5-.3-3.6-.7L3.6 20l1.5-3.9c-.9-1.3-1.6-2.9-1.6-4.7 0-4.2 3.8-7.6 8.5-7.6s8.5 3.4 8.5 7.6z",
  bookmark: "M6.5 3.5h11a1 1 0 0 1 1 1v16l-6.5-4.3-6.5 4.3v-16a1 1 0 0 1 1-1z",
  share: "M13.5 4.5 21 11.8l-7.5 7.2v-4.2c-5.2 0-8.6 1.4-11 4.9.9-5.6 4-10 11-11.1z",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  volume: "M3.5 9.2h3.8L12 5.3v13.4l-4.7-3.9H3.5zM15.8 8.6a4.8 4.8 0 0 1 0 6.8M18.4 6a8.5 8.5 0 0 1 0 12",
  muted: "M3.5 9.2h3.8L12 5.3v13.4l-4.7-3.9H3.5zM16 9.5l5 5M21 9.5l-5 5",
  play: "M7.5 4.9v14.2a.9.9 0 0 0 1.4.8l11-7.1a.9.9 0 0 0 0-1.6l-11-7.1a.9.9 0 0 0-1.4.8z",
  pause: "M6.5 4.5h3.5v15H6.5zM14 4.5h3.5v15H14z",
  music: "M9 17.5V5.5l10.5-2v12M9 17.5a2.8 2.8 0 1 1-5.6 0a2.8 2.8 0 1 1 5.6 0zM19.5 15.5a2.8 2.8 0 1 1-5.6 0a2.8 2.8 0 1 1 5.6 0z",
  check: "M5 12.5l4.5 4.5L19 7.5",
  close: "M6 6l12 12M18 6 6 18",
  send: "M3.5 11.5 20.5 4l-4.2 16.5-4.6-6.3zM11.7 14.2 20.5 4",
  back: "M15 5l-7 7 7 7",
  up: "M6 15l6-6 6 6",
  down: "M6 9l6 6 6-6",
  right: "M9 5l7 7-7 7",
  hide: "M3 3l18 18M10.6 6.1c.5-.1.9-.1 1.4-.1 5 0 8.5 4 9.5 6-.4.9-1.2 2-2.3 3.1M6.6 7.7C4.6 9 3.2 10.8 2.5 12c1 2 4.5 6 9.5 6 1.6 0 3-.4 4.3-1",
  info: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 11v5.5M12 7.6h.01",
  link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
  trash: "M4 7h16M9.5 7V4.5h5V7M6 7l1 13h10l1-13",
  upload: "M12 15.5V4M7 8.5l5-4.5 5 4.5M4 15v3.5A1.5 1.5 0 0 0 5.5 20h13a1.5 1.5 0 0 0 1.5-1.5V15",
  hash: "M5 9h15M4 15h15M10 3.5 8 20.5M16 3.5l-2 17",
  logout: "M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11",
  sliders: "M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1M15 4v4M9 10v4M17 16v4",
  eye: "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6z",
  disc: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 9.5a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5z",
  alert: "M12 3.5 2.5 20h19zM12 10v4.5M12 17.2h.01",
  clock: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3.5 2",
  lock: "M6 10.5h12a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-8.5a1 1 0 0 1 1-1zM8 10.5V7.5a4 4 0 0 1 8 0v3",
  edit: "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4",
  download: "M12 4v11.5M7 11l5 4.5 5-4.5M4 20h16",
  refresh: "M20 12a8 8 0 1 1-2.4-5.7M20 4v4.5h-4.5",
  globe: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM3 12h18M12 3c2.5 2.6 3.5 5.6 3.5 9s-1 6.4-3.5 9c-2.5-2.6-3.5-5.6-3.5-9s1-6.4 3.5-9z",
  film: "M4 4.5h16v15H4zM8 4.5v15M16 4.5v15M4 9h4M4 15h4M16 9h4M16 15h4",
};

export function icon(name, { filled = false, size = 24, className = "" } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", `icon icon-${name}${filled ? " filled" : ""}${className ? " " + className : ""}`);
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name] || ICONS.info);
  svg.append(path);
  return svg;
}

export function setIcon(svg, name) {
  svg.querySelector("path").setAttribute("d", ICONS[name] || ICONS.info);
  svg.setAttribute("class", svg.getAttribute("class").replace(/icon-[a-z]+/, `icon-${name}`));
}

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

export function formatCount(value) {
  const n = Number(value) || 0;
  return n < 1000 ? String(n) : compact.format(n);
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export function timeAgo(iso) {
  if (!iso) return "";
  const then = new Date(iso).getTime();
  const seconds = Math.max(0, (Date.now() - then) / 1000);
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  if (seconds < 30 * 86400) return `${Math.floor(seconds / (7 * 86400))}w`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" });
}

// Hashtags are letters, digits and underscores; mentions follow the username rule (a–z, 0–9, _ and .).
// Neither starts inside a word, so "mail@example.com" or "issue#4" stay plain text, and a mention ends
// before a full stop.
const TOKENS = /(?<![\p{L}\p{N}_])(#[\p{L}\p{N}_]+|@[a-z0-9_.]{2,31}[a-z0-9_])/giu;

export function richText(text) {
  const source = String(text || "");
  const nodes = [];
  let last = 0;
  for (const match of source.matchAll(TOKENS)) {
    if (match.index > last) nodes.push(source.slice(last, match.index));
    const token = match[0];
    const href = token[0] === "#" ? `/tag/${encodeURIComponent(token.slice(1).toLowerCase())}`
      : `/@${encodeURIComponent(token.slice(1).toLowerCase())}`;
    nodes.push(h("a", { href, class: token[0] === "#" ? "tag-link" : "mention-link" }, token));
    last = match.index + token.length;
  }
  if (last < source.length) nodes.push(source.slice(last));
  return nodes;
}

export function hashtagsIn(text) {
  return [...String(text || "").matchAll(/#([\p{L}\p{N}_]+)/gu)].map((m) => m[1].toLowerCase());
}

function hueOf(name) {
  let hash = 0;
  for (const ch of String(name || "?")) hash = (hash * 31 + ch.codePointAt(0)) % 360;
  return hash;
}

export function avatar(user, size = 40, extraClass = "") {
  const name = user?.display_name || user?.username || "?";
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.42)}px` };
  if (user?.avatar_url) {
    return h("img", { class: `avatar ${extraClass}`, src: user.avatar_url, alt: "", style, loading: "lazy" });
  }
  const hue = hueOf(user?.username || name);
  return h("span", {
    class: `avatar avatar-initial ${extraClass}`, "aria-hidden": "true",
    style: { ...style, background: `linear-gradient(135deg, hsl(${hue} 70% 55%), hsl(${(hue + 50) % 360} 75% 42%))` },
  }, [...name][0].toUpperCase());
}

export function spinner(label = "Loading") {
  return h("div", { class: "spinner", role: "progressbar", "aria-label": label });
}

export function emptyState({ iconName = "film", title, body = "", action = null }) {
  return h("div", { class: "empty" },
    h("div", { class: "empty-icon" }, icon(iconName, { size: 36 })),
    h("h2", { class: "empty-title" }, title),
    body ? h("p", { class: "empty-body" }, body) : null,
    action);
}

export function button(label, { variant = "primary", iconName = null, onclick = null, type = "button", extraClass = "", ...rest } = {}) {
  return h("button", { type, class: `btn btn-${variant} ${extraClass}`.trim(), onclick, ...rest },
    iconName ? icon(iconName, { size: 18 }) : null, h("span", null, label));
}

export function linkButton(label, href, { variant = "primary", iconName = null, extraClass = "", ...rest } = {}) {
  return h("a", { href, class: `btn btn-${variant} ${extraClass}`.trim(), ...rest },
    iconName ? icon(iconName, { size: 18 }) : null, h("span", null, label));
}
