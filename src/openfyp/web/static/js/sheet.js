// Bottom sheets: a panel that slides up over a dimmed page, closed by the backdrop, Escape, the close
// button or a downward drag on its handle. Focus moves into the sheet and back to where it was.

import { h, icon } from "./dom.js";

const open = [];

export function openSheets() {
  return open.length;
}

export function closeAllSheets() {
  for (const sheet of [...open].reverse()) sheet.close();
}

export function openSheet({ title = "", label = null, content = null, className = "", onClose = null, tall = false } = {}) {
  const layers = document.getElementById("layers");
  const returnFocus = document.activeElement;
  const titleEl = h("h2", { class: "sheet-title", id: `sheet-title-${open.length + 1}` }, title);
  const body = h("div", { class: "sheet-body" });
  const closeButton = h("button", { type: "button", class: "icon-btn sheet-close", "aria-label": "Close" },
    icon("close", { size: 20 }));
  const handle = h("div", { class: "sheet-handle", "aria-hidden": "true" }, h("span"));
  const panel = h("section", {
    class: ["sheet-panel", tall && "tall", className], role: "dialog", "aria-modal": "true", tabindex: "-1",
    ...(title ? { "aria-labelledby": titleEl.id } : { "aria-label": label || "Dialog" }),
  }, handle, h("header", { class: "sheet-header" }, titleEl, closeButton), body);
  const backdrop = h("div", { class: "sheet-backdrop" });
  const root = h("div", { class: "sheet-root" }, backdrop, panel);

  let closed = false;
  const sheet = {
    el: panel,
    body,
    setTitle(text) {
      titleEl.textContent = text;
    },
    close() {
      if (closed) return;
      closed = true;
      open.splice(open.indexOf(sheet), 1);
      root.classList.remove("show");
      document.removeEventListener("keydown", onKey, true);
      setTimeout(() => root.remove(), 260);
      onClose?.();
      if (returnFocus && document.contains(returnFocus)) returnFocus.focus({ preventScroll: true });
    },
  };

  function onKey(event) {
    if (open[open.length - 1] !== sheet) return;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      sheet.close();
    } else if (event.key === "Tab") {
      trapFocus(panel, event);
    } else if (["ArrowUp", "ArrowDown", " ", "PageUp", "PageDown"].includes(event.key)) {
      // Keys meant for the sheet must not scroll the feed behind it.
      event.stopPropagation();
    }
  }

  backdrop.addEventListener("click", () => sheet.close());
  closeButton.addEventListener("click", () => sheet.close());
  enableDragToClose(handle, panel, () => sheet.close());
  document.addEventListener("keydown", onKey, true);

  if (content) body.append(...[].concat(typeof content === "function" ? content(sheet) : content).filter(Boolean));
  layers.append(root);
  open.push(sheet);
  requestAnimationFrame(() => {
    root.classList.add("show");
    const first = panel.querySelector("[autofocus]");
    (first || panel).focus({ preventScroll: true });
  });
  return sheet;
}

function trapFocus(panel, event) {
  const focusable = [...panel.querySelectorAll(
    "a[href], button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select, [tabindex='0']")];
  if (!focusable.length) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

function enableDragToClose(handle, panel, close) {
  let startY = null;
  let delta = 0;
  handle.addEventListener("pointerdown", (event) => {
    startY = event.clientY;
    delta = 0;
    handle.setPointerCapture(event.pointerId);
    panel.style.transition = "none";
  });
  handle.addEventListener("pointermove", (event) => {
    if (startY === null) return;
    delta = Math.max(0, event.clientY - startY);
    panel.style.transform = `translateY(${delta}px)`;
  });
  const end = () => {
    if (startY === null) return;
    startY = null;
    panel.style.transition = "";
    panel.style.transform = "";
    if (delta > 90) close();
  };
  handle.addEventListener("pointerup", end);
  handle.addEventListener("pointercancel", end);
}

// A list of choices in a sheet (the "⋯" menu and similar).
export function openMenu({ title = "", label = "Options", items }) {
  return openSheet({
    title, label, className: "menu-sheet",
    content: (sheet) => h("div", { class: "menu-list", role: "menu" }, items.filter(Boolean).map((item) =>
      h("button", {
        type: "button", role: "menuitem", class: ["menu-item", item.danger && "danger"],
        onclick: () => {
          sheet.close();
          item.action();
        },
      }, icon(item.icon || "right", { size: 22 }), h("span", { class: "menu-text" },
        h("span", { class: "menu-label" }, item.label),
        item.hint ? h("span", { class: "menu-hint" }, item.hint) : null)))),
  });
}

export function confirmSheet({ title, body, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    let answered = false;
    const sheet = openSheet({
      title, className: "confirm-sheet",
      onClose: () => {
        if (!answered) resolve(false);
      },
      content: (s) => [
        h("p", { class: "confirm-body" }, body),
        h("div", { class: "confirm-actions" },
          h("button", { type: "button", class: "btn btn-secondary", onclick: () => s.close() }, "Cancel"),
          h("button", {
            type: "button", class: `btn ${danger ? "btn-danger" : "btn-primary"}`, autofocus: true,
            onclick: () => {
              answered = true;
              resolve(true);
              s.close();
            },
          }, confirmLabel)),
      ],
    });
    return sheet;
  });
}
