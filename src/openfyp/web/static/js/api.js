// The JSON API client: cookie session, the CSRF header on every write, and the API's structured errors.

export class ApiError extends Error {
  constructor(status, code, message, field = null, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.body = body;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD"]);
let csrfToken = null;
let csrfRefresher = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function getCsrfToken() {
  return csrfToken;
}

// A stale CSRF token (e.g. after signing in in another tab) is refreshed once, then the write is retried.
export function onCsrfFailure(refresh) {
  csrfRefresher = refresh;
}

export function apiUrl(path, query = null) {
  const url = new URL(path, location.origin);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, String(value));
    }
  }
  return url.pathname + url.search;
}

function headersFor(method, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined && !(body instanceof FormData)) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  return headers;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body?.error || {};
  const fallback = response.status >= 500 ? "Something went wrong on the server. Try again in a moment."
    : `The request failed (${response.status}).`;
  return new ApiError(response.status, error.code || `http_${response.status}`, error.message || fallback,
    error.field || null, body);
}

export async function api(path, { method = "GET", body, query = null, signal, keepalive = false, retried = false } = {}) {
  const init = {
    method,
    headers: headersFor(method, body),
    credentials: "same-origin",
    signal,
    keepalive,
  };
  if (body !== undefined) init.body = body instanceof FormData ? body : JSON.stringify(body);
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, "network", "You're offline or the server can't be reached.");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.code === "csrf_failed" && !retried && csrfRefresher) {
      await csrfRefresher();
      return api(path, { method, body, query, signal, keepalive, retried: true });
    }
    throw error;
  }
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, query, opts = {}) => api(path, { ...opts, query });
export const post = (path, body, opts = {}) => api(path, { ...opts, method: "POST", body });
export const patch = (path, body, opts = {}) => api(path, { ...opts, method: "PATCH", body });
export const del = (path, body, opts = {}) => api(path, { ...opts, method: "DELETE", body });

// Uploads go through XMLHttpRequest because fetch cannot report upload progress.
export function uploadWithProgress(path, formData, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", path);
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded, event.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
        return;
      }
      const error = body?.error || {};
      reject(new ApiError(xhr.status, error.code || `http_${xhr.status}`,
        error.message || `The upload failed (${xhr.status}).`, error.field || null, body));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "The upload was interrupted. Check your connection."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "Upload cancelled."));
    xhr.send(formData);
  });
  return { promise, abort: () => xhr.abort() };
}

// UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then random bits. Time-ordered ids keep the
// server's event-id index growing at its right edge (see openfyp/events/ids.py). getRandomValues, unlike
// crypto.randomUUID, also exists outside secure contexts (a LAN deployment on plain http).
export function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let millis = Date.now();
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = millis % 256;
    millis = Math.floor(millis / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
