"""The social graph and the viewer's actions on videos: follows, blocks, likes, saves, shares, comments
and "not interested".

Every action is first checked against the viewing policy (``access``): what a viewer cannot see, they
cannot act on, and it answers 404 exactly like something that does not exist. Each one is then recorded
through ``interactions.record_interactions``, the single path into the event log.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from openfyp.events.schema import EventKind
from openfyp.moderation import comments as moderation_comments
from openfyp.moderation.visibility import viewer_exclusions
from openfyp.platform.access import (
    Audience,
    active_user,
    comment_visible,
    has_blocked,
    is_blocked_either_way,
    user_by_name,
    visible_user,
    visible_video,
)
from openfyp.platform.cursor import CursorCodec, Page, parse_time_key, time_key
from openfyp.platform.errors import Forbidden, InvalidInput, NotFound
from openfyp.platform.interactions import (
    NOT_INTERESTED_TARGETS,
    Origin,
    Recorded,
    record_interactions,
    server_event,
)
from openfyp.platform.users import clean_text
from openfyp.store.tables import Block, Comment, Follow, Like, NotInterested, Save, Share, Sound, User, Video

if TYPE_CHECKING:
    from openfyp.services import Services

COMMENT_MAX = 500
REPLY_PREVIEW = 3
SHARE_CHANNELS = ("link", "copy", "email", "sms", "whatsapp", "telegram", "messenger", "x", "facebook",
                  "instagram", "other")


def _record(db: Session, services: Services, actor: User, kind: EventKind, origin: Origin | None = None,
            **targets) -> Recorded:
    event = server_event(kind, actor_id=actor.id, region=services.region, origin=origin, **targets)
    return record_interactions(db, services, actor, [event])


def _audience(services: Services, user: User | None) -> Audience:
    return Audience.of(user, services.settings.adult_age)


def follower_count(db: Session, user_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Follow).where(
        Follow.followee_id == user_id,
        Follow.follower_id.in_(select(User.id).where(User.deleted_at.is_(None))))) or 0


# --- follows and blocks -------------------------------------------------------------------------------

def set_following(db: Session, services: Services, actor: User, username: str, on: bool,
                  origin: Origin | None = None) -> tuple[bool, int]:
    """Follow or unfollow; returns (following now, the account's follower count). Idempotent."""
    target = visible_user(db, username, actor.id)
    if target.id == actor.id:
        raise InvalidInput("cannot_follow_self", "you cannot follow yourself", "username")
    db.commit()
    _record(db, services, actor, EventKind.follow if on else EventKind.unfollow, origin, target_user_id=target.id)
    return on, follower_count(db, target.id)


def block(db: Session, services: Services, actor: User, username: str) -> User:
    """Block an account: follows both ways end, and from now on neither sees the other."""
    target = visible_user(db, username, actor.id, allow_blocked_by_viewer=True)
    if target.id == actor.id:
        raise InvalidInput("cannot_block_self", "you cannot block yourself", "username")
    if not has_blocked(db, actor.id, target.id):
        db.add(Block(blocker_id=actor.id, blocked_id=target.id))
    # The block is committed first so no new follow can slip in while the old ones are ended.
    db.commit()
    for follower, followee in ((actor, target), (target, actor)):
        if db.get(Follow, (follower.id, followee.id)) is not None:
            event = server_event(EventKind.unfollow, actor_id=follower.id, region=services.region,
                                 target_user_id=followee.id, extra={"cause": "block"})
            record_interactions(db, services, follower, [event])
    return target


def unblock(db: Session, actor: User, username: str) -> None:
    target = user_by_name(db, username)
    if target is None or (not has_blocked(db, actor.id, target.id) and has_blocked(db, target.id, actor.id)):
        raise NotFound("user", username)
    db.execute(delete(Block).where(Block.blocker_id == actor.id, Block.blocked_id == target.id))
    db.commit()


def blocked_accounts(db: Session, actor: User) -> list[User]:
    return list(db.scalars(select(User).join(Block, Block.blocked_id == User.id).where(
        Block.blocker_id == actor.id, User.deleted_at.is_(None)).order_by(Block.created_at.desc())))


# --- likes, saves, shares -----------------------------------------------------------------------------

def set_like(db: Session, services: Services, actor: User, video_id: int, on: bool,
             origin: Origin | None = None) -> tuple[bool, int]:
    """Like or unlike; returns (liked now, the video's like count). Repeating an action changes nothing."""
    visible_video(db, video_id, _audience(services, actor))
    db.commit()
    _record(db, services, actor, EventKind.like if on else EventKind.unlike, origin, video_id=video_id)
    return on, db.scalar(select(func.count()).select_from(Like).where(Like.video_id == video_id)) or 0


def set_saved(db: Session, services: Services, actor: User, video_id: int, on: bool,
              origin: Origin | None = None) -> tuple[bool, int]:
    visible_video(db, video_id, _audience(services, actor))
    db.commit()
    _record(db, services, actor, EventKind.save if on else EventKind.unsave, origin, video_id=video_id)
    return on, db.scalar(select(func.count()).select_from(Save).where(Save.video_id == video_id)) or 0


def share_url(services: Services, video_id: int) -> str:
    return f"{services.settings.public_base_url.rstrip('/')}/v/{video_id}"


def share(db: Session, services: Services, actor: User, video_id: int, channel: str,
          origin: Origin | None = None) -> str:
    if channel not in SHARE_CHANNELS:
        raise InvalidInput("invalid_channel", f"channel must be one of {', '.join(SHARE_CHANNELS)}", "channel")
    visible_video(db, video_id, _audience(services, actor))
    db.add(Share(region=services.region, user_id=actor.id, video_id=video_id, channel=channel))
    db.commit()
    _record(db, services, actor, EventKind.share, origin, video_id=video_id, extra={"channel": channel})
    return share_url(services, video_id)


# --- not interested -----------------------------------------------------------------------------------

def _not_interested_event_targets(db: Session, services: Services, actor: User, target_kind: str,
                                  target_id: int) -> dict:
    if target_kind == "video":
        visible_video(db, target_id, _audience(services, actor))
        return {"video_id": target_id}
    if target_kind == "creator":
        if target_id == actor.id:
            raise InvalidInput("invalid_target", "you cannot mark yourself not interesting", "target_id")
        creator = active_user(db, target_id)
        if creator is None or is_blocked_either_way(db, actor.id, target_id):
            raise NotFound("user", target_id)
        return {"target_user_id": target_id}
    if db.get(Sound, target_id) is None:
        raise NotFound("sound", target_id)
    return {"extra": {"target_kind": "sound", "sound_id": target_id}}


def mark_not_interested(db: Session, services: Services, actor: User, target_kind: str, target_id: int,
                        origin: Origin | None = None, context_video_id: int | None = None) -> None:
    if target_kind not in NOT_INTERESTED_TARGETS:
        raise InvalidInput("invalid_target_kind", "target_kind must be video, creator or sound", "target_kind")
    targets = _not_interested_event_targets(db, services, actor, target_kind, target_id)
    extra = dict(targets.pop("extra", {}))
    if target_kind == "creator":
        extra["target_kind"] = "creator"
    if target_kind != "video" and context_video_id is not None:
        targets["video_id"] = context_video_id  # validated like any video the viewer acts on
    db.commit()
    _record(db, services, actor, EventKind.not_interested, origin, extra=extra or None, **targets)


def undo_not_interested(db: Session, actor: User, target_kind: str, target_id: int) -> bool:
    """Take a "not interested" back. The log keeps the original event: history is never rewritten."""
    if target_kind not in NOT_INTERESTED_TARGETS:
        raise InvalidInput("invalid_target_kind", "target_kind must be video, creator or sound", "target_kind")
    removed = db.execute(delete(NotInterested).where(
        NotInterested.user_id == actor.id, NotInterested.target_kind == target_kind,
        NotInterested.target_id == target_id)).rowcount
    db.commit()
    return bool(removed)


# --- comments -----------------------------------------------------------------------------------------

@dataclass
class CommentView:
    comment: Comment
    author: User
    reply_count: int = 0
    replies: list[CommentView] = field(default_factory=list)
    can_delete: bool = False


def _can_delete(comment: Comment, video_creator_id: int, audience: Audience) -> bool:
    return audience.user_id is not None and (
        comment.user_id == audience.user_id or video_creator_id == audience.user_id or audience.is_staff)


def add_comment(db: Session, services: Services, actor: User, video_id: int, body: str,
                parent_id: int | None = None, origin: Origin | None = None) -> CommentView:
    """Comment on a video, or reply to a comment; a reply to a reply joins its top-level thread."""
    audience = _audience(services, actor)
    video = visible_video(db, video_id, audience)
    text = clean_text(body, field="body", min_length=1, max_length=COMMENT_MAX, multiline=True)
    top_id = None
    if parent_id is not None:
        parent = db.scalar(select(Comment).where(Comment.id == parent_id, Comment.video_id == video_id,
                                                 comment_visible(audience)))
        if parent is None:
            raise NotFound("comment", parent_id)
        top_id = parent.parent_id or parent.id
        if parent.parent_id is not None and db.scalar(select(Comment.id).where(
                Comment.id == top_id, comment_visible(audience))) is None:
            raise NotFound("comment", parent_id)
    verdict = moderation_comments.screen_comment(db, services.settings, actor, video, text)
    comment = Comment(region=services.region, video_id=video_id, user_id=actor.id, parent_id=top_id, body=text,
                      moderation_state=verdict.initial_state)
    db.add(comment)
    db.flush()
    moderation_comments.queue_if_held(db, comment, verdict)
    db.commit()
    _record(db, services, actor, EventKind.comment, origin, video_id=video_id,
            extra={"comment_id": comment.id, "parent_id": top_id})
    return CommentView(comment=comment, author=actor, can_delete=_can_delete(comment, video.creator_id, audience))


def _unmuted(db: Session, services: Services, viewer: User | None,
             rows: list[tuple[Comment, User]]) -> list[tuple[Comment, User]]:
    """Drops comments the viewer muted (muted words, blocked authors); the page may come out shorter."""
    if viewer is None or not rows:
        return rows
    kept = set(map(id, viewer_exclusions(db, viewer, services.settings).keep_comments([c for c, _ in rows])))
    return [(c, u) for c, u in rows if id(c) in kept]


def _keyset(position: list | None, newest_first: bool):
    if position is None:
        return None
    if len(position) != 2 or not isinstance(position[1], int):
        raise InvalidInput("invalid_cursor", "the cursor is malformed", "cursor")
    moment, last_id = parse_time_key(position[0]), position[1]
    if newest_first:
        return or_(Comment.created_at < moment, and_(Comment.created_at == moment, Comment.id < last_id))
    return or_(Comment.created_at > moment, and_(Comment.created_at == moment, Comment.id > last_id))


def _views(db: Session, rows: list[tuple[Comment, User]], video_creator_id: int,
           audience: Audience) -> list[CommentView]:
    return [CommentView(comment=c, author=u, can_delete=_can_delete(c, video_creator_id, audience)) for c, u in rows]


def list_comments(db: Session, services: Services, codec: CursorCodec, video_id: int, viewer: User | None, *,
                  cursor: str | None = None, limit: int = 20) -> Page[CommentView]:
    """Top-level comments newest first, each with its reply count and first replies (oldest first)."""
    audience = _audience(services, viewer)
    video = visible_video(db, video_id, audience)
    listing = f"comments:{video_id}"
    query = (select(Comment, User).join(User, User.id == Comment.user_id)
             .where(Comment.video_id == video_id, Comment.parent_id.is_(None), comment_visible(audience))
             .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit + 1))
    after = _keyset(codec.decode(listing, cursor), newest_first=True)
    if after is not None:
        query = query.where(after)
    rows = list(db.execute(query))
    more = len(rows) > limit
    views = _views(db, _unmuted(db, services, viewer, rows[:limit]), video.creator_id, audience)
    _attach_replies(db, views, video.creator_id, audience)
    if viewer is not None:
        exclusions = viewer_exclusions(db, viewer, services.settings)
        for thread in views:
            kept = set(map(id, exclusions.keep_comments([r.comment for r in thread.replies])))
            thread.replies = [r for r in thread.replies if id(r.comment) in kept]
    next_cursor = None
    if more:
        last = views[-1].comment
        next_cursor = codec.encode(listing, [time_key(last.created_at), last.id])
    return Page(items=views, next_cursor=next_cursor)


