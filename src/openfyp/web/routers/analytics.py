"""Creator analytics: one video's numbers, or all of the signed-in creator's."""

from __future__ import annotations

from fastapi import APIRouter

from openfyp.platform import analytics, videos
from openfyp.web.deps import DB, AppServices, CurrentViewer
from openfyp.web.params import RowId

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


@router.get("/videos/{video_id}")
def video_analytics(video_id: RowId, viewer: CurrentViewer, db: DB,
                    services: AppServices) -> dict:
    """Only the creator sees a video's analytics (403 for anyone else who can see the video)."""
    video = videos.owned_video(db, video_id, viewer.user, services.settings)
    return {**analytics.video_analytics(db, video, event_log=services.events),
            "traffic_pool": analytics.traffic_pool(services, video.id)}


@router.get("/me")
def my_analytics(viewer: CurrentViewer, db: DB, services: AppServices) -> dict:
    report = analytics.creator_analytics(db, viewer.user, event_log=services.events)
    for video in report["top_videos"]:
        video["traffic_pool"] = analytics.traffic_pool(services, video["id"])
    return report
