"""Builds the demo: creators upload a generated catalog, simulated viewers use the app, the engine trains.

Everything goes through the real HTTP API in process (the same routes, validation and event path a browser
uses), so the demo is also an end-to-end exercise of the platform.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from openfyp.demo.audience import ClipTraits, SimulatedViewer
from openfyp.demo.catalog import TOPICS, DemoCatalog, build_catalog
from openfyp.events.ids import new_event_id
from openfyp.services import Services

CREATOR_PASSWORD = "demo-creator-pass"
VIEWER_PASSWORD = "demo-viewer-pass"
DEMO_LOGIN = ("demo", "openfyp-demo")
# The demo login's hidden taste: cooking and cats, a little travel.
DEMO_TASTE = {"cooking": 0.45, "cats": 0.4, "travel": 0.15}

Progress = Callable[[str, int, int], None]


@dataclass
class DemoOptions:
    seed: int = 7
    creators: int = 50
    clips: int = 300
    viewers: int = 300
    rounds: int = 2
    pages_per_round: int = 2
    clip_width: int = 360
    clip_height: int = 640
    clip_fps: int = 20


@dataclass
class DemoResult:
    videos_ready: int = 0
    videos_failed: int = 0
    viewers: int = 0
    events: int = 0
    feed_requests: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    clip_traits: dict[int, dict] = field(default_factory=dict)


class ApiSession:
    """One signed-in user talking to the app over the in-process HTTP client."""

    def __init__(self, client, token: str, user_id: int) -> None:
        self.client, self.user_id = client, user_id
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, expect: tuple[int, ...] = (200, 201, 202, 204), **kw):
        response = self.client.request(method, url, headers=self.headers, **kw)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {url} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None


def _signup(client, username: str, password: str, birth_date: str, display_name: str | None = None) -> ApiSession:
    response = client.post("/api/auth/signup", json={
        "username": username, "password": password, "birth_date": birth_date,
        "display_name": display_name, "session": "bearer"})
    if response.status_code == 409:
        response = client.post("/api/auth/login", json={"username": username, "password": password,
                                                        "session": "bearer"})
    if response.status_code not in (200, 201):
        raise RuntimeError(f"signup {username}: {response.status_code} {response.text[:200]}")
    body = response.json()
    return ApiSession(client, body["token"], body["user"]["id"])


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class DemoBuilder:
    def __init__(self, services: Services, options: DemoOptions, progress: Progress | None = None) -> None:
        from fastapi.testclient import TestClient

        from openfyp.web.app import create_app

        self.services = services
        self.options = options
        self.progress = progress or (lambda *_: None)
        self.catalog: DemoCatalog = build_catalog(options.seed, options.creators, options.clips)
        self.client = TestClient(create_app(services), base_url=services.settings.public_base_url)
        # Demo traffic is one client; the per-user write budget is for real people.
        self.client.app.state.write_limiter.rate = 1e9
        self.client.app.state.write_limiter.capacity = 1e9
        self.result = DemoResult()
        self.traits: dict[int, ClipTraits] = {}
        self.video_of_clip: dict[int, int] = {}

    # -- catalog ---------------------------------------------------------------------------------------------
    def upload_catalog(self, workdir: Path) -> None:
        from openfyp.media.synth import generate_clip

        started = time.perf_counter()
        creators = [_signup(self.client, c.username, CREATOR_PASSWORD, "1992-05-17", c.display_name)
                    for c in self.catalog.creators]
        for session, creator in zip(creators, self.catalog.creators, strict=True):
            session.call("PATCH", "/api/users/me", json={
                "bio": f"{TOPICS[creator.main_topic].name.title()} clips, new ones every week."})

        def make(index: int) -> Path:
            clip = self.catalog.clips[index]
            topic = TOPICS[clip.topic]
            path = workdir / f"clip{index:04d}.mp4"
            generate_clip(path, seconds=clip.seconds, width=self.options.clip_width,
                          height=self.options.clip_height, fps=self.options.clip_fps, pattern=topic.pattern,
                          hue=topic.hue + clip.seed % 20,
                          tone_hz=topic.tone_hz * (1 + clip.sound_slot * 0.25), seed=clip.seed,
                          label=f"#{topic.hashtags[0]}")
            return path

        total = len(self.catalog.clips)
        sound_ids: dict[tuple[int, int], int] = {}
        # The first clip of each (topic, sound slot) goes first: its audio becomes the sound the others reuse.
        first_of_sound: dict[tuple[int, int], int] = {}
        for i in range(total):
            first_of_sound.setdefault(self._sound_key(i), i)
        firsts = sorted(first_of_sound.values())
        rest = [i for i in range(total) if i not in set(firsts)]
        done = 0
        with ThreadPoolExecutor(max_workers=2) as pool:
            for batch in (firsts, rest):
                for index, path in zip(batch, pool.map(make, batch), strict=True):
                    clip = self.catalog.clips[index]
                    sound_id = sound_ids.get(self._sound_key(index))
                    data = {"caption": clip.caption}
                    if sound_id is not None:
                        data["sound_id"] = str(sound_id)
                    with path.open("rb") as handle:
                        body = creators[clip.creator].call(
                            "POST", "/api/videos", files={"file": (path.name, handle, "video/mp4")}, data=data)
                    path.unlink()
                    video_id = body["id"]
                    self.video_of_clip[index] = video_id
                    self.traits[video_id] = ClipTraits(video_id, clip.topic, clip.quality, clip.seconds,
                                                       creators[clip.creator].user_id)
                    done += 1
                    self.progress("Generating and uploading clips", done, total)
                self._run_jobs(f"Transcoding ({'first' if batch is firsts else 'remaining'} clips)")
                if batch is firsts:
                    for index in firsts:
                        video = self._video_of_clip(index)
                        if video and video.get("sound"):
                            sound_ids[self._sound_key(index)] = video["sound"]["id"]
        self.result.seconds["catalog"] = time.perf_counter() - started

    def _sound_key(self, index: int) -> tuple[int, int]:
        clip = self.catalog.clips[index]
        return clip.topic, clip.sound_slot

    def _video_of_clip(self, clip_index: int) -> dict | None:
        video_id = self.video_of_clip.get(clip_index)
        if video_id is None:
            return None
        response = self.client.get(f"/api/videos/{video_id}")
        return response.json() if response.status_code == 200 else None

    def _run_jobs(self, label: str) -> None:
        runner = self.services.jobs

        def unfinished() -> int:
            counts = runner.queue.counts()
            return counts.get("pending", 0) + counts.get("running", 0)

        total = max(unfinished(), 1)
        runner.start(2)
        try:
            while (left := unfinished()) > 0:
                self.progress(label, total - left, total)
                time.sleep(0.3)
        finally:
            runner.stop()
        self.progress(label, total, total)

    # -- audience --------------------------------------------------------------------------------------------
    def simulate_audience(self) -> list[tuple[SimulatedViewer, ApiSession]]:
        import numpy as np

        started = time.perf_counter()
        n_topics = len(TOPICS)
        audience = []
        for i in range(self.options.viewers):
            viewer = SimulatedViewer.sample(i, n_topics, self.options.seed)
            birth = "2011-03-02" if i % 12 == 0 else "1995-08-21"  # a few teenagers, to exercise minors' rules
            audience.append((viewer, _signup(self.client, f"viewer{i:03d}", VIEWER_PASSWORD, birth)))
        demo_taste = np.array([DEMO_TASTE.get(t.name, 0.0) for t in TOPICS])
        demo_viewer = SimulatedViewer(index=-1, taste=demo_taste / demo_taste.sum(),
                                      rng=SimulatedViewer.sample(0, n_topics, self.options.seed).rng)
        audience.append((demo_viewer, _signup(self.client, DEMO_LOGIN[0], DEMO_LOGIN[1], "1990-01-01", "Demo Viewer")))
        for round_index in range(self.options.rounds):
            total = len(audience) * self.options.pages_per_round
            done = 0
            for viewer, session in audience:
                for _ in range(self.options.pages_per_round):
                    self.watch_page(viewer, session)
                    done += 1
                    self.progress(f"Simulated viewers, round {round_index + 1}", done, total)
            self.train(f"Training the For You engine (round {round_index + 1})")
        self.result.viewers = len(audience)
        self.result.seconds["audience"] = time.perf_counter() - started
        return audience

    def watch_page(self, viewer: SimulatedViewer, session: ApiSession, surface: str = "foryou") -> list[int]:
        page = session.call("GET", f"/api/feed/{surface}?limit=10")
        self.result.feed_requests += 1
        events: list[dict] = []
        topics: list[int] = []
        for item in page["items"]:
            traits = self.traits.get(item["id"])
            if traits is None:
                continue
            topics.append(traits.topic)
            outcome = viewer.watch(traits)
            context = {"video_id": item["id"], "source": surface, "request_id": item.get("request_id"),
                       "position": item.get("position")}

            def event(kind: str, **values) -> dict:
                return {"id": new_event_id(), "kind": kind, "client_ts": _now_iso(), **context, **values}

            events.append(event("impression"))
            events.append(event("play"))
            events.append(event("watch", watch_seconds=round(outcome.watch_seconds, 2),
                                watch_ratio=round(outcome.watch_ratio, 3)))
            if outcome.completed:
                events.append(event("complete", watch_seconds=round(outcome.watch_seconds, 2),
                                    watch_ratio=round(min(outcome.watch_ratio, 1.0), 3)))
            if outcome.replayed:
                events.append(event("replay"))
            if outcome.skipped:
                events.append(event("skip", watch_seconds=round(outcome.watch_seconds, 2),
                                    watch_ratio=round(outcome.watch_ratio, 3)))
            params = {k: v for k, v in context.items() if k != "video_id" and v is not None}
            if outcome.liked:
                session.call("POST", f"/api/videos/{item['id']}/like", params=params)
            if outcome.shared:
                session.call("POST", f"/api/videos/{item['id']}/share", json={"channel": "link"})
            if outcome.commented:
                session.call("POST", f"/api/videos/{item['id']}/comments",
                             json={"body": viewer.rng.choice(COMMENTS)}, expect=(201, 200, 422))
            if outcome.followed:
                session.call("POST", f"/api/users/{item['creator']['username']}/follow",
                             expect=(200, 201, 204, 409))
        if events:
            accepted = session.call("POST", "/api/events", json={"events": events})
            self.result.events += accepted.get("accepted", 0) if accepted else 0
        return topics

    def train(self, label: str) -> None:
        from openfyp.demo.training import train_and_promote

        self.progress(label, 0, 1)
        started = time.perf_counter()
        train_and_promote(self.services)
        self.result.seconds.setdefault("training", 0.0)
        self.result.seconds["training"] += time.perf_counter() - started
        self.progress(label, 1, 1)

    def _count_videos(self) -> None:
        from sqlalchemy import func, select

        from openfyp.store.tables import Video

        with self.services.session_factory() as db:
            counts = dict(db.execute(select(Video.status, func.count()).group_by(Video.status)).all())
        self.result.videos_ready = counts.get("ready", 0)
        self.result.videos_failed = counts.get("failed", 0)

    def run(self) -> DemoResult:
        with tempfile.TemporaryDirectory(dir=self.services.settings.data_dir) as tmp:
            self.upload_catalog(Path(tmp))
        self.simulate_audience()
        self._count_videos()
        self.result.clip_traits = {vid: {"topic": t.topic, "quality": t.quality, "seconds": t.seconds,
                                         "creator_id": t.creator_id} for vid, t in self.traits.items()}
        return self.result


COMMENTS = ("this is so good", "ok but how", "saving this for later", "again!!", "no way 😂", "need part 2",
            "the ending", "came back to watch this again", "tutorial please", "underrated")


TRAITS_FILE = "demo-hidden-traits.json"


def write_hidden_traits(data_dir: Path, result: DemoResult) -> None:
    """The ground truth the platform never sees (topics and qualities), kept for the benchmarks."""
    (data_dir / TRAITS_FILE).write_text(json.dumps({str(k): v for k, v in result.clip_traits.items()}))


def load_hidden_traits(data_dir: Path) -> dict[int, ClipTraits]:
    raw = json.loads((data_dir / TRAITS_FILE).read_text())
    return {int(k): ClipTraits(int(k), v["topic"], v["quality"], v["seconds"], v["creator_id"]) for k, v in raw.items()}


def write_summary(path: Path, result: DemoResult, options: DemoOptions, base_url: str) -> None:
    path.write_text(json.dumps({
        "url": base_url,
        "logins": {"viewer": {"username": DEMO_LOGIN[0], "password": DEMO_LOGIN[1]},
                   "creators": {"password": CREATOR_PASSWORD, "example": "ana_cooking"},
                   "simulated_viewers": {"password": VIEWER_PASSWORD, "example": "viewer000"}},
        "options": options.__dict__,
        "videos_ready": result.videos_ready, "videos_failed": result.videos_failed, "viewers": result.viewers,
        "events": result.events, "feed_requests": result.feed_requests,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "built_at": datetime.now(UTC).isoformat(),
    }, indent=2))
