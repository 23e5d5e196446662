"""A viewer's personal muted words: videos whose caption or hashtags contain one are left out of their
feeds, and comments containing one are left out of the comment lists they read."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from openfyp.moderation.text import WordMatcher, clean_pattern
from openfyp.platform.errors import InvalidInput, NotFound
from openfyp.store.base import utcnow
from openfyp.store.tables import MutedWord, User

MAX_MUTED_WORDS = 200


def list_muted_words(db: Session, user_id: int) -> list[MutedWord]:
    return list(db.scalars(select(MutedWord).where(MutedWord.user_id == user_id).order_by(MutedWord.id)))


def mute(db: Session, user: User, word: str) -> tuple[MutedWord, bool]:
    """Adds ``word`` to the user's muted words; muting it again is absorbed. Returns (row, created)."""
    pattern = clean_pattern(word, field="word")
    existing = db.scalar(select(MutedWord).where(MutedWord.user_id == user.id, MutedWord.pattern == pattern))
    if existing is not None:
        return existing, False
    count = db.scalar(select(func.count()).select_from(MutedWord).where(MutedWord.user_id == user.id))
    if count >= MAX_MUTED_WORDS:
        raise InvalidInput("too_many_muted_words", f"you can mute at most {MAX_MUTED_WORDS} words", "word")
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(MutedWord).values(region=user.region, user_id=user.id, pattern=pattern, created_at=utcnow())
               .on_conflict_do_nothing(index_elements=["user_id", "pattern"]))
    row = db.scalar(select(MutedWord).where(MutedWord.user_id == user.id, MutedWord.pattern == pattern))
    return row, True


def unmute(db: Session, user_id: int, muted_id: int) -> None:
    row = db.get(MutedWord, muted_id)
    if row is None or row.user_id != user_id:
        raise NotFound("muted_word", muted_id)
    db.delete(row)
    db.flush()


def muted_matcher(db: Session, user_id: int | None) -> WordMatcher:
    if user_id is None:
        return WordMatcher.of(())
    return WordMatcher.of(db.scalars(select(MutedWord.pattern).where(MutedWord.user_id == user_id)))
