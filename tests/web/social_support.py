"""Test data for the social, events and search tests: real rows in the real database.

Accounts are inserted with one password hash computed once, because hashing with argon2 for every
account would dominate the run time; the bearer sessions are real ones.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select

from openfyp.platform import accounts
from openfyp.services import Services
from openfyp.store.tables import Hashtag, Sound, User, Video, VideoHashtag
from tests.conftest import ApiUser

PASSWORD = "correct horse"
_PASSWORD_HASH = accounts.hash_password(PASSWORD)


def fast_user(client, services: Services, username: str, *, birth_date: date = date(1990, 1, 1),
              role: str = "viewer", display_name: str | None = None) -> ApiUser:
    with services.session_factory() as db:
        user = User(region=services.region, username=username, password_hash=_PASSWORD_HASH,
                    display_name=display_name or username, birth_date=birth_date, role=role)
        db.add(user)
        db.flush()
        issued = accounts.open_session(db, user, kind="bearer", days=1)
        db.commit()
        return ApiUser(client, username, issued.token, user.id)


def add_video(services: Services, creator_id: int, caption: str = "", *, visibility: str = "public",
              status: str = "ready", moderation_state: str = "ok", adult_only: bool = False,
              hashtags: tuple[str, ...] = (), sound_id: int | None = None) -> int:
    token = secrets.token_hex(8)
    with services.session_factory() as db:
        video = Video(region=services.region, creator_id=creator_id, caption=caption, status=status,
                      visibility=visibility, moderation_state=moderation_state, adult_only=adult_only,
                      media_key=f"videos/{token}.mp4", poster_key=f"posters/{token}.jpg", duration_s=12.0,
                      width=720, height=1280, sound_id=sound_id)
        db.add(video)
        db.flush()
        for name in hashtags:
            tag = db.scalar(select(Hashtag).where(Hashtag.region == services.region, Hashtag.name == name))
            if tag is None:
                tag = Hashtag(region=services.region, name=name)
                db.add(tag)
                db.flush()
            db.add(VideoHashtag(video_id=video.id, hashtag_id=tag.id))
        db.commit()
        return video.id


def add_sound(services: Services, creator_id: int | None, title: str = "a sound") -> int:
    with services.session_factory() as db:
        sound = Sound(region=services.region, title=title, creator_id=creator_id, duration_s=10.0,
                      audio_key=f"audio/{secrets.token_hex(8)}.m4a")
        db.add(sound)
        db.commit()
        return sound.id


def update_row(services: Services, table, row_id, **values) -> None:
    with services.session_factory() as db:
        row = db.get(table, row_id)
        for name, value in values.items():
            setattr(row, name, value)
        db.commit()


def count_rows(services: Services, statement) -> int:
    with services.session_factory() as db:
        return len(db.execute(statement).all())