def _attach_replies(db: Session, threads: list[CommentView], video_creator_id: int, audience: Audience) -> None:
    if not threads:
        return
    ids = [t.comment.id for t in threads]
    counts = {parent: n for parent, n in db.execute(select(Comment.parent_id, func.count()).where(
        Comment.parent_id.in_(ids), comment_visible(audience)).group_by(Comment.parent_id))}
    rank = func.row_number().over(partition_by=Comment.parent_id, order_by=(Comment.created_at, Comment.id))
    ranked = (select(Comment.id.label("id"), rank.label("rank"))
              .where(Comment.parent_id.in_(ids), comment_visible(audience)).subquery())
    rows = db.execute(select(Comment, User).join(ranked, ranked.c.id == Comment.id)
                      .join(User, User.id == Comment.user_id).where(ranked.c.rank <= REPLY_PREVIEW)
                      .order_by(Comment.created_at, Comment.id))
    previews: dict[int, list[CommentView]] = defaultdict(list)
    for view in _views(db, list(rows), video_creator_id, audience):
        previews[view.comment.parent_id].append(view)
    for thread in threads:
        thread.reply_count = counts.get(thread.comment.id, 0)
        thread.replies = previews.get(thread.comment.id, [])


def _visible_comment(db: Session, comment_id: int, audience: Audience) -> tuple[Comment, Video]:
    row = db.execute(select(Comment, Video).join(Video, Video.id == Comment.video_id).where(
        Comment.id == comment_id, comment_visible(audience))).first()
    if row is None:
        raise NotFound("comment", comment_id)
    comment, video = row
    visible_video(db, video.id, audience)  # a comment is only as visible as its video
    if comment.parent_id is not None and db.scalar(select(Comment.id).where(
            Comment.id == comment.parent_id, comment_visible(audience))) is None:
        raise NotFound("comment", comment_id)
    return comment, video


