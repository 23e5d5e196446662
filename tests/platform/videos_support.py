"""Shared helpers for the video, feed and analytics tests: tiny real clips and ready videos in the store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from openfyp.media.synth import generate_clip, make_still_image
from openfyp.platform.accounts import open_session
from openfyp.platform.videos import new_token, set_hashtags, parse_hashtags
from openfyp.services import Services
from openfyp.store.base import utcnow
from openfyp.store.tables import User, Video, VideoStatus
from tests.conftest import ApiUser

CLIP_SECONDS = 1.0


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-clips")


@pytest.fixture(scope="session")
def tiny_clip(media_dir: Path) -> Path:
    """A real 1 s 144x256 H.264/AAC clip, small enough to upload and transcode in a blink."""
    return generate_clip(media_dir / "tiny.mp4", seconds=CLIP_SECONDS, width=144, height=256, pattern="testsrc2",
                         hue=120.0, tone_hz=330.0, seed=5)


@pytest.fixture(scope="session")
def tiny_poster(media_dir: Path) -> Path:
    return make_still_image(media_dir / "poster.jpg", width=72, height=128)


def quick_user(services: Services, username: str, *, birth_date: date = date(1990, 1, 1)) -> SimpleNamespace:
    """An account that never signs in (no password hash to compute): creators in feed and analytics tests."""
    with services.session_factory() as db:
        user = User(region=services.region, username=username, password_hash="!", display_name=username,
                    birth_date=birth_date)
        db.add(user)
        db.commit()
        return SimpleNamespace(id=user.id, username=username)


def quick_api_user(client, services: Services, username: str, *, birth_date: date = date(1990, 1, 1)) -> ApiUser:
    """A signed-in API client without the cost of hashing a password (the sign-up path has its own tests)."""
    account = quick_user(services, username, birth_date=birth_date)
    with services.session_factory() as db:
        issued = open_session(db, db.get(User, account.id), kind="bearer", days=1)
        db.commit()
    return ApiUser(client, username, issued.token, account.id)


def fast_settings(services: Services, **overrides) -> None:
    """Tests transcode to the smallest allowed size; other limits as the test needs."""
    services.settings.transcode_short_edge = 144
    for name, value in overrides.items():
        setattr(services.settings, name, value)


def upload(user, clip: Path | bytes, *, filename: str = "clip.mp4", **fields):
    data = clip.read_bytes() if isinstance(clip, Path) else clip
    return user.post("/api/videos", files={"file": (filename, data, "video/mp4")},
                     data={k: str(v) for k, v in fields.items()})


def seed_ready_video(services: Services, creator_id: int, clip: Path, poster: Path, *, caption: str = "",
                     visibility: str = "public", created_at: datetime | None = None, **columns) -> int:
    """A ready video whose files are really in the media store, without paying for a transcode each time."""
    token = new_token()
    with services.session_factory() as db:
        values = {"status": VideoStatus.ready.value, "duration_s": CLIP_SECONDS, "width": 144, "height": 256,
                  "ready_at": utcnow(), **columns}
        video = Video(region=services.region, creator_id=creator_id, caption=caption, visibility=visibility,
                      created_at=created_at or utcnow(), **values)
        db.add(video)
        db.flush()
        video.media_key, video.poster_key = f"videos/{video.id}/{token}.mp4", f"posters/{video.id}/{token}.jpg"
        services.media.put_file(video.media_key, clip, "video/mp4")
        services.media.put_file(video.poster_key, poster, "image/jpeg")
        set_hashtags(db, video, parse_hashtags(caption))
        db.commit()
        return video.id
