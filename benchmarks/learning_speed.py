"""Learning speed: watch time per session of a brand-new viewer over their first five sessions.

The demo's simulated audience (:mod:`openfyp.demo.audience`): viewers with hidden topic tastes and a
watch-time model, over the demo catalog (:mod:`openfyp.demo.catalog`: topics, creators, sounds, clip lengths
and hidden qualities). A background audience builds a history; a model is trained on it and released.
Then new viewers, whose tastes the platform has never seen, each browse five sessions of two For You pages
(20 videos) under three arms, each on its own copy of the same deployment:

* ``online``: openfyp as it runs, every event changing the viewer's state before their next page;
* ``hourly_retraining``: the same engine and model, but the viewer's events reach it only through the next
  retraining, which happens after the five sessions (so within them it never learns about this viewer);
* ``trending_only``: the regional popularity feed.

Watch time is what the viewer model expects for the served videos (``expected_watch_seconds``; the
realised, sampled watch time is reported too). Results: JSON and a PNG plot in ``benchmarks/results/``.

    .venv/bin/python benchmarks/learning_speed.py           # 30 new viewers per arm
    .venv/bin/python benchmarks/learning_speed.py --quick   # 6 new viewers, smaller background
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from openfyp.demo.audience import ClipTraits, SimulatedViewer
from openfyp.demo.catalog import TOPICS, build_catalog
from openfyp.events.schema import Event, EventKind

RESULTS = Path(__file__).resolve().parent / "results"
ARMS = ("online", "hourly_retraining", "trending_only")
SESSIONS, PAGES_PER_SESSION, PAGE = 5, 2, 10
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def settings_for(data_dir: Path):
    from openfyp.settings import Settings

    return Settings(data_dir=data_dir, region="us", secret_key="learning-speed", job_workers=0)


def build_template(data_dir: Path, background_viewers: int, watches_each: int, seed: int,
                   clips: int) -> tuple[dict[int, ClipTraits], str]:
    """The deployment every arm starts from: catalog, a background audience's history, a released model."""
    from openfyp.demo.training import train_and_promote
    from openfyp.services import build_services
    from openfyp.store.tables import Hashtag, Sound, User, Video, VideoHashtag

    services = build_services(settings_for(data_dir))
    catalog = build_catalog(seed, n_creators=max(50, clips // 6), n_clips=clips)
    now = datetime.now(UTC)
    rng = random.Random(seed)
    traits: dict[int, ClipTraits] = {}
    with services.session_factory() as db:
        creators = [User(region="us", username=c.username, password_hash="x", display_name=c.display_name,
                         birth_date=date(1992, 5, 17)) for c in catalog.creators]
        db.add_all(creators)
        tags: dict[str, Hashtag] = {}
        sounds: dict[tuple[int, int], Sound] = {}
        db.flush()
        for index, clip in enumerate(catalog.clips):
            names = re.findall(r"#(\w+)", clip.caption)
            for name in names:
                if name not in tags:
                    tags[name] = Hashtag(region="us", name=name)
                    db.add(tags[name])
            key = (clip.topic, clip.sound_slot)
            if key not in sounds:
                sounds[key] = Sound(region="us", title=f"{TOPICS[clip.topic].name} sound {clip.sound_slot}")
                db.add(sounds[key])
            db.flush()
            created = now - timedelta(hours=rng.uniform(2, 48))
            video = Video(region="us", creator_id=creators[clip.creator].id, caption=clip.caption, status="ready",
                          visibility="public", moderation_state="ok", duration_s=clip.seconds,
                          sound_id=sounds[key].id, created_at=created, ready_at=created)
            db.add(video)
            db.flush()
            for name in dict.fromkeys(names):
                db.add(VideoHashtag(video_id=video.id, hashtag_id=tags[name].id))
            traits[video.id] = ClipTraits(video.id, clip.topic, clip.quality, clip.seconds, creators[clip.creator].id)
        db.commit()
    services.feed.refresh_catalog(full=True)

    # The background audience: each viewer meets random clips over the last day and reacts to them.
    videos = list(traits)
    batch: list[Event] = []
    for i in range(background_viewers):
        viewer = SimulatedViewer.sample(i, len(TOPICS), seed)
        user_id = 100_000 + i
        for video_id in rng.sample(videos, watches_each):
            ts = now - timedelta(hours=rng.uniform(0.5, 24))
            batch += outcome_events(user_id, traits[video_id], viewer, ts)
        if len(batch) > 20_000:
            services.events.append(batch)
            batch = []
    if batch:
        services.events.append(batch)
    services.events.settle()  # the engine's catch-up reads the events table
    services.feed.catch_up()
    version = train_and_promote(services)
    services.close()
    return traits, version


def outcome_events(user_id: int, clip: ClipTraits, viewer: SimulatedViewer, ts: datetime,
                   request_id: str | None = None) -> list[Event]:
    outcome = viewer.watch(clip)

    def event(kind: EventKind, **values) -> Event:
        return Event(event_id=str(uuid.uuid4()), region="us", user_id=user_id, video_id=clip.video_id, kind=kind,
                     source="foryou", request_id=request_id, client_ts=ts, server_ts=ts, **values)

    events = [event(EventKind.impression), event(EventKind.play),
              event(EventKind.watch, watch_seconds=round(outcome.watch_seconds, 2),
                    watch_ratio=round(outcome.watch_ratio, 3))]
    if outcome.completed:
        events.append(event(EventKind.complete, watch_seconds=round(outcome.watch_seconds, 2),
                            watch_ratio=round(min(outcome.watch_ratio, 1.0), 3)))
    if outcome.replayed:
        events.append(event(EventKind.replay))
    if outcome.skipped:
        events.append(event(EventKind.skip, watch_seconds=round(outcome.watch_seconds, 2),
                            watch_ratio=round(outcome.watch_ratio, 3)))
    if outcome.liked:
        events.append(event(EventKind.like))
    if outcome.shared:
        events.append(event(EventKind.share))
    return events


def run_arm(arm: str, data_dir: Path, traits: dict[int, ClipTraits], new_viewers: int, seed: int) -> dict:
    from openfyp.recsys.contracts import FeedContext
    from openfyp.services import build_services
    from openfyp.store.tables import User

    services = build_services(settings_for(data_dir), run_migrations=False)
    services.start()  # the online learner runs in every arm, as in a server
    expected = np.zeros((new_viewers, SESSIONS))
    realised = np.zeros((new_viewers, SESSIONS))
    taste_match = np.zeros((new_viewers, SESSIONS))
    page_ms: list[float] = []
    try:
        for v in range(new_viewers):
            viewer = SimulatedViewer.sample(50_000 + v, len(TOPICS), seed)  # tastes never seen before
            with services.session_factory() as db:
                user = User(region="us", username=f"new{v}_{uuid.uuid4().hex[:6]}", password_hash="x",
                            birth_date=date(1995, 1, 1))
                db.add(user)
                db.commit()
                user_id = user.id
            seen: set[int] = set()
            for session in range(SESSIONS):
                for _ in range(PAGES_PER_SESSION):
                    request_id = str(uuid.uuid4())
                    context = FeedContext(
                        region="us", user_id=user_id, request_id=request_id, now=datetime.now(UTC), limit=PAGE,
                        personalised=arm != "trending_only", is_minor=False, seen_video_ids=frozenset(seen),
                        signals_since=FAR_FUTURE if arm == "hourly_retraining" else None)
                    started = time.perf_counter()
                    result = services.feed.recommend(context)
                    page_ms.append((time.perf_counter() - started) * 1000)
                    events: list[Event] = []
                    for item in result.items:
                        clip = traits[item.video_id]
                        seen.add(item.video_id)
                        expected[v, session] += viewer.expected_watch_seconds(clip)
                        taste_match[v, session] += viewer.affinity(clip.topic) / (PAGES_PER_SESSION * PAGE)
                        watched = outcome_events(user_id, clip, viewer, datetime.now(UTC), request_id)
                        realised[v, session] += sum(e.watch_seconds or 0.0 for e in watched
                                                    if e.kind == EventKind.watch)
                        events += watched
                    services.events.append(events)
    finally:
        services.close()
    return {
        "expected_watch_s_per_session": expected.mean(axis=0).round(2).tolist(),
        "expected_watch_s_ci95": (1.96 * expected.std(axis=0, ddof=1) / np.sqrt(new_viewers)).round(2).tolist(),
        "realised_watch_s_per_session": realised.mean(axis=0).round(2).tolist(),
        "taste_match_per_session": taste_match.mean(axis=0).round(3).tolist(),
        "page_ms_p50": round(float(np.percentile(page_ms, 50)), 1),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"online": "openfyp, online learning", "hourly_retraining": "same engine, hourly retraining only",
              "trending_only": "trending only"}
    sessions = np.arange(1, SESSIONS + 1)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for arm in ARMS:
        data = results["arms"][arm]
        ax.errorbar(sessions, data["expected_watch_s_per_session"], yerr=data["expected_watch_s_ci95"],
                    marker="o", capsize=3, label=labels[arm])
    ax.set_xticks(sessions)
    ax.set_xlabel("session of a brand-new viewer (20 videos each)")
    ax.set_ylabel("expected watch time per session (s)")
    ax.set_title(f"How fast the feed learns a new viewer ({results['new_viewers']} viewers per arm, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--viewers", type=int, default=None, help="New viewers per arm.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--clips", type=int, default=None,
                        help="Catalog size (enough that a viewer's favourite topics do not run out in 5 sessions).")
    args = parser.parse_args()
    new_viewers = args.viewers or (6 if args.quick else 30)
    background, watches = (120, 30) if args.quick else (400, 40)
    clips = args.clips or (300 if args.quick else 900)
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_average_before": os.getloadavg()},
                     "new_viewers": new_viewers, "catalog_clips": clips, "topics": len(TOPICS), "sessions": SESSIONS, "videos_per_session": PAGES_PER_SESSION * PAGE,
                     "background_viewers": background, "background_watches_each": watches, "arms": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="openfyp-learning-") as tmp:
        template = Path(tmp) / "template"
        traits, version = build_template(template / "data", background, watches, args.seed, clips)
        results["model_version"] = version
        results["setup_seconds"] = round(time.perf_counter() - started, 1)
        for arm in ARMS:
            arm_dir = Path(tmp) / arm
            shutil.copytree(template, arm_dir)
            print(f"{arm} ...", flush=True)
            results["arms"][arm] = run_arm(arm, arm_dir / "data", traits, new_viewers, args.seed)
            print(json.dumps(results["arms"][arm]))
    online = results["arms"]["online"]["expected_watch_s_per_session"]
    hourly = results["arms"]["hourly_retraining"]["expected_watch_s_per_session"]
    trending = results["arms"]["trending_only"]["expected_watch_s_per_session"]
    results["online_vs_hourly_gain_sessions_2_to_5"] = round(float(np.mean(online[1:]) / np.mean(hourly[1:]) - 1), 3)
    results["online_vs_trending_gain_sessions_2_to_5"] = round(float(np.mean(online[1:]) / np.mean(trending[1:]) - 1),
                                                               3)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_after"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    stem = "learning_speed-quick" if args.quick else "learning_speed"
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / f"{stem}.png")
    print(f"wrote {RESULTS / stem}.json and .png")


if __name__ == "__main__":
    main()
