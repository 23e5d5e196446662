"""Follows, blocks and the viewer's actions on videos: likes, saves, shares, comments, not interested.

Every action accepts an optional origin (``source``, ``request_id``, ``position``) as query parameters or
in the JSON body, so the recorded event joins back to the feed impression that led to it.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from openfyp.events.schema import Surface
from openfyp.platform import social
from openfyp.platform.cursor import codec_for
from openfyp.platform.interactions import Origin
from openfyp.web.deps import DB, AppServices, CurrentViewer, MaybeViewer, WriteLimit
from openfyp.web.params import MAX_ID, RowId
from openfyp.web.routers.users import user_brief

router = APIRouter(tags=["social"])

VideoId = CommentId = RowId
Username = Annotated[str, Path(min_length=1, max_length=64)]
Cursor = Annotated[str | None, Query(max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=100)]


class OriginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Surface | None = None
    request_id: uuid.UUID | None = None
    position: int | None = Field(None, ge=0, le=10_000)


def origin_query(source: Annotated[Surface | None, Query()] = None,
                 request_id: Annotated[uuid.UUID | None, Query()] = None,
                 position: Annotated[int | None, Query(ge=0, le=10_000)] = None) -> OriginIn:
    return OriginIn(source=source, request_id=request_id, position=position)


QueryOrigin = Annotated[OriginIn, Depends(origin_query)]


def _origin(query: OriginIn, body: OriginIn | None) -> Origin:
    """Body values win over query values; either may be absent."""
    def pick(name: str):
        value = getattr(body, name, None) if body is not None else None
        return value if value is not None else getattr(query, name)
    source, request_id = pick("source"), pick("request_id")
    return Origin(source=source.value if source else None, request_id=str(request_id) if request_id else None,
                  position=pick("position"))


class CommentIn(OriginIn):
    body: str = Field(max_length=4 * social.COMMENT_MAX)
    parent_id: int | None = Field(None, ge=1, le=MAX_ID)


class ShareIn(OriginIn):
    channel: str = Field("link", max_length=24)


class NotInterestedIn(OriginIn):
    target_kind: Literal["video", "creator", "sound"]
    target_id: int = Field(ge=1, le=MAX_ID)
    # The video the viewer was watching when they dismissed its creator or sound.
    video_id: int | None = Field(None, ge=1, le=MAX_ID)


def comment_out(view: social.CommentView) -> dict[str, Any]:
    comment = view.comment
    return {
        "id": comment.id, "video_id": comment.video_id, "parent_id": comment.parent_id, "body": comment.body,
        "created_at": comment.created_at.isoformat(), "author": user_brief(view.author),
        "pending_review": comment.moderation_state != "ok", "can_delete": view.can_delete,
        "reply_count": view.reply_count, "replies": [comment_out(r) for r in view.replies],
    }


# --- follows and blocks -------------------------------------------------------------------------------

@router.post("/api/users/{username}/follow", dependencies=[WriteLimit])
def follow(username: Username, viewer: CurrentViewer, db: DB, services: AppServices, query: QueryOrigin,
           body: Annotated[OriginIn | None, Body()] = None) -> dict[str, Any]:
    following, followers = social.set_following(db, services, viewer.user, username, True, _origin(query, body))
    return {"following": following, "followers": followers}


@router.delete("/api/users/{username}/follow", dependencies=[WriteLimit])
def unfollow(username: Username, viewer: CurrentViewer, db: DB, services: AppServices,
             query: QueryOrigin) -> dict[str, Any]:
    following, followers = social.set_following(db, services, viewer.user, username, False, _origin(query, None))
    return {"following": following, "followers": followers}


@router.post("/api/users/{username}/block", dependencies=[WriteLimit])
def block(username: Username, viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    target = social.block(db, services, viewer.user, username)
    return {"blocked": True, "user": user_brief(target)}


@router.delete("/api/users/{username}/block", dependencies=[WriteLimit])
def unblock(username: Username, viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    social.unblock(db, viewer.user, username)
    return {"blocked": False}


# --- likes, saves, shares -----------------------------------------------------------------------------

@router.post("/api/videos/{video_id}/like", dependencies=[WriteLimit])
def like(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices, query: QueryOrigin,
         body: Annotated[OriginIn | None, Body()] = None) -> dict[str, Any]:
    liked, likes = social.set_like(db, services, viewer.user, video_id, True, _origin(query, body))
    return {"liked": liked, "likes": likes}


@router.delete("/api/videos/{video_id}/like", dependencies=[WriteLimit])
def unlike(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices,
           query: QueryOrigin) -> dict[str, Any]:
    liked, likes = social.set_like(db, services, viewer.user, video_id, False, _origin(query, None))
    return {"liked": liked, "likes": likes}


@router.post("/api/videos/{video_id}/save", dependencies=[WriteLimit])
def save(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices, query: QueryOrigin,
         body: Annotated[OriginIn | None, Body()] = None) -> dict[str, Any]:
    saved, saves = social.set_saved(db, services, viewer.user, video_id, True, _origin(query, body))
    return {"saved": saved, "saves": saves}


@router.delete("/api/videos/{video_id}/save", dependencies=[WriteLimit])
def unsave(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices,
           query: QueryOrigin) -> dict[str, Any]:
    saved, saves = social.set_saved(db, services, viewer.user, video_id, False, _origin(query, None))
    return {"saved": saved, "saves": saves}


@router.post("/api/videos/{video_id}/share", dependencies=[WriteLimit])
def share(video_id: VideoId, viewer: CurrentViewer, db: DB, services: AppServices, query: QueryOrigin,
          body: Annotated[ShareIn | None, Body()] = None) -> dict[str, Any]:
    channel = body.channel if body is not None else "link"
    url = social.share(db, services, viewer.user, video_id, channel, _origin(query, body))
    return {"share_url": url, "channel": channel}


# --- comments -----------------------------------------------------------------------------------------

@router.post("/api/videos/{video_id}/comments", status_code=201, dependencies=[WriteLimit])
def add_comment(video_id: VideoId, body: CommentIn, viewer: CurrentViewer, db: DB, services: AppServices,
                query: QueryOrigin) -> dict[str, Any]:
    view = social.add_comment(db, services, viewer.user, video_id, body.body, body.parent_id, _origin(query, body))
    return comment_out(view)


@router.get("/api/videos/{video_id}/comments")
def list_comments(video_id: VideoId, viewer: MaybeViewer, db: DB, services: AppServices, cursor: Cursor = None,
                  limit: Limit = 20) -> dict[str, Any]:
    page = social.list_comments(db, services, codec_for(services), video_id, viewer.user if viewer else None,
                                cursor=cursor, limit=limit)
    return {"items": [comment_out(v) for v in page.items], "next_cursor": page.next_cursor}


@router.get("/api/comments/{comment_id}/replies")
def list_replies(comment_id: CommentId, viewer: MaybeViewer, db: DB, services: AppServices, cursor: Cursor = None,
                 limit: Limit = 20) -> dict[str, Any]:
    page = social.list_replies(db, services, codec_for(services), comment_id, viewer.user if viewer else None,
                               cursor=cursor, limit=limit)
    return {"items": [comment_out(v) for v in page.items], "next_cursor": page.next_cursor}


@router.delete("/api/comments/{comment_id}", status_code=204, dependencies=[WriteLimit])
def delete_comment(comment_id: CommentId, viewer: CurrentViewer, db: DB, services: AppServices) -> None:
    social.delete_comment(db, services, viewer.user, comment_id)


# --- not interested -----------------------------------------------------------------------------------

@router.post("/api/not-interested", dependencies=[WriteLimit])
def not_interested(body: NotInterestedIn, viewer: CurrentViewer, db: DB, services: AppServices,
                   query: QueryOrigin) -> dict[str, Any]:
    social.mark_not_interested(db, services, viewer.user, body.target_kind, body.target_id, _origin(query, body),
                               context_video_id=body.video_id)
    return {"target_kind": body.target_kind, "target_id": body.target_id, "not_interested": True}


@router.delete("/api/not-interested", dependencies=[WriteLimit])
def undo_not_interested(viewer: CurrentViewer, db: DB,
                        target_kind: Annotated[Literal["video", "creator", "sound"], Query()],
                        target_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    social.undo_not_interested(db, viewer.user, target_kind, target_id)
    return {"target_kind": target_kind, "target_id": target_id, "not_interested": False}
