"""The For You and Following feeds."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder

from openfyp.platform import feeds
from openfyp.web.deps import DB, AppServices, CurrentViewer, get_services, optional_viewer, request_session
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


@router.get("/foryou", response_model=dict)
async def foryou(request: Request, cursor: Cursor = None, limit: Limit = feeds.DEFAULT_LIMIT) -> Response:
    """Recommended videos; signed-out visitors get regional popularity. Never repeats a video."""
    # The busiest endpoint does its session, sign-in, page and hydration in one worker-thread call and encodes
    # its answer there too. As sync dependencies and a sync handler, each of those was a hand-off to a worker
    # thread and back (five per request), a measurable share of a page's CPU under load.
    return await anyio.to_thread.run_sync(_foryou_response, request, cursor, limit)


def _foryou_response(request: Request, cursor: str | None, limit: int) -> Response:
    services = get_services(request)
    with request_session(services) as db:
        viewer = optional_viewer(request, db)
        page = feeds.foryou_page(db, services, viewer.user if viewer else None, cursor=cursor, limit=limit)
        return _json_response(_page_out(db, services, page, viewer.id if viewer else None))


def _json_response(content: dict) -> Response:
    try:
        body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a value orjson does not know: FastAPI's own encoding, as for any other endpoint
        body = orjson.dumps(jsonable_encoder(content))
    return Response(body, media_type="application/json")


@router.get("/following")
def following(viewer: CurrentViewer, db: DB, services: AppServices, cursor: Cursor = None,
              limit: Limit = feeds.DEFAULT_LIMIT) -> dict:
    """Videos of the creators the viewer follows, newest first."""
    page = feeds.following_page(db, services, viewer.user, cursor=cursor, limit=limit)
    return _page_out(db, services, page, viewer.id)
