from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from openfyp.store.tables import Block, EventRow, Follow, Like, NotInterested, Save
from tests.web.social_support import add_video, count_rows, fast_user


def event(kind: str, **fields) -> dict:
    return {"id": str(uuid.uuid4()), "kind": kind, "client_ts": datetime.now(UTC).isoformat(), **fields}


def stored_events(services) -> list[EventRow]:
    services.events.settle()  # acknowledged events reach the table one move later
    with services.session_factory() as db:
        return list(db.scalars(select(EventRow).order_by(EventRow.seq)))


def test_batch_is_stored_with_viewer_and_server_time_and_retries_are_absorbed(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    video = add_video(services, alice.id)
    request_id = str(uuid.uuid4())
    batch = {"events": [
        event("impression", video_id=video, source="foryou", request_id=request_id, position=0),
        event("play", video_id=video, source="foryou", request_id=request_id, position=0),
        event("watch", video_id=video, watch_seconds=7.5, watch_ratio=0.62, source="foryou", request_id=request_id),
        event("complete", video_id=video, watch_seconds=12.0, watch_ratio=1.0),
    ]}
    before = datetime.now(UTC)
    response = bob.post("/api/events", json=batch)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0}
    rows = stored_events(services)
    assert [r.kind for r in rows] == ["impression", "play", "watch", "complete"]
    assert {r.user_id for r in rows} == {bob.id} and {r.region for r in rows} == {services.region}
    assert [r.event_id for r in rows] == [e["id"] for e in batch["events"]]
    assert rows[2].watch_ratio == 0.62 and rows[0].request_id == request_id and rows[0].position == 0
    assert all(r.server_ts >= before - timedelta(seconds=1) for r in rows)

    retried = bob.post("/api/events", json=batch)
    assert retried.status_code == 200 and retried.json() == {"accepted": 0, "duplicates": 4}
    half_new = {"events": batch["events"][:2] + [event("replay", video_id=video)]}
    assert bob.post("/api/events", json=half_new).json() == {"accepted": 1, "duplicates": 2}
    assert len(stored_events(services)) == 5


def test_one_invalid_event_refuses_the_whole_batch(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    public = add_video(services, alice.id)
    private = add_video(services, alice.id, visibility="private")
    cases = [
        (event("play", video_id=999_999), "events[2].video_id", "video_not_found"),
        (event("like", video_id=private), "events[2].video_id", "video_not_found"),
        (event("follow", target_user_id=999_999), "events[2].target_user_id", "user_not_found"),
        (event("follow", target_user_id=bob.id), "events[2].target_user_id", "cannot_follow_self"),
        (event("comment", video_id=public), "events[2].kind", "kind_not_accepted"),
        (event("share", video_id=public), "events[2].kind", "kind_not_accepted"),
        (event("play", video_id=2**40), "events[2].video_id", "video_not_found"),
        (event("play"), "events[2]", "invalid_event"),
        (event("dance", video_id=public), "events[2].kind", "invalid_event"),
        (event("watch", video_id=public, watch_ratio=-1), "events[2].watch_ratio", "invalid_event"),
        (event("play", video_id=public, surprise=1), "events[2].surprise", "invalid_event"),
        ({**event("play", video_id=public), "id": "not-a-uuid"}, "events[2].id", "invalid_event"),
        (event("play", video_id=public, client_ts=(datetime.now(UTC) + timedelta(hours=2)).isoformat()),
         "events[2].client_ts", "invalid_event"),
        ("just a string", "events[2]", "invalid_event"),
    ]
    for bad, field, code in cases:
        batch = {"events": [event("like", video_id=public), event("follow", target_user_id=alice.id), bad,
                            event("play", video_id=public)]}
        response = bob.post("/api/events", json=batch)
        assert response.status_code == 422, (bad, response.text)
        error = response.json()["error"]
        assert (error["field"], error["code"]) == (field, code), bad
    assert stored_events(services) == []
    assert count_rows(services, select(Like)) == 0 and count_rows(services, select(Follow)) == 0


def test_blocks_make_events_about_the_other_side_invalid(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    video = add_video(services, alice.id)
    with services.session_factory() as db:
        db.add(Block(blocker_id=alice.id, blocked_id=bob.id))
        db.commit()
    refused = bob.post("/api/events", json={"events": [event("impression", video_id=video)]})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "events[0].video_id"
    refused = bob.post("/api/events", json={"events": [event("follow", target_user_id=alice.id)]})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "events[0].target_user_id"


def test_stateful_events_apply_state_once(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice, bob = fast_user(client, services, "alice"), fast_user(client, services, "bob")
    first, second = add_video(services, alice.id), add_video(services, alice.id)
    batch = [event("like", video_id=first), event("like", video_id=first), event("save", video_id=first),
             event("like", video_id=second), event("unlike", video_id=second), event("like", video_id=second),
             event("follow", target_user_id=alice.id), event("not_interested", video_id=second)]
    response = bob.post("/api/events", json={"events": batch})
    # The second like of ``first`` changed nothing, so it is not logged.
    assert response.json() == {"accepted": 7, "duplicates": 1}
    with services.session_factory() as db:
        assert sorted(db.scalars(select(Like.video_id).where(Like.user_id == bob.id))) == [first, second]
        assert db.scalar(select(func.count()).select_from(Save)) == 1
        assert db.get(Follow, (bob.id, alice.id)) is not None
        assert db.scalar(select(NotInterested.target_id)) == second
    assert [r.kind for r in stored_events(services)].count("like") == 3

    again = bob.post("/api/events", json={"events": [event("like", video_id=first), event("unlike", video_id=first),
                                                     event("unfollow", target_user_id=alice.id)]})
    assert again.json() == {"accepted": 2, "duplicates": 1}
    with services.session_factory() as db:
        assert list(db.scalars(select(Like.video_id).where(Like.user_id == bob.id))) == [second]
        assert db.get(Follow, (bob.id, alice.id)) is None
    # Likes through the REST action and through events are one and the same state.
    assert bob.delete(f"/api/videos/{second}/like").json() == {"liked": False, "likes": 0}


def test_batch_limits_and_malformed_bodies(any_db_client, any_db_services):
    client, services = any_db_client, any_db_services
    alice = fast_user(client, services, "alice")
    video = add_video(services, alice.id)
    limit = services.settings.max_event_batch

    too_many = alice.post("/api/events", json={"events": [event("play", video_id=video)] * (limit + 1)})
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "batch_too_large"
    huge = client.post("/api/events", content=b" " * (limit * 4096 + 1),
                       headers={**alice.headers, "content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "batch_too_large"
    assert alice.post("/api/events", json={"events": [event("play", video_id=video)] * limit}).json() == {
        "accepted": 1, "duplicates": limit - 1}

    malformed = client.post("/api/events", content=b'{"events": [', headers={**alice.headers,
                                                                            "content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "malformed_json"
    for body in ({"events": []}, {"events": "play"}, {"evts": []}, [1, 2], {"events": [], "more": 1}):
        response = client.post("/api/events", content=json.dumps(body), headers=alice.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == "events"
    anonymous = client.post("/api/events", json={"events": [event("play", video_id=video)]})
    assert anonymous.status_code == 401
    assert len(stored_events(services)) == 1
