"""Builders for moderation tests: real rows in the real database, as the upload and comment paths make them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from openfyp.services import Services
from openfyp.store.tables import Comment, Follow, Hashtag, User, Video, VideoHashtag


def birth_date_for_age(age: int) -> str:
    """A birth date that makes someone ``age`` today (a month past their birthday)."""
    today = datetime.now(UTC).date()
    born = today.replace(day=1) - timedelta(days=31)
    return date(born.year - age, born.month, 1).isoformat()


def set_role(services: Services, user_id: int, role: str) -> None:
    with services.session_factory() as db:
        db.get(User, user_id).role = role
        db.commit()


def make_video(services: Services, creator_id: int, caption: str = "a video", *, hashtags: tuple[str, ...] = (),
               visibility: str = "public", adult_only: bool = False, moderation_state: str = "ok") -> int:
    with services.session_factory() as db:
        video = Video(region=services.region, creator_id=creator_id, caption=caption, status="ready",
                      visibility=visibility, adult_only=adult_only, moderation_state=moderation_state,
                      media_key=f"videos/{creator_id}-{caption[:8]}.mp4", poster_key="posters/p.jpg",
                      duration_s=12.0, width=720, height=1280, ready_at=datetime.now(UTC))
        db.add(video)
        db.flush()
        for name in hashtags:
            tag = db.scalar(select(Hashtag).where(Hashtag.name == name))
            if tag is None:
                tag = Hashtag(region=services.region, name=name)
                db.add(tag)
                db.flush()
            db.add(VideoHashtag(video_id=video.id, hashtag_id=tag.id))
        db.commit()
    # Rows inserted behind the platform's back: tell the engine, as publishing through the platform does.
    services.feed.video_changed(video.id)
    return video.id


def make_comment(services: Services, video_id: int, user_id: int, body: str) -> int:
    with services.session_factory() as db:
        comment = Comment(region=services.region, video_id=video_id, user_id=user_id, body=body)
        db.add(comment)
        db.commit()
        return comment.id


def follow(services: Services, follower_id: int, followee_id: int) -> None:
    with services.session_factory() as db:
        db.add(Follow(follower_id=follower_id, followee_id=followee_id))
        db.commit()


def row(services: Services, model, ident):
    with services.session_factory() as db:
        found = db.get(model, ident)
        if found is not None:
            db.expunge(found)
        return found


_PASSWORD_HASH: str | None = None


def api_user(client, username: str, *, age: int = 30, role: str = "viewer"):
    """A signed-in bearer client for a user stored directly, skipping signup's deliberately slow password
    hashing (signup itself is tested with the auth API); sessions and everything after are the real ones."""
    from openfyp.platform import accounts
    from tests.conftest import ApiUser

    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = accounts.hash_password("correct horse")
    services = client.app.state.services
    with services.session_factory() as db:
        user = User(region=services.region, username=username, password_hash=_PASSWORD_HASH,
                    display_name=username, birth_date=date.fromisoformat(birth_date_for_age(age)), role=role)
        db.add(user)
        db.flush()
        issued = accounts.open_session(db, user, kind="bearer", days=1)
        db.commit()
        return ApiUser(client, username, issued.token, user.id)
