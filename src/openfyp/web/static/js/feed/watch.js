// One viewing of one video: from the moment it becomes the visible video until the viewer leaves it.
//
// Watch time is measured from the playhead, not the wall clock, so buffering and pauses do not count.
// Seconds and ratio are cumulative for the viewing (a ratio above 1 means it looped); the learners take
// the largest ratio they see, so repeated progress reports never double count.

import { tracker } from "../events.js";

// Playhead jumps longer than this between two timeupdate events are seeks or stalls, not watching.
const MAX_STEP_S = 1.5;
const MAX_REPLAYS_REPORTED = 10;
const SKIP_WITHIN_S = 2;
const SKIP_BELOW_RATIO = 0.25;
const END_TOLERANCE_S = 0.35;

export function eventContext(item) {
  return { video_id: item.id, source: item.source, request_id: item.request_id, position: item.position };
}

export class WatchSession {
  constructor(item, video) {
    this.item = item;
    this.video = video;
    this.startedAt = performance.now();
    this.watched = 0;
    this.lastTime = null;
    this.played = false;
    this.completed = false;
    this.replays = 0;
    this.reportedSeconds = 0;
    this.ended = false;
    this.onPlaying = () => this.playing();
    this.onTimeUpdate = () => this.sample();
    this.onPause = () => {
      this.sample();
      this.lastTime = null;
    };
    video.addEventListener("playing", this.onPlaying);
    video.addEventListener("timeupdate", this.onTimeUpdate);
    video.addEventListener("pause", this.onPause);
    if (!video.paused && video.readyState >= 3) this.playing();
  }

  duration() {
    const fromMedia = this.video.duration;
    if (Number.isFinite(fromMedia) && fromMedia > 0) return fromMedia;
    return Number(this.item.duration_s) || 0;
  }

  emit(kind, extra = {}) {
    tracker.track(kind, { ...eventContext(this.item), ...extra });
  }

  playing() {
    if (!this.played) {
      this.played = true;
      this.emit("play");
    }
    this.lastTime = this.video.currentTime;
  }

  sample() {
    const now = this.video.currentTime;
    const duration = this.duration();
    if (this.lastTime !== null && duration > 0) {
      const step = now - this.lastTime;
      const nearEnd = Math.max(1, duration * 0.15);
      if (step > 0 && step <= MAX_STEP_S) {
        this.watched += step;
      } else if (step < 0 && this.lastTime >= duration - nearEnd && now <= nearEnd) {
        // The loop wrapped around: count the tail that played before the jump and the head after it.
        this.watched += Math.max(0, duration - this.lastTime) + now;
        this.looped();
      }
    }
    if (!this.video.paused) this.lastTime = now;
    if (!this.completed && duration > 0 && now >= duration - END_TOLERANCE_S) this.complete();
  }

  progress() {
    const duration = this.duration();
    return { watch_seconds: this.watched, watch_ratio: duration > 0 ? this.watched / duration : 0 };
  }

  complete() {
    this.completed = true;
    this.emit("complete", this.progress());
  }

  looped() {
    if (!this.completed) this.complete();
    if (this.replays < MAX_REPLAYS_REPORTED) {
      this.replays += 1;
      this.emit("replay", this.progress());
    }
  }

  // Called every few seconds and when the viewing ends; quiet when nothing new was watched.
  reportProgress() {
    if (this.ended) return;
    this.sample();
    if (this.watched - this.reportedSeconds < 0.1) return;
    this.reportedSeconds = this.watched;
    this.emit("watch", this.progress());
  }

  end() {
    if (this.ended) return;
    this.reportProgress();
    this.ended = true;
    const stayed = (performance.now() - this.startedAt) / 1000;
    const { watch_ratio: ratio } = this.progress();
    if (!this.completed && (stayed < SKIP_WITHIN_S || ratio < SKIP_BELOW_RATIO)) this.emit("skip", this.progress());
    this.video.removeEventListener("playing", this.onPlaying);
    this.video.removeEventListener("timeupdate", this.onTimeUpdate);
    this.video.removeEventListener("pause", this.onPause);
  }
}
