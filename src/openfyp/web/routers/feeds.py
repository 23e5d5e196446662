"""The For You and Following feeds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from openfyp.platform import feeds
from openfyp.web.deps import DB, AppServices, CurrentViewer, MaybeViewer
from openfyp.web.video_out import video_resources

router = APIRouter(prefix="/api/feed", tags=["feed"])

Cursor = Annotated[str | None, Query(max_length=feeds.MAX_CURSOR_CHARS)]
Limit = Annotated[int, Query(ge=1, le=feeds.MAX_LIMIT)]


def _page_out(db, services, page: feeds.FeedPage, viewer_id: int | None) -> dict:
    resources = video_resources(db, services, [item.video for item in page.items], viewer_id)
    items = [{**resource, "request_id": page.request_id, "position": item.position, "reason": item.reason}
             for resource, item in zip(resources, page.items, strict=True)]
    out = {"items": items, "next_cursor": page.next_cursor, "request_id": page.request_id}
    if page.notice is not None:
        out["notice"] = page.notice
    # Reads only: release the connection now rather than after the response waits for a thread to close it.
    db.commit()
    return out


@router.get("/foryou")
def foryou(viewer: MaybeViewer, db: DB, services: AppServices, cursor: Cursor = None,
           limit: Limit = feeds.DEFAULT_LIMIT) -> dict:
    """Recommended videos; signed-out visitors get regional popularity. Never repeats a video."""
    page = feeds.foryou_page(db, services, viewer.user if viewer else None, cursor=cursor, limit=limit)
    return _page_out(db, services, page, viewer.id if viewer else None)


@router.get("/following")
def following(viewer: CurrentViewer, db: DB, services: AppServices, cursor: Cursor = None,
              limit: Limit = feeds.DEFAULT_LIMIT) -> dict:
    """Videos of the creators the viewer follows, newest first."""
    page = feeds.following_page(db, services, viewer.user, cursor=cursor, limit=limit)
    return _page_out(db, services, page, viewer.id)
