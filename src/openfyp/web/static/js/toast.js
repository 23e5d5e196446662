// Short messages at the top of the screen; errors stay a little longer than confirmations.

import { h, icon } from "./dom.js";

const MAX_VISIBLE = 3;

export function toast(message, { kind = "info", duration = null } = {}) {
  const host = document.getElementById("toasts");
  if (!host) return;
  const el = h("div", { class: `toast toast-${kind}` },
    kind === "error" ? icon("alert", { size: 18 }) : kind === "success" ? icon("check", { size: 18 }) : null,
    h("span", null, message));
  host.append(el);
  while (host.children.length > MAX_VISIBLE) host.firstElementChild.remove();
  requestAnimationFrame(() => el.classList.add("show"));
  const ms = duration ?? (kind === "error" ? 4200 : 2400);
  setTimeout(() => {
    el.classList.remove("show");
    setTimeout(() => el.remove(), 300);
  }, ms);
}

export function toastError(err) {
  if (err?.name === "AbortError") return;
  const message = err?.message || "Something went wrong.";
  toast(message.charAt(0).toUpperCase() + message.slice(1), { kind: "error" });
}
