// Engagement events (impression, play, watch, complete, replay, skip) batched to POST /api/events.
//
// Every event has a client-made UUID, so a batch retried after a network failure is absorbed by the
// server rather than double counted. Batches go out on a timer, when the queue grows, when the page is
// hidden, and with keepalive on pagehide so the last watch of a session is not lost.

import { ApiError, api, uuid } from "./api.js";
import { session } from "./session.js";

const FLUSH_EVERY_MS = 5000;
const FLUSH_AT = 40;
// keepalive requests must stay under 64 KiB in total; a few dozen events are far below that.
const CHUNK = 40;
const KEEPALIVE_CHUNKS = 4;
const MAX_QUEUED = 1000;
const MAX_WATCH_RATIO = 20;

function clean(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined || value === "") continue;
    out[key] = value;
  }
  if (typeof out.watch_seconds === "number") out.watch_seconds = Math.round(Math.max(0, out.watch_seconds) * 1000) / 1000;
  if (typeof out.watch_ratio === "number") {
    out.watch_ratio = Math.round(Math.min(MAX_WATCH_RATIO, Math.max(0, out.watch_ratio)) * 10000) / 10000;
  }
  return out;
}

class EventTracker {
  constructor() {
    this.queue = [];
    this.inFlight = false;
    this.beforeFlushHooks = new Set();
    this.sent = 0;
    this.timer = setInterval(() => this.flush(), FLUSH_EVERY_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.flushNow({ keepalive: true });
    });
    window.addEventListener("pagehide", () => this.flushNow({ keepalive: true }));
  }

  // Parts with in-progress state (the playing video) add a hook to report it before a final flush.
  beforeFlush(hook) {
    this.beforeFlushHooks.add(hook);
    return () => this.beforeFlushHooks.delete(hook);
  }

  track(kind, fields = {}) {
    // The event log records what signed-in viewers do; visitors' viewing is not collected.
    if (!session.user) return null;
    const event = { id: uuid(), kind, client_ts: new Date().toISOString(), ...clean(fields) };
    this.queue.push(event);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    if (this.queue.length >= FLUSH_AT) this.flush();
    return event;
  }

  flushNow({ keepalive = false } = {}) {
    for (const hook of this.beforeFlushHooks) {
      try {
        hook();
      } catch (err) {
        console.warn("event hook failed", err);
      }
    }
    return this.flush({ keepalive });
  }

  async flush({ keepalive = false } = {}) {
    if (!this.queue.length) return;
    if (keepalive) {
      // The page may be gone after this task, so chunks leave now rather than one after another, within
      // the browser's keepalive budget; anything beyond waits for the next ordinary flush.
      for (let chunk = 0; chunk < KEEPALIVE_CHUNKS && this.queue.length; chunk += 1) {
        const batch = this.queue.splice(0, CHUNK);
        api("/api/events", { method: "POST", body: { events: batch }, keepalive: true }).catch(() => {});
        this.sent += batch.length;
      }
      return;
    }
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, CHUNK);
        try {
          await api("/api/events", { method: "POST", body: { events: batch } });
          this.sent += batch.length;
        } catch (err) {
          if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
            // The server refused this batch for good (signed out, invalid); retrying cannot help.
            if (err.status !== 401) console.warn("events refused:", err.code, err.message);
            continue;
          }
          this.queue.unshift(...batch);
          break;
        }
      }
    } finally {
      this.inFlight = false;
    }
  }
}

export const tracker = new EventTracker();
