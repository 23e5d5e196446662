"""Search, hashtag pages and sound pages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from openfyp.platform import search
from openfyp.platform.cursor import codec_for
from openfyp.web.deps import DB, AppServices, MaybeViewer
from openfyp.web.params import RowId
from openfyp.web.routers.users import user_brief
from openfyp.web.video_out import media_url, video_resources

router = APIRouter(tags=["search"])

Cursor = Annotated[str | None, Query(max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=50)]


@router.get("/api/search")
def search_all(viewer: MaybeViewer, db: DB, services: AppServices,
               q: Annotated[str, Query(max_length=search.MAX_QUERY_CHARS)] = "",
               type: Annotated[Literal["all", "users", "hashtags", "videos"], Query()] = "all",
               cursor: Cursor = None, limit: Limit = 20) -> dict[str, Any]:
    user = viewer.user if viewer else None
    results = search.search(db, services, codec_for(services), q, user, kind=type, cursor=cursor, limit=limit)
    return {
        "query": results.query,
        "type": results.type,
        "users": [{**user_brief(hit.user), "followers": hit.followers,
                   "viewer": {"is_following": hit.viewer_follows} if hit.viewer_follows is not None else None}
                  for hit in results.users],
        "hashtags": [{"name": hit.name, "video_count": hit.video_count} for hit in results.hashtags],
        "videos": video_resources(db, services, results.videos, user.id if user else None),
        "next_cursor": results.next_cursor,
    }


@router.get("/api/hashtags/{name}")
def hashtag(name: Annotated[str, Path(min_length=1, max_length=101)], viewer: MaybeViewer, db: DB,
            services: AppServices, cursor: Cursor = None, limit: Limit = 20) -> dict[str, Any]:
    user = viewer.user if viewer else None
    page = search.hashtag_page(db, services, codec_for(services), name, user, cursor=cursor, limit=limit)
    return {
        "hashtag": {"name": page.hashtag.name, "video_count": page.hashtag.video_count},
        "items": video_resources(db, services, page.videos.items, user.id if user else None),
        "next_cursor": page.videos.next_cursor,
    }


@router.get("/api/sounds/{sound_id}")
def sound(sound_id: RowId, viewer: MaybeViewer, db: DB, services: AppServices,
          cursor: Cursor = None, limit: Limit = 20) -> dict[str, Any]:
    user = viewer.user if viewer else None
    page = search.sound_page(db, services, codec_for(services), sound_id, user, cursor=cursor, limit=limit)
    return {
        "sound": {"id": page.sound.id, "title": page.sound.title, "duration_s": page.sound.duration_s,
                  "audio_url": media_url(page.sound.audio_key), "origin_video_id": page.sound.origin_video_id,
                  "creator": user_brief(page.creator) if page.creator is not None else None,
                  "video_count": page.video_count},
        "items": video_resources(db, services, page.videos.items, user.id if user else None),
        "next_cursor": page.videos.next_cursor,
    }
