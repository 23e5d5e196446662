"""Who may see what: the single viewing policy for users, videos and comments.

Everything that is hidden from a viewer is indistinguishable from something that does not exist (404),
so a block, a private video or a removed one never leaks through an error message or a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, Result, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session, aliased, with_loader_criteria

from openfyp.governance.residency import ALL_REGIONS, region_constant
from openfyp.moderation.sanctions import SanctionKind, not_sanctioned
from openfyp.platform.accounts import age_on, possible_username
from openfyp.platform.errors import NotFound
from openfyp.store.base import RegionBound
from openfyp.store.tables import Block, Comment, Follow, ModerationState, User, Video, VideoStatus, Visibility

STAFF_ROLES = frozenset({"moderator", "admin"})

StatementT = TypeVar("StatementT", bound=Executable)


def region_scoped(statement: StatementT, region: str) -> StatementT:
    """``statement`` with the residency guard's region criteria applied once, for statements built once and run
    on every feed request. The guard adds the same criteria to each execution, which makes a new statement
    whose cache key SQLAlchemy computes again - for a page's policy and hydration queries, more CPU than
    running them. The result opts out of the per-execution hook only because it already carries the criteria
    (``region = <region>`` on every ``RegionBound`` entity, aliases and subqueries included); the guard's
    refusal of a foreign row as it loads still applies."""
    region_sql = region_constant(region)
    criteria = with_loader_criteria(RegionBound, lambda cls: cls.region == region_sql, include_aliases=True)
    return statement.options(criteria).execution_options(**ALL_REGIONS)  # type: ignore[return-value]


def scoped_rows(db: Session, statement: Executable, parameters: dict[str, Any]) -> Result[Any]:
    """Run a ``region_scoped`` statement that selects columns, not entities, on the session's own connection
    and transaction. The region criteria are compiled into the statement either way; going through the
    session's ORM execution as well (loading hooks for entities there are none of, autoflush of writes a read
    path does not have) cost as much CPU again as the statement on a page's small reads."""
    return db.connection().execute(statement, parameters)


@dataclass(frozen=True)
class Audience:
    """The viewer a query answers for. Signed-out viewers are treated as minors: their age is unknown."""

    user_id: int | None
    adult: bool
    role: str | None = None

    @classmethod
    def of(cls, user: User | None, adult_age: int) -> Audience:
        if user is None:
            return cls(user_id=None, adult=False)
        adult = age_on(user.birth_date, datetime.now(UTC).date()) >= adult_age
        return cls(user_id=user.id, adult=adult, role=user.role)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


# The subqueries below use aliases so they never correlate with the same table in a caller's query
# (a following feed that joins follows, a comment list that joins users).


def block_between(a: int, b) -> ColumnElement[bool]:
    """True when ``a`` and ``b`` (an id or a column) block each other in either direction."""
    block = aliased(Block)
    return exists().where(or_(and_(block.blocker_id == a, block.blocked_id == b),
                              and_(block.blocker_id == b, block.blocked_id == a)))


def not_blocked_with(viewer_id: int | None, other) -> ColumnElement[bool]:
    return true() if viewer_id is None else ~block_between(viewer_id, other)


def is_blocked_either_way(db: Session, a: int, b: int) -> bool:
    return bool(db.scalar(select(block_between(a, b))))


def has_blocked(db: Session, blocker_id: int, blocked_id: int) -> bool:
    return db.get(Block, (blocker_id, blocked_id)) is not None


def is_following(db: Session, follower_id: int, followee_id: int) -> bool:
    return db.get(Follow, (follower_id, followee_id)) is not None


def _active_account(user_id) -> ColumnElement[bool]:
    account = aliased(User)
    return exists().where(account.id == user_id, account.deleted_at.is_(None))


def video_visible(audience: Audience, *, discovery: bool = False) -> ColumnElement[bool]:
    """The WHERE clause for videos this audience may watch.

    ``discovery`` narrows it to what may be found by strangers (search, hashtag and sound pages): public
    videos in good standing only, even the viewer's own private ones stay out.
    """
    viewer = audience.user_id
    suspended_creator_ok = not_sanctioned(Video.creator_id, SanctionKind.suspended)
    conditions = [
        Video.status == VideoStatus.ready.value,
        Video.deleted_at.is_(None),
        _active_account(Video.creator_id),
        not_blocked_with(viewer, Video.creator_id),
        or_(suspended_creator_ok, Video.creator_id == viewer) if viewer is not None else suspended_creator_ok,
    ]
    if discovery:
        # Discovery surfaces recommend to strangers: restricted creators' videos stay out, like in For You.
        conditions += [Video.visibility == Visibility.public.value,
                       Video.moderation_state == ModerationState.ok.value,
                       not_sanctioned(Video.creator_id)]
    else:
        own = Video.creator_id == viewer if viewer is not None else false()
        follow = aliased(Follow)
        follows_creator = (exists().where(follow.follower_id == viewer, follow.followee_id == Video.creator_id)
                           if viewer is not None else false())
        conditions += [
            or_(Video.visibility == Visibility.public.value, own,
                and_(Video.visibility == Visibility.followers.value, follows_creator)),
            # Held content waits for a moderator; only its author sees it meanwhile.
            or_(Video.moderation_state.in_([ModerationState.ok.value, ModerationState.restricted.value]),
                and_(Video.moderation_state == ModerationState.held.value, own)),
        ]
    if not audience.adult:
        suitable = Video.adult_only == false()
        conditions.append(or_(suitable, Video.creator_id == viewer) if viewer is not None else suitable)
    return and_(*conditions)


def visible_video(db: Session, video_id: int, audience: Audience) -> Video:
    video = db.scalar(select(Video).where(Video.id == video_id, video_visible(audience)))
    if video is None:
        raise NotFound("video", video_id)
    return video


def active_user(db: Session, user_id: int) -> User | None:
    user = db.get(User, user_id)
    return user if user is not None and user.deleted_at is None else None


def user_by_name(db: Session, username: str) -> User | None:
    name = possible_username(username)
    if name is None:
        return None
    return db.scalar(select(User).where(User.username == name, User.deleted_at.is_(None)))


def visible_user(db: Session, username: str, viewer_id: int | None, *, allow_blocked_by_viewer: bool = False) -> User:
    """The account behind ``username`` as this viewer may see it.

    An account that blocked the viewer does not exist for them. One the viewer blocked stays reachable
    only where ``allow_blocked_by_viewer`` says so (their profile page and unblocking), never for content.
    """
    user = user_by_name(db, username)
    if user is None or viewer_id is None or user.id == viewer_id:
        if user is None:
            raise NotFound("user", username)
        return user
    if has_blocked(db, user.id, viewer_id):
        raise NotFound("user", username)
    if not allow_blocked_by_viewer and has_blocked(db, viewer_id, user.id):
        raise NotFound("user", username)
    return user


def comment_visible(audience: Audience) -> ColumnElement[bool]:
    viewer = audience.user_id
    own = Comment.user_id == viewer if viewer is not None else false()
    suspended_author_ok = not_sanctioned(Comment.user_id, SanctionKind.suspended)
    return and_(
        Comment.deleted_at.is_(None),
        or_(suspended_author_ok, own),
        or_(Comment.moderation_state == ModerationState.ok.value,
            and_(Comment.moderation_state != ModerationState.removed.value, own)),
        _active_account(Comment.user_id),
        not_blocked_with(viewer, Comment.user_id),
    )
