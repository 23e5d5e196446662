"""Signed-out visitors in a real browser: the For You feed plays, actions ask for an account, and every
deep link (profile, hashtag, sound, single video, search, forms) loads directly."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.web.browser_support import PASSWORD, LiveServer, make_clip, phone_page

# The browser fixtures (browser, clip_folder) come from the support module.
pytest_plugins = ["tests.web.browser_support"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLAYING = ("() => { const v = document.querySelector('.slide.active video');"
           " return !!v && v.readyState >= 2 && v.currentTime > 0.2 && !v.paused; }")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, clip_folder):
    """One server for this module's read-only visits: maya's two videos, watched and liked by a fan."""
    server = LiveServer(tmp_path_factory.mktemp("pages") / "data").start()
    try:
        maya = server.signup("maya", display_name="Maya Chen")  # password: browser_support.PASSWORD
        ids = [maya.upload(make_clip(clip_folder, f"deep{i}", seconds=2.0, seed=i, hue=90.0 * i),
                           caption=f"deep link {i} #deeplink") for i in range(2)]
        videos = [maya.wait_ready(video_id) for video_id in ids]
        # Signed-out For You is regional popularity, so someone has to have watched and liked them.
        fan = server.signup("fan")
        now = datetime.now(UTC).isoformat()
        fan.call("POST", "/api/events", json={"events": [
            {"id": str(uuid.uuid4()), "kind": kind, "video_id": video_id, "client_ts": now, "watch_seconds": 2.0,
             "watch_ratio": 1.0, "source": "foryou"} for video_id in ids for kind in ("impression", "play", "watch")]})
        for video_id in ids:
            fan.call("POST", f"/api/videos/{video_id}/like", json={})
        maya.close()
        fan.close()
        yield server, videos
    finally:
        server.stop()


@pytest.fixture
def visitor(browser, seeded):
    with phone_page(browser, seeded[0].url) as page:
        yield page


def test_signed_out_feed_plays_and_asks_to_sign_in(visitor):
    page = visitor
    posted_events = []
    page.on("request", lambda r: r.method == "POST" and "/api/events" in r.url and posted_events.append(r))

    page.goto("/")
    page.wait_for_selector(".slide.active")
    page.wait_for_function(PLAYING, timeout=20_000)
    assert page.evaluate("document.querySelector('.slide.active video').muted") is True
    assert page.get_attribute(".feed-mute", "aria-label") == "Unmute"

    # A tap brings the sound in, a second tap pauses.
    page.tap(".slide.active .stage")
    assert page.evaluate("document.querySelector('.slide.active video').muted") is False
    assert page.get_attribute(".feed-mute", "aria-label") == "Mute"
    page.tap(".slide.active .stage")
    page.wait_for_function("() => document.querySelector('.slide.active video').paused")
    assert "paused" in page.get_attribute(".slide.active", "class")
    page.tap(".slide.active .stage")
    page.wait_for_function(PLAYING)

    # The visible video and the next one load fully.
    preloads = page.eval_on_selector_all(".slide video", "vs => vs.map(v => v.preload)")
    assert preloads[:2] == ["auto", "auto"]

    page.keyboard.press("ArrowDown")
    page.wait_for_function("(id) => document.querySelector('.slide.active')?.dataset.videoId !== String(id)",
                           arg=int(page.get_attribute(".slide", "data-video-id")))

    # Acting without an account opens the sign-in prompt, which returns to this page afterwards.
    page.click(".slide.active .rail-heart")
    page.wait_for_selector(".auth-prompt")
    assert page.get_attribute(".auth-prompt a.btn-primary", "href") == "/signup?next=%2F"
    page.keyboard.press("Escape")
    page.wait_for_selector(".auth-prompt", state="detached")
    assert page.get_attribute(".slide.active .rail-heart", "aria-pressed") == "false"

    page.click(".slide.active .rail-more")
    page.click("text=Why this video")
    page.wait_for_selector(".why-sheet .why-summary")
    page.keyboard.press("Escape")

    page.click(".feed-tabs a[href='/following']")
    page.wait_for_selector("text=See videos from creators you follow")
    assert posted_events == [], "a signed-out visitor's viewing is not collected"
    assert not page.console_errors


def test_deep_links_load_directly(seeded, visitor):
    _, videos = seeded
    page = visitor
    first = videos[0]

    page.goto(f"/v/{first['id']}")
    page.wait_for_selector(f".slide.active[data-video-id='{first['id']}']")
    assert "deep link 0" in page.inner_text(".slide.active .meta-caption")
    assert page.title().startswith("@maya")

    page.goto("/@maya")
    page.wait_for_selector("h1.profile-name")
    assert page.inner_text("h1.profile-name") == "Maya Chen"
    assert page.inner_text(".profile-handle").startswith("@maya")
    page.wait_for_function("() => document.querySelectorAll('.grid .tile').length === 2")

    page.goto("/tag/deeplink")
    page.wait_for_selector(".collection-title")
    assert page.inner_text(".collection-title") == "#deeplink"
    page.wait_for_function("() => document.querySelectorAll('.grid .tile').length === 2")
    page.click(".grid .tile >> nth=1")
    page.wait_for_selector(".player-layer .slide.active")
    page.click(".player-back")
    page.wait_for_selector(".player-layer", state="detached")

    page.goto(f"/sound/{first['sound']['id']}")
    page.wait_for_selector(".collection-title")
    assert page.inner_text(".collection-title") == first["sound"]["title"]

    page.goto("/search?q=deep")
    page.wait_for_selector(".search-results .tile")
    assert page.input_value(".search-input") == "deep"
    page.click(".search-tab:has-text('Users')")
    page.fill(".search-input", "maya")
    page.wait_for_selector(".search-results .person-name:has-text('Maya Chen')")
    assert "type=users" in page.url

    for path, selector in (("/login", "#field-password"), ("/signup", "#field-birth_date"),
                           ("/studio", "text=Your creator studio"), ("/upload", "text=Sign in to post videos"),
                           ("/settings", "text=Sign in to change your settings"),
                           ("/following", "text=See videos from creators you follow")):
        page.goto(path)
        page.wait_for_selector(selector)

    page.goto("/v/999999")
    page.wait_for_selector("text=Video unavailable")
    page.goto("/@nobody_here")
    page.wait_for_selector("text=Couldn't find this account")
    unexpected = [e for e in page.console_errors if "404" not in e]
    assert not unexpected, unexpected


def _boot_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.DOTALL)
    assert match, "the page embeds its boot data"
    return json.loads(match.group(1))


def test_page_shell_carries_session_previews_and_pinned_modules(seeded):
    server, videos = seeded
    first = videos[0]
    with httpx.Client(base_url=server.url) as http:
        page = http.get(f"/v/{first['id']}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert '<meta property="og:title" content="@maya on openfyp">' in page.text
        assert f'<meta property="og:image" content="{server.url}{first["poster_url"]}">' in page.text
        assert _boot_data(page.text) == {"me": None, "csrf_token": None, "region": "us"}

        imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page.text, re.DOTALL).group(1))["imports"]
        assert "/static/js/app.js" in imports and "/static/js/feed/feed.js" in imports
        for module, pinned in imports.items():
            assert re.fullmatch(re.escape(module) + r"\?v=[0-9a-f]{10}", pinned)
        module = http.get(imports["/static/js/app.js"])
        assert module.status_code == 200 and "javascript" in module.headers["content-type"]

        signed_in = http.post("/api/auth/login", json={"username": "maya", "password": PASSWORD})
        assert signed_in.status_code == 200
        boot = _boot_data(http.get("/@maya").text)
        assert boot["me"]["username"] == "maya"
        assert boot["csrf_token"] == signed_in.json()["csrf_token"]

        assert http.get("/v/not-a-number").status_code == 404
        assert http.get("/sound/abc").status_code == 404
