// Sound is one choice for the whole session: unmuting one video unmutes the ones after it. Pages start
// muted because browsers only allow muted autoplay before the viewer has touched the page.

const listeners = new Set();

export const playback = {
  muted: true,
  setMuted(muted) {
    if (this.muted === muted) return;
    this.muted = muted;
    for (const listener of listeners) listener(muted);
  },
  toggleMuted() {
    this.setMuted(!this.muted);
  },
  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
