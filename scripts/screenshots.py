"""Screenshots of the web client on a phone viewport, from a real server with real uploaded videos.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only feed,studio]

Starts openfyp on a free local port with a fresh data directory, uploads a handful of generated clips
through the API, drives Debian's Chromium with Playwright like a person would (signing in, watching,
opening sheets, uploading) and saves one PNG per screen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.browser_support import (
    PASSWORD,
    LiveServer,
    launch_chromium,
    make_clip,
    phone_context,
    wait_until,
)

CLIPS = [  # creator, caption, synth pattern, hue, the big label drawn into the picture
    ("maya", "Golden hour over the harbour, shot on a 10 minute walk home #sunset #citywalk #calm", "plasma", 20,
     "golden hour"),
    ("leo", "Three chords, one loop. Tell me what song this is #guitar #music", "mandelbrot", 200, "3 chords"),
    ("maya", "Tiny kitchen, big flavour: 5 minute noodles #cooking #quickrecipe", "gradients", 40, "noodles"),
    ("nora", "Mapping the neighbourhood in colour #art #timelapse", "life", 300, "city map"),
    ("leo", "When the beat drops at 2am #music #vibes", "cellauto", 120, "2am"),
]
SCREENS = ("login", "feed", "comments", "why", "profile", "search", "settings", "desktop", "upload", "studio")


def _wait_playing(page) -> None:
    page.wait_for_function(
        "() => { const v = document.querySelector('.slide.active video');"
        " return v && v.readyState >= 2 && v.currentTime > 0.4; }", timeout=20_000)


def seed(server: LiveServer, scratch: Path) -> dict:
    people = {name: server.signup(name, display_name=display) for name, display in
              (("maya", "Maya Chen"), ("leo", "Leo Park"), ("nora", "Nora Ruiz"), ("sam", "Sam Okafor"))}
    people["maya"].call("PATCH", "/api/users/me", json={"bio": "Slow walks, fast food, golden light. Posting daily-ish."})
    ids = []
    for index, (creator, caption, pattern, hue, label) in enumerate(CLIPS):
        clip = make_clip(scratch, f"clip{index}", seconds=4.0, pattern=pattern, hue=hue, seed=index, label=label,
                         width=540, height=960)
        ids.append(people[creator].upload(clip, caption))
    for video_id, (creator, *_rest) in zip(ids, CLIPS, strict=True):
        people[creator].wait_ready(video_id)
    first = ids[0]
    leo, nora = people["leo"], people["nora"]
    top = leo.call("POST", f"/api/videos/{first}/comments", json={"body": "The colours here are unreal, what camera is this?"})
    maya = people["maya"]
    maya.call("POST", f"/api/videos/{first}/comments", json={"body": "Thank you! Same spot every evening.",
                                                            "parent_id": top["id"]})
    nora.call("POST", f"/api/videos/{first}/comments", json={"body": "Which harbour is this? #citywalk"})
    for person in (leo, nora):
        person.call("POST", f"/api/videos/{first}/like", json={})
        person.call("POST", "/api/users/maya/follow", json={})
    return {"people": people, "video_ids": ids}


def shoot(out: Path, only: set[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    scratch = Path(tempfile.mkdtemp(prefix="openfyp-shots-"))
    server = LiveServer(scratch / "data").start()
    try:
        data = seed(server, scratch)
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            context = phone_context(browser, server.url)
            page = context.new_page()

            def save(name: str) -> None:
                if only and name not in only:
                    return
                page.wait_for_timeout(450)  # let sheet and toast transitions settle
                path = out / f"{name}.png"
                page.screenshot(path=str(path))
                saved.append(path)
                print(f"saved {path}")

            page.goto("/login")
            page.fill("#field-username", "sam")
            page.fill("#field-password", PASSWORD)
            save("login")
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            page.wait_for_selector(".slide.active")
            _wait_playing(page)
            page.wait_for_timeout(1200)
            save("feed")

            page.click(".slide.active .rail-comment")
            page.wait_for_selector(".comments-sheet .comment")
            save("comments")
            page.keyboard.press("Escape")

            page.click(".slide.active .rail-more")
            page.click("text=Why this video")
            page.wait_for_selector(".why-sheet")
            save("why")
            page.keyboard.press("Escape")

            page.goto("/@maya")
            page.wait_for_selector(".grid .tile-poster, .grid-section .empty")
            page.wait_for_timeout(600)
            save("profile")

            page.goto("/search?q=music")
            page.wait_for_selector(".search-results .tile, .search-results .person")
            page.wait_for_timeout(600)
            save("search")

            page.goto("/settings")
            page.wait_for_selector(".settings-group")
            save("settings")

            if not only or "desktop" in only:
                desktop = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 800},
                                              storage_state=context.storage_state())
                wide = desktop.new_page()
                wide.goto(f"/v/{data['video_ids'][1]}")
                wide.wait_for_selector(".slide.active")
                _wait_playing(wide)
                wide.wait_for_timeout(800)
                path = out / "desktop.png"
                wide.screenshot(path=str(path))
                saved.append(path)
                print(f"saved {path}")
                desktop.close()

            if not only or "upload" in only:
                clip = make_clip(scratch, "upload", seconds=6.0, pattern="plasma", hue=280, seed=9,
                                 label="New upload", width=720, height=1280)
                page.goto("/upload")
                page.set_input_files("#upload-file", str(clip))
                page.fill("#caption", "First try at a night timelapse #timelapse #night #city")
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                # A slow uplink, so the picture catches the bar part way.
                cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 40, "downloadThroughput": 4_000_000,
                    "uploadThroughput": max(20_000, clip.stat().st_size // 12)})
                page.click("form.upload-form button[type=submit]")
                wait_until(lambda: int(page.inner_text(".upload-percent").rstrip("%") or 0) >= 35,
                           timeout_s=30, message="upload progress")
                save("upload")
                cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
                page.wait_for_selector("text=Your video is live", timeout=120_000)
                save("upload-done")

            studio = phone_context(browser, server.url)
            creator_page = studio.new_page()
            page = creator_page
            page.goto("/login")
            page.fill("#field-username", "maya")
            page.fill("#field-password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server.url}/")
            page.goto("/studio")
            page.wait_for_selector(".kpis")
            save("studio")
            page.goto(f"/studio/{data['video_ids'][0]}")
            page.wait_for_selector(".kpis")
            save("studio-video")
            studio.close()
            context.close()
            browser.close()
    finally:
        server.stop()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(SCREENS)}")
    args = parser.parse_args()
    started = time.monotonic()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if "upload" in only:
        only.add("upload-done")
    if "studio" in only:
        only.add("studio-video")
    saved = shoot(args.out, only)
    print(f"{len(saved)} screenshots in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
