"""The viewer's privacy controls: non-personalised For You, a feed reset, "why this video", a download of
all their data, and deleting their account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from openfyp.governance import privacy
from openfyp.governance.export import export_for_download, exports_requested_by
from openfyp.store.tables import DataRequest
from openfyp.web.deps import DB, SESSION_COOKIE, AppServices, CurrentViewer, WriteLimit
from openfyp.web.params import OpaqueKey, RowId
from openfyp.web.schemas import user_out

router = APIRouter(prefix="/api/me", tags=["privacy"])


class PersonalisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    personalised: bool


class DeleteAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=256)


EXPORT_STATUS = {"pending": "pending", "done": "ready", "failed": "failed"}


def export_out(request: DataRequest) -> dict[str, Any]:
    """An export request as its requester sees it; ``download_url`` once the archive is ready."""
    status = EXPORT_STATUS.get(request.status, request.status)
    ready = status == "ready" and request.token is not None
    return {"id": request.id, "kind": request.kind, "user_id": request.user_id, "status": status,
            "requested_at": request.created_at.isoformat() if request.created_at else None,
            "download_url": f"/api/me/exports/{request.token}" if ready else None,
            "size_bytes": request.size_bytes if ready else None,
            "expires_at": request.expires_at.isoformat() if ready and request.expires_at else None,
            "status_url": "/api/me/exports"}


@router.get("/personalisation")
def get_personalisation(viewer: CurrentViewer) -> dict[str, Any]:
    return {"personalised": viewer.user.personalised}


@router.put("/personalisation", dependencies=[WriteLimit])
def put_personalisation(body: PersonalisationIn, viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    user = privacy.set_personalised(db, viewer.user, body.personalised)
    db.commit()
    return {"personalised": user.personalised, "user": user_out(user).model_dump(mode="json")}


def _reset(viewer, db, services) -> dict[str, Any]:
    at: datetime = privacy.reset_feed(db, services, viewer.user)
    db.commit()
    return {"feed_reset_at": at.isoformat()}


@router.post("/feed-reset", dependencies=[WriteLimit])
def feed_reset(viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    return _reset(viewer, db, services)


@router.post("/feed/reset", dependencies=[WriteLimit], include_in_schema=False)
def feed_reset_alias(viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    return _reset(viewer, db, services)


@router.get("/why/{request_id}/{video_id}")
def why_this_video(request_id: OpaqueKey, video_id: RowId, viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    return privacy.why(db, viewer.user, request_id, video_id)


@router.post("/export", status_code=202, dependencies=[WriteLimit])
def export_my_data(viewer: CurrentViewer, db: DB, services: AppServices) -> dict[str, Any]:
    """Ask for an archive of your data; it is written in the background (follow ``status_url``)."""
    request = privacy.export_own_data(db, services, viewer.user)
    db.commit()
    services.jobs.notify()
    return export_out(request)


@router.get("/exports")
def my_exports(viewer: CurrentViewer, db: DB) -> dict[str, Any]:
    """The exports you asked for (your own, or as staff), newest first, with their status."""
    return {"items": [export_out(request) for request in exports_requested_by(db, viewer.id)]}


@router.get("/exports/{token}")
def download_export(token: OpaqueKey, viewer: CurrentViewer, db: DB, services: AppServices) -> FileResponse:
    request, path = export_for_download(db, services.settings, token, viewer.id)
    stamp = request.created_at.strftime("%Y%m%d") if request.created_at else "export"
    return FileResponse(path, media_type="application/zip",
                        filename=f"openfyp-{services.settings.region}-{request.user_id}-{stamp}.zip",
                        headers={"Cache-Control": "no-store"})


@router.delete("", dependencies=[WriteLimit])
def delete_my_account(body: DeleteAccountIn, viewer: CurrentViewer, db: DB, services: AppServices,
                      response: Response) -> dict[str, Any]:
    report = privacy.delete_own_account(db, services, viewer.user, body.password)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"deleted": True, "videos_removed": report.videos_removed, "events_removed": report.events_removed}