def list_replies(db: Session, services: Services, codec: CursorCodec, comment_id: int, viewer: User | None, *,
                 cursor: str | None = None, limit: int = 20) -> Page[CommentView]:
    """Replies to a top-level comment, oldest first (the order a conversation is read in)."""
    audience = _audience(services, viewer)
    parent, video = _visible_comment(db, comment_id, audience)
    if parent.parent_id is not None:
        raise NotFound("comment", comment_id)  # replies have no replies of their own
    listing = f"replies:{comment_id}"
    query = (select(Comment, User).join(User, User.id == Comment.user_id)
             .where(Comment.parent_id == comment_id, comment_visible(audience))
             .order_by(Comment.created_at, Comment.id).limit(limit + 1))
    after = _keyset(codec.decode(listing, cursor), newest_first=False)
    if after is not None:
        query = query.where(after)
    rows = list(db.execute(query))
    more = len(rows) > limit
    views = _views(db, _unmuted(db, services, viewer, rows[:limit]), video.creator_id, audience)
    next_cursor = None
    if more:
        last = views[-1].comment
        next_cursor = codec.encode(listing, [time_key(last.created_at), last.id])
    return Page(items=views, next_cursor=next_cursor)


def delete_comment(db: Session, services: Services, actor: User, comment_id: int) -> None:
    """Soft-delete a comment (and its thread): its author, the video's creator or a moderator may."""
    audience = _audience(services, actor)
    if audience.is_staff:
        row = db.execute(select(Comment, Video).join(Video, Video.id == Comment.video_id).where(
            Comment.id == comment_id, Comment.deleted_at.is_(None))).first()
        if row is None:
            raise NotFound("comment", comment_id)
        comment, video = row
    else:
        comment, video = _visible_comment(db, comment_id, audience)
    if not _can_delete(comment, video.creator_id, audience):
        raise Forbidden("not_your_comment", "only the comment's author, the video's creator or a moderator "
                        "can delete it")
    now = datetime.now(UTC)
    # Replies go with their thread, so counts never include comments nobody can reach.
    db.execute(update(Comment).where(or_(Comment.id == comment.id, Comment.parent_id == comment.id),
                                     Comment.deleted_at.is_(None)).values(deleted_at=now))
    db.commit()
