"""A real openfyp server and a real browser for the web client's tests and screenshots.

``LiveServer`` runs the app under uvicorn on a free 127.0.0.1 port in a background thread, on SQLite in a
temporary directory with the job workers on (uploads really get transcoded). ``launch_chromium`` starts
Debian's Chromium through Playwright; ``phone_context`` gives it a phone's viewport, touch and pixel ratio.
``ApiSession`` seeds data through the public JSON API with a bearer token.

Test modules load this as a plugin (``pytest_plugins``) for its fixtures: ``live_server``, ``browser``,
``phone``, ``clip_folder``. Its failures are plain AssertionErrors with messages, so pytest's assertion
rewriting is off for it (it is imported before pytest would get the chance): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from openfyp.services import Services, build_services
from openfyp.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The whole app (API, web client, media, job workers) served over real HTTP."""

    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        import uvicorn

        from openfyp.web.app import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        values: dict[str, Any] = {
            "data_dir": data_dir, "region": "us", "job_workers": 1, "secret_key": "browser-test-secret",
            "write_rate_per_minute": 100_000, "public_base_url": self.url,
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.services: Services = build_services(self.settings)
        config = uvicorn.Config(create_app(self.services), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="openfyp-live-server", daemon=True)

    def start(self, timeout_s: float = 30.0) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self.services.close()

    def api(self, token: str | None = None) -> ApiSession:
        return ApiSession(self.url, token)

    def signup(self, username: str, *, display_name: str | None = None, birth_date: str = "1992-04-02") -> ApiSession:
        anonymous = self.api()
        body = anonymous.call("POST", "/api/auth/signup", json={
            "username": username, "password": PASSWORD, "birth_date": birth_date, "session": "bearer",
            "display_name": display_name or username.title()})
        anonymous.close()
        session = self.api(body["token"])
        session.user = body["user"]
        return session


@dataclass
class ApiSession:
    """A bearer-token client of the live server's JSON API."""

    base_url: str
    token: str | None = None
    user: dict | None = None

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def upload(self, clip: Path, caption: str = "") -> int:
        with clip.open("rb") as handle:
            body = self.call("POST", "/api/videos", files={"file": (clip.name, handle, "video/mp4")},
                             data={"caption": caption})
        return body["id"]

    def wait_ready(self, video_id: int, timeout_s: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            video = self.call("GET", f"/api/videos/{video_id}")
            if video["status"] == "ready":
                return video
            if video["status"] == "failed":
                raise AssertionError(f"video {video_id} failed: {video['failure']}")
            if time.monotonic() > deadline:
                raise AssertionError(f"video {video_id} still {video['status']} after {timeout_s}s")
            time.sleep(0.3)

    def close(self) -> None:
        self.http.close()


def make_clip(folder: Path, name: str, *, seconds: float = 2.0, pattern: str | None = None, hue: float = 0.0,
              seed: int = 0, label: str | None = None, width: int = 360, height: int = 640) -> Path:
    """A short synthetic vertical clip (real H.264/AAC) made with the media package's generator."""
    from openfyp.media import synth

    chosen = pattern or synth.PATTERNS[seed % len(synth.PATTERNS)]
    return synth.generate_clip(folder / f"{name}.mp4", seconds=seconds, width=width, height=height, pattern=chosen,
                               hue=hue, tone_hz=220.0 + 40 * (seed % 7), seed=seed, label=label)


def chromium_available() -> bool:
    if not CHROMIUM.exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def phone_context(browser, base_url: str, **extra: Any):
    context = browser.new_context(base_url=base_url, **PHONE, **extra)
    context.set_default_timeout(15_000)
    return context


# ---- pytest fixtures -------------------------------------------------------------------------------


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


_SHARED: dict[str, Any] = {}


def shared_browser():
    """One Chromium for the whole test process.

    Several test modules import the ``browser`` fixture, which makes one session fixture per module;
    Playwright's sync API allows a single running instance, so they all share this one.
    """
    if "browser" not in _SHARED:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _SHARED["playwright"] = playwright
        _SHARED["browser"] = launch_chromium(playwright)
        atexit.register(_close_shared_browser)
    return _SHARED["browser"]


def _close_shared_browser() -> None:
    browser, playwright = _SHARED.pop("browser", None), _SHARED.pop("playwright", None)
    if browser is not None:
        browser.close()
    if playwright is not None:
        playwright.stop()


@pytest.fixture(scope="session")
def browser() -> Any:
    if not chromium_available():
        pytest.skip("needs Playwright and Chromium at /usr/bin/chromium")
    return shared_browser()


@contextmanager
def phone_page(browser, base_url: str) -> Iterator[Any]:
    """A page in a fresh phone-sized context; ``page.console_errors`` collects console errors and crashes."""
    context = phone_context(browser, base_url)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"pageerror: {exc}"))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone(browser, live_server: LiveServer) -> Iterator[Any]:
    with phone_page(browser, live_server.url) as page:
        yield page


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


def ffmpeg_available() -> bool:
    try:
        from openfyp.media.ffmpeg import ffmpeg_exe

        return bool(ffmpeg_exe())
    except Exception:  # noqa: BLE001 - any failure to find ffmpeg means "not available"
        return shutil.which("ffmpeg") is not None
