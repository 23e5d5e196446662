"""The web client end to end in a real browser: sign up, upload, watch, like, comment, follow.

What the browser did is then checked where it must have landed: the event log (impressions, plays and
watch progress joined to the feed request that served them) and the like, comment and follow state.
"""

from __future__ import annotations

import json
import zipfile
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from openfyp.store.tables import Comment, EventRow, Follow, Like, User
from tests.waiting import wait_until
from tests.web.browser_support import PASSWORD, make_clip

# The live server and browser fixtures (live_server, phone, clip_folder) come from the support module.
pytest_plugins = ["tests.web.browser_support"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLAYING = ("() => { const v = document.querySelector('.slide.active video');"
           " return !!v && v.readyState >= 2 && v.currentTime > 0.3 && !v.paused; }")


def _seed_creator(server, folder, username: str, count: int) -> list[int]:
    creator = server.signup(username)
    ids = [creator.upload(make_clip(folder, f"{username}{i}", seconds=2.5, seed=i + 3, hue=60.0 * i),
                          caption=f"{username} clip {i} #browserflow") for i in range(count)]
    for video_id in ids:
        creator.wait_ready(video_id)
    creator.close()
    return ids


def _user_id(server, username: str) -> int:
    with server.services.session_factory() as db:
        return db.scalar(select(User.id).where(User.username == username))


def _events(server, user_id: int) -> list[EventRow]:
    server.services.events.settle()  # acknowledged events reach the table one move later
    with server.services.session_factory() as db:
        return list(db.scalars(select(EventRow).where(EventRow.user_id == user_id).order_by(EventRow.seq)))


def test_sign_up_upload_watch_and_engage(live_server, phone, clip_folder):
    server, page = live_server, phone
    maya_ids = _seed_creator(server, clip_folder, "maya", 2)

    # Sign up through the form; the cookie session and its CSRF token drive every later write.
    # Signing up from the upload page's prompt returns there, so For You is first opened after the upload.
    page.goto("/signup?next=/upload")
    page.fill("#field-username", "sam")
    page.fill("#field-display_name", "Sam Okafor")
    page.fill("#field-birth_date", "1994-06-15")
    page.fill("#field-password", PASSWORD)
    page.click("form.auth-form button[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == "/upload")
    sam_id = _user_id(server, "sam")
    assert sam_id is not None

    # Upload a clip and wait for the server to process it.
    page.set_input_files("#upload-file", str(make_clip(clip_folder, "sam-upload", seconds=2.0, seed=11, hue=200)))
    page.fill("#caption", "my first one #browserflow")
    page.click("form.upload-form button[type=submit]")
    page.wait_for_selector("text=Your video is live", timeout=120_000)

    # The studio tells the creator which traffic pool the new video is being tried in.
    page.goto("/studio")
    page.click(".studio-video:has-text('my first one')")
    page.wait_for_selector(".pool-card")
    assert page.get_attribute(".pool-card", "data-pool-status") == "active"
    assert page.inner_text(".pool-card .pool-badge").startswith("first · 1 of")

    # Their data archive is written in the background and downloads by itself once ready.
    page.goto("/settings")
    with page.expect_download(timeout=60_000) as downloaded:
        page.click("button.setting:has-text('Download your data')")
    archive = zipfile.ZipFile(downloaded.value.path())
    assert json.loads(archive.read("account.json"))["username"] == "sam"
    assert any(name.startswith("videos/") and name.endswith(".mp4") for name in archive.namelist())

    # The For You feed: remember the page the server served, to join events back to it.
    with page.expect_response(lambda r: "/api/feed/foryou" in r.url and r.request.method == "GET") as served:
        page.click("nav.tabbar a[href='/']")
    feed_page = served.value.json()
    by_id = {item["id"]: item for item in feed_page["items"]}
    assert set(maya_ids) <= set(by_id), "the seeded videos should be in the first For You page"
    page.wait_for_selector(".slide.active")
    page.wait_for_function(PLAYING, timeout=20_000)
    first_id = int(page.get_attribute(".slide.active", "data-video-id"))

    # Scroll on to the next video (keyboard on this viewport; the feed snaps one video per screen),
    # and keep going until a video of maya's is on screen.
    watched = [first_id]
    while int(page.get_attribute(".slide.active", "data-video-id")) not in maya_ids or len(watched) < 2:
        page.keyboard.press("ArrowDown")
        page.wait_for_function(
            "(previous) => document.querySelector('.slide.active')?.dataset.videoId !== String(previous)",
            arg=watched[-1])
        watched.append(int(page.get_attribute(".slide.active", "data-video-id")))
        assert len(watched) <= 6, "never reached one of maya's videos"
    target = watched[-1]
    page.wait_for_function(PLAYING, timeout=20_000)
    page.wait_for_timeout(1200)  # watch a little of it

    # Like, comment and follow from the rail.
    page.click(".slide.active .rail-heart")
    page.wait_for_selector(".slide.active .rail-heart[aria-pressed='true']")
    page.click(".slide.active .rail-comment")
    page.fill(".comments-sheet .composer-input", "Love the colours here")
    page.keyboard.press("Enter")
    page.wait_for_selector(".comments-sheet .comment-body:has-text('Love the colours here')")
    page.keyboard.press("Escape")
    page.click(".slide.active .follow-badge")
    page.wait_for_selector(".toast:has-text('Following @maya')")

    # Leaving the feed ends the viewing and flushes the event batch.
    page.click("nav.tabbar a[href='/search']")

    def logged():
        rows = [e for e in _events(server, sam_id) if e.video_id == target]
        kinds = {e.kind for e in rows}
        return rows if {"impression", "play", "watch", "like", "comment"} <= kinds else None

    rows = wait_until(logged, timeout_s=20, message="the browser's events in the event log")
    item = by_id[target]
    for event in rows:
        if event.kind in ("impression", "play", "watch", "like", "comment"):
            assert event.request_id == feed_page["request_id"] == item["request_id"], event.kind
            assert event.source == "foryou" and event.position == item["position"], event.kind
    watches = [e for e in rows if e.kind == "watch"]
    assert max(e.watch_seconds for e in watches) > 0.5
    assert all(e.watch_ratio is not None and e.watch_ratio > 0 for e in watches)
    assert len({e.event_id for e in rows}) == len(rows)

    # The first video was left within seconds of arriving, so it was logged as a skip or a finish.
    first_kinds = {e.kind for e in _events(server, sam_id) if e.video_id == first_id}
    assert {"impression", "play"} <= first_kinds and ({"skip", "complete"} & first_kinds)

    with server.services.session_factory() as db:
        maya_id = db.scalar(select(User.id).where(User.username == "maya"))
        assert db.get(Like, (sam_id, target)) is not None
        assert db.get(Follow, (sam_id, maya_id)) is not None
        bodies = db.scalars(select(Comment.body).where(Comment.video_id == target, Comment.user_id == sam_id)).all()
        assert bodies == ["Love the colours here"]
    assert not [e for e in page.console_errors if "favicon" not in e]
