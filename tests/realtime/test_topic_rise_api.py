"""The promise of real time, through the HTTP API: three finished videos of a topic change the very next page."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

from tests.conftest import signup
from tests.recsys.world import World, topic_world

TOPICS = ("cooking", "dance", "cats", "cars", "travel", "gaming")


def _topics(page: dict) -> list[str]:
    return [item["hashtags"][0] for item in page["items"]]


def _finish(video_id: int, request_id: str, position: int) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    common = {"video_id": video_id, "source": "foryou", "request_id": request_id, "position": position,
              "client_ts": now}
    return [{"id": str(uuid.uuid4()), "kind": "play", **common},
            {"id": str(uuid.uuid4()), "kind": "watch", "watch_seconds": 15.0, "watch_ratio": 1.0, **common},
            {"id": str(uuid.uuid4()), "kind": "complete", "watch_seconds": 15.0, "watch_ratio": 1.0, **common}]


def test_three_finished_videos_of_a_topic_raise_it_on_the_next_page(client, services):
    world = World(services)
    by_topic = topic_world(world, creators=7, per_topic=16, topics=TOPICS)
    ana = signup(client, "ana")

    first = ana.get("/api/feed/foryou", params={"limit": 10})
    assert first.status_code == 200, first.text
    before = Counter(_topics(first.json()))
    # The topic the first page showed least: its rise cannot be an accident of the first page.
    topic = min(TOPICS, key=lambda t: (before[t], t))
    served = {item["id"] for item in first.json()["items"]}
    watched = [v for v in by_topic[topic] if v not in served][:3]
    events = [e for i, video in enumerate(watched) for e in _finish(video, first.json()["request_id"], i)]
    acknowledged = ana.post("/api/events", json={"events": events})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["accepted"] == len(events)

    second = ana.get("/api/feed/foryou", params={"limit": 10, "cursor": first.json()["next_cursor"]})
    assert second.status_code == 200, second.text
    after = Counter(_topics(second.json()))
    assert after[topic] >= before[topic] + 3 and after[topic] == max(after.values()), (topic, before, after)
    assert not set(watched) & {item["id"] for item in second.json()["items"]}, "finished videos do not return"
    reasons = [item["reason"]["summary"] for item in second.json()["items"] if item["hashtags"][0] == topic]
    assert any(f"#{topic}" in summary for summary in reasons), reasons
