"""Feed plumbing without HTTP: cursors, the context handed to the engine, the minors' daily limit."""

from __future__ import annotations

import base64
import uuid
import zlib
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from openfyp.events.schema import Event, EventKind
from openfyp.platform import feeds
from openfyp.platform.cursor import CursorCodec
from openfyp.platform.errors import InvalidInput
from openfyp.store.base import utcnow
from openfyp.store.tables import FeedRequest, User
from tests.platform.videos_support import media_dir, quick_user, seed_ready_video, tiny_clip, tiny_poster

__all__ = ["media_dir", "tiny_clip", "tiny_poster"]


def test_cursor_round_trip_and_tampering():
    codec = CursorCodec("a secret")
    state = {"s": "foryou", "u": None, "o": 20, "seen": list(range(1000, 1400))}
    cursor = codec.seal(state)
    assert codec.unseal(cursor, max_length=feeds.MAX_CURSOR_CHARS) == state
    assert len(cursor) < 2000  # 400 remembered ids still fit comfortably in a URL
    body, mac = cursor.split(".")
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    for bad in (f"{flipped}.{mac}", f"{body}.{mac[:-2]}", "garbage", "a.b.c", "", "!!!.???"):
        assert codec.unseal(bad, max_length=feeds.MAX_CURSOR_CHARS) is None
    assert CursorCodec("another secret").unseal(cursor, max_length=feeds.MAX_CURSOR_CHARS) is None
    too_long = codec.seal({"s": "foryou", "seen": [str(uuid.uuid4()) for _ in range(40)]})
    assert len(too_long) > 1024 and codec.unseal(too_long) is None  # longer than a listing cursor may be


def test_short_cursor_states_are_sealed_without_deflating_and_deflated_ones_still_open():
    codec = CursorCodec("a secret")
    state = {"s": "foryou", "u": 3, "o": 10}
    cursor = codec.seal(state)
    body = base64.urlsafe_b64decode(cursor.split(".")[0] + "==")
    assert body == b'{"s":"foryou","u":3,"o":10}'  # deflating 27 bytes would only lengthen them
    assert codec.unseal(cursor) == state
    # A cursor handed out before short states went undeflated still opens.
    deflated = zlib.compress(body, 9)
    older = f"{codec_b64(deflated)}.{codec_b64(codec._sign(deflated))}"
    assert codec.unseal(older) == state
    tampered = b'{"s":"foryou","u":4,"o":10}'
    assert codec.unseal(f"{codec_b64(tampered)}.{cursor.split('.')[1]}") is None


def codec_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_feed_and_listing_cursors_are_not_interchangeable():
    codec = CursorCodec("a secret")
    listing_cursor = codec.encode("comments:1", [5])
    assert codec.decode("comments:1", listing_cursor) == [5]
    feed_cursor = codec.seal({"s": "foryou", "u": 3, "o": 10})
    with pytest.raises(InvalidInput):
        codec.decode("comments:1", feed_cursor)
    assert "s" not in codec.unseal(listing_cursor)  # a feed refuses it: wrong surface


def test_the_engine_is_told_who_is_asking(any_db_services):
    services = any_db_services
    today = utcnow().date()
    adult = quick_user(services, "adult")
    teen = quick_user(services, "teen", birth_date=date(today.year - 15, 1, 1))
    with services.session_factory() as db:
        user = db.get(User, adult.id)
        user.personalised, user.feed_reset_at = False, utcnow() - timedelta(days=1)
        db.commit()
        context = feeds.foryou_context(db, services, user, request_id="r", limit=5)
        assert context.user_id == adult.id and not context.personalised and not context.is_minor
        assert context.signals_since == user.feed_reset_at and context.seen_video_ids == frozenset()
        assert feeds.foryou_context(db, services, db.get(User, teen.id), request_id="r", limit=5).is_minor
        visitor = feeds.foryou_context(db, services, None, request_id="r", limit=5, anonymous_seen=frozenset({3}))
        assert visitor.user_id is None and visitor.is_minor and not visitor.personalised
        assert visitor.seen_video_ids == frozenset({3})


def test_a_minor_past_the_daily_limit_gets_a_notice_instead_of_videos(any_db_services, tiny_clip, tiny_poster):
    services = any_db_services
    services.settings.minor_daily_screen_minutes = 1
    creator = quick_user(services, "creator")
    teen = quick_user(services, "teen", birth_date=date(utcnow().year - 15, 1, 1))
    video_id = seed_ready_video(services, creator.id, tiny_clip, tiny_poster)
    services.feed.refresh_catalog(full=True)
    with services.session_factory() as db:
        page = feeds.foryou_page(db, services, db.get(User, teen.id), limit=5)
        assert page.notice is None and [item.video.id for item in page.items] == [video_id]

    services.events.append([Event.server_side(EventKind.watch, user_id=teen.id, region=services.region,
                                              video_id=video_id, extra=None).model_copy(
        update={"watch_seconds": 90.0, "request_id": str(uuid.uuid4())})])
    services.events.settle()  # the daily limit counts watch time in the events table
    with services.session_factory() as db:
        for page in (feeds.foryou_page(db, services, db.get(User, teen.id), limit=5),
                     feeds.following_page(db, services, db.get(User, teen.id), limit=5)):
            assert page.items == [] and page.request_id is None
            assert page.notice["code"] == "screen_time_limit_reached"
        assert db.scalar(select(func.count()).select_from(FeedRequest)) == 1  # only the first page was logged
