"""The web client: one HTML shell for every client-side route, carrying the viewer's session and link previews.

The browser renders everything else from ``/static`` (plain ES modules, no build step). An import map pins
each module URL to a hash of its content, so after a deploy a browser never mixes cached old modules with
new ones.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from openfyp.platform.access import user_by_name
from openfyp.store.tables import User, Video
from openfyp.web.deps import DB, AppServices, MaybeViewer
from openfyp.web.params import MAX_ID
from openfyp.web.schemas import user_out

WEB_DIR = Path(__file__).resolve().parents[1]
STATIC_DIR = WEB_DIR / "static"
TEMPLATES = Jinja2Templates(directory=WEB_DIR / "templates")
SITE_NAME = "openfyp"
DEFAULT_DESCRIPTION = "Short videos, a For You feed that explains itself, and your data kept in your region."

router = APIRouter(include_in_schema=False)



class AssetVersions:
    """Short content hashes of the static files, recomputed only for files whose size or mtime changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def versions(self) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for path in sorted(self.root.rglob("*")):
                if not path.is_file():
                    continue
                relative = path.relative_to(self.root).as_posix()
                stat = path.stat()
                cached = self._known.get(relative)
                if cached is None or cached[:2] != (stat.st_mtime_ns, stat.st_size):
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
                    cached = (stat.st_mtime_ns, stat.st_size, digest)
                    self._known[relative] = cached
                found[relative] = cached[2]
        return found

    def url(self, relative: str) -> str:
        version = self.versions().get(relative, "0")
        return f"/static/{relative}?v={version}"

    def import_map(self) -> dict[str, Any]:
        return {"imports": {f"/static/{name}": f"/static/{name}?v={digest}"
                            for name, digest in self.versions().items() if name.endswith(".js")}}


ASSETS = AssetVersions(STATIC_DIR)


def _boot_data(viewer, services) -> dict[str, Any]:
    return {
        "me": user_out(viewer.user).model_dump(mode="json") if viewer else None,
        "csrf_token": viewer.auth.csrf_token if viewer else None,
        "region": services.settings.region,
    }


def _shell(request: Request, viewer, services, *, title: str | None = None, description: str | None = None,
           preview: dict[str, str] | None = None) -> HTMLResponse:
    context = {
        "title": f"{title} · {SITE_NAME}" if title else SITE_NAME,
        "description": description or DEFAULT_DESCRIPTION,
        "preview": preview,
        "css_url": ASSETS.url("css/app.css"),
        "app_url": ASSETS.url("js/app.js"),
        "icon_url": ASSETS.url("icons/logo.svg"),
        "import_map": ASSETS.import_map(),
        "boot": _boot_data(viewer, services),
    }
    response = TEMPLATES.TemplateResponse(request, "app.html", context)
    # The page embeds the viewer's CSRF token, so no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _absolute(services, path: str | None) -> str | None:
    if not path:
        return None
    return services.settings.public_base_url.rstrip("/") + path


def _video_preview(db, services, video_id: int) -> dict[str, str] | None:
    """Link-preview tags for a share link, only for a video anyone may see."""
    if not 1 <= video_id <= MAX_ID:  # no such video; and SQLite cannot even compare an integer past 64 bits
        return None
    row = db.execute(
        select(Video, User).join(User, User.id == Video.creator_id).where(
            Video.id == video_id, Video.region == services.settings.region, Video.status == "ready",
            Video.visibility == "public", Video.moderation_state == "ok", Video.deleted_at.is_(None),
            Video.adult_only.is_(False), User.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    video, creator = row
    preview = {
        "title": f"@{creator.username} on {SITE_NAME}",
        "description": (video.caption or "").strip()[:200] or f"A video by {creator.display_name or creator.username}",
        "url": _absolute(services, f"/v/{video.id}") or "",
        "type": "video.other",
    }
    if video.poster_key:
        preview["image"] = _absolute(services, f"/media/{video.poster_key}") or ""
    return preview


def _profile_preview(db, services, username: str) -> dict[str, str] | None:
    user = user_by_name(db, username)
    if user is None:
        return None
    return {
        "title": f"{user.display_name or user.username} (@{user.username})",
        "description": (user.bio or "").strip()[:200] or f"Videos by @{user.username} on {SITE_NAME}",
        "url": _absolute(services, f"/@{user.username}") or "",
        "type": "profile",
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services)


@router.get("/following", response_class=HTMLResponse)
def following(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Following")


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, viewer: MaybeViewer, services: AppServices, q: str = "") -> HTMLResponse:
    return _shell(request, viewer, services, title=f"“{q.strip()[:60]}”" if q.strip() else "Discover")


@router.get("/upload", response_class=HTMLResponse)
def upload(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Upload")


@router.get("/login", response_class=HTMLResponse)
def login(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Log in")


@router.get("/signup", response_class=HTMLResponse)
def signup(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Sign up")


@router.get("/studio", response_class=HTMLResponse)
def studio(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Studio")


@router.get("/studio/{video_id:int}", response_class=HTMLResponse)
def studio_video(request: Request, video_id: int, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Video analytics")


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Settings")


@router.get("/@{username}", response_class=HTMLResponse)
def profile(request: Request, username: str, viewer: MaybeViewer, services: AppServices, db: DB) -> HTMLResponse:
    preview = _profile_preview(db, services, username)
    return _shell(request, viewer, services, title=f"@{username.lower()}",
                  description=preview["description"] if preview else None, preview=preview)


@router.get("/tag/{name}", response_class=HTMLResponse)
def hashtag(request: Request, name: str, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title=f"#{name}")


@router.get("/sound/{sound_id:int}", response_class=HTMLResponse)
def sound(request: Request, sound_id: int, viewer: MaybeViewer, services: AppServices) -> HTMLResponse:
    return _shell(request, viewer, services, title="Sound")


@router.get("/v/{video_id:int}", response_class=HTMLResponse)
def video(request: Request, video_id: int, viewer: MaybeViewer, services: AppServices, db: DB) -> HTMLResponse:
    preview = _video_preview(db, services, video_id)
    return _shell(request, viewer, services, title=preview["title"] if preview else "Video",
                  description=preview["description"] if preview else None, preview=preview)


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "icons" / "logo.svg", media_type="image/svg+xml")
