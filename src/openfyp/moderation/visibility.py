"""What moderation keeps from whom: the functions the feeds, search and comment lists call.

* ``recommendable_clause()``: SQL filter on ``Video`` for every recommending surface (For You, search,
  hashtag and sound pages): not removed, not restricted, not held, and the creator is neither suspended
  nor restricted.
* ``viewer_exclusions(db, user)``: what one viewer must not be shown: adult-only videos for minors, creators
  blocked either way, videos and comments matching their muted words, and (For You only) protected minors'
  videos for adults who do not follow them.
* ``can_see_video`` / ``ensure_video_viewable`` / ``can_see_comment``: the viewing policy of
  ``platform.access`` plus account suspensions, for direct links.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from openfyp.moderation import minors, sanctions
from openfyp.moderation.muted_words import muted_matcher
from openfyp.moderation.text import WordMatcher
from openfyp.platform import access
from openfyp.platform.errors import NotFound
from openfyp.settings import Settings, get_settings
from openfyp.store.tables import Block, Comment, Hashtag, ModerationState, User, Video, VideoHashtag

FEED_SURFACES = frozenset({"foryou", "following"})


def recommendable_clause() -> ColumnElement[bool]:
    """SQL filter: moderation lets this video be recommended to people who did not ask for it."""
    return and_(Video.moderation_state == ModerationState.ok.value, sanctions.not_sanctioned(Video.creator_id))


def creator_in_good_standing(viewer_id: int | None) -> ColumnElement[bool]:
    """SQL filter on ``Video``: the creator is not suspended (a suspended account still sees its own)."""
    clause = sanctions.not_sanctioned(Video.creator_id, sanctions.SanctionKind.suspended)
    return or_(clause, Video.creator_id == viewer_id) if viewer_id is not None else clause


def author_in_good_standing(viewer_id: int | None) -> ColumnElement[bool]:
    clause = sanctions.not_sanctioned(Comment.user_id, sanctions.SanctionKind.suspended)
    return or_(clause, Comment.user_id == viewer_id) if viewer_id is not None else clause


def can_see_video(db: Session, video: Video, viewer: User | None, settings: Settings) -> bool:
    if video.region != settings.region:
        return False
    audience = access.Audience.of(viewer, settings.adult_age)
    viewer_id = viewer.id if viewer is not None else None
    return db.scalar(select(Video.id).where(Video.id == video.id, access.video_visible(audience),
                                            creator_in_good_standing(viewer_id))) is not None


def ensure_video_viewable(db: Session, video_id: int, viewer: User | None, settings: Settings) -> Video:
    """The video if this viewer may open it, else 404 (hidden and missing look the same)."""
    video = db.get(Video, video_id)
    if video is None or not can_see_video(db, video, viewer, settings):
        raise NotFound("video", video_id)
    return video


def can_see_comment(db: Session, comment: Comment, viewer: User | None, settings: Settings) -> bool:
    audience = access.Audience.of(viewer, settings.adult_age)
    viewer_id = viewer.id if viewer is not None else None
    visible = db.scalar(select(Comment.id).where(Comment.id == comment.id, access.comment_visible(audience),
                                                 author_in_good_standing(viewer_id)))
    if visible is None:
        return False
    video = db.get(Video, comment.video_id)
    return video is not None and can_see_video(db, video, viewer, settings)


def blocked_either_way(db: Session, user_id: int) -> frozenset[int]:
    rows = db.execute(select(Block.blocker_id, Block.blocked_id)
                      .where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id)))
    return frozenset(other for a, b in rows for other in (a, b) if other != user_id)


@dataclass(frozen=True)
class ViewerExclusions:
    """Everything moderation hides from one viewer, as SQL (``video_clause``) and as Python checks."""

    viewer_id: int | None
    hide_adult_only: bool
    blocked_user_ids: frozenset[int]
    muted: WordMatcher
    # Protected minors the viewer does not follow: kept out of this viewer's For You only.
    foryou_hidden_creator_ids: frozenset[int]
    _foryou_minor_clause: ColumnElement[bool] = field(default_factory=true, repr=False, compare=False)

    def video_clause(self, surface: str = "foryou") -> ColumnElement[bool]:
        """SQL filter on ``Video`` for this viewer on ``surface``. Muted words are not in it (text matching is
        done in Python, the same on every database): apply ``keep_videos`` to the page as well."""
        conditions: list[ColumnElement[bool]] = []
        if self.hide_adult_only:
            conditions.append(Video.adult_only == false())
        if self.blocked_user_ids:
            conditions.append(Video.creator_id.not_in(sorted(self.blocked_user_ids)))
        if surface == "foryou":
            conditions.append(self._foryou_minor_clause)
        return and_(true(), *conditions)

    def hides_video(self, *, creator_id: int, adult_only: bool = False, caption: str = "",
                    hashtags: Iterable[str] = (), surface: str = "foryou") -> bool:
        if self.hide_adult_only and adult_only:
            return True
        if creator_id in self.blocked_user_ids:
            return True
        if surface == "foryou" and creator_id in self.foryou_hidden_creator_ids:
            return True
        if surface in FEED_SURFACES and self.muted:
            tags = " ".join(f"#{tag}" for tag in hashtags)
            return self.muted.matches(f"{caption}\n{tags}" if tags else caption)
        return False

    def hides_comment(self, *, author_id: int, body: str) -> bool:
        return author_id in self.blocked_user_ids or (bool(self.muted) and self.muted.matches(body))

    def keep_videos(self, db: Session, videos: Sequence[Video], surface: str = "foryou") -> list[Video]:
        """The videos of a page this viewer may be shown, in order (hashtags loaded in one query)."""
        tags = hashtags_of(db, [v.id for v in videos]) if self.muted and surface in FEED_SURFACES else {}
        return [v for v in videos if not self.hides_video(
            creator_id=v.creator_id, adult_only=bool(v.adult_only), caption=v.caption or "",
            hashtags=tags.get(v.id, ()), surface=surface)]

    def keep_comments(self, comments: Sequence[Comment]) -> list[Comment]:
        return [c for c in comments if not self.hides_comment(author_id=c.user_id, body=c.body or "")]


def hashtags_of(db: Session, video_ids: Sequence[int]) -> dict[int, list[str]]:
    if not video_ids:
        return {}
    rows = db.execute(select(VideoHashtag.video_id, Hashtag.name)
                      .join(Hashtag, Hashtag.id == VideoHashtag.hashtag_id)
                      .where(VideoHashtag.video_id.in_(list(video_ids))))
    found: dict[int, list[str]] = defaultdict(list)
    for video_id, name in rows:
        found[video_id].append(name)
    return found


def viewer_exclusions(db: Session, user: User | None, settings: Settings | None = None,
                      today: date | None = None) -> ViewerExclusions:
    settings = settings or get_settings()
    today = today or minors.today_utc()
    viewer_id = user.id if user is not None else None
    return ViewerExclusions(
        viewer_id=viewer_id,
        hide_adult_only=not minors.may_see_adult_content(user, settings, today),
        blocked_user_ids=blocked_either_way(db, viewer_id) if viewer_id is not None else frozenset(),
        muted=muted_matcher(db, viewer_id),
        foryou_hidden_creator_ids=minors.foryou_protected_minor_creators(db, user, settings, today),
        _foryou_minor_clause=minors.foryou_protected_minor_clause(user, settings, today),
    )


def comment_clause(viewer_id: int | None) -> ColumnElement[bool]:
    """SQL filter on ``Comment`` adding account suspensions to ``platform.access.comment_visible``."""
    return author_in_good_standing(viewer_id)
