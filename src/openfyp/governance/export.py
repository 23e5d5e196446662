"""A person's data as a zip: one JSON file per table that holds rows about them, plus their media.

Which rows: every table with a column naming an account (``user_id``, ``creator_id``, ``follower_id`` ...)
contributes the rows naming this one, so a table added later is exported without anyone remembering to.
Secrets (password and token hashes) never leave. A request is recorded and audited at once and the zip is
written by a background job; it lives under ``data_dir/exports`` behind an unguessable token, and only the
person who asked may download it.
"""

from __future__ import annotations

import json
import secrets
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from openfyp.governance.audit import AuditAction, AuditRecord, audit_log_of
from openfyp.governance.authz import Grant
from openfyp.governance.errors import EventLogNotSettled
from openfyp.platform.errors import NotFound
from openfyp.store.base import Base
from openfyp.store.tables import DataRequest, Sound, User, Video

EXPORT_DAYS = 7
PERSON_COLUMNS = ("user_id", "creator_id", "follower_id", "followee_id", "blocker_id", "blocked_id", "reporter_id",
                  "appellant_id", "owner_id", "sender_id", "recipient_id", "target_user_id")
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "csrf_token", "token"})
# Tables that are about the platform, not about the person (or are exported specially).
SKIPPED_TABLES = frozenset({"users", "auth_sessions", "audit_log", "data_requests", "erased_users", "jobs"})
BATCH = 2000


EXPORT_JOB = "data_export"


def exports_dir(settings: Any) -> Path:
    return settings.data_dir / "exports"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _person_tables() -> list[tuple[Table, list[str]]]:
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in SKIPPED_TABLES:
            continue
        columns = [name for name in PERSON_COLUMNS if name in table.c]
        if columns:
            found.append((table, columns))
    return found


def _write_table(db: Session, archive: zipfile.ZipFile, table: Table, columns: list[str], user_id: int,
                 region: str) -> int:
    conditions = [or_(*(table.c[name] == user_id for name in columns))]
    if "region" in table.c:
        conditions.append(table.c.region == region)
    keep = [c for c in table.c if c.name not in SECRET_COLUMNS]
    count = 0
    with archive.open(f"data/{table.name}.json", "w") as handle:
        handle.write(b"[")
        offset = 0
        while True:
            rows = db.execute(select(*keep).where(*conditions).order_by(*table.primary_key.columns)
                              .limit(BATCH).offset(offset)).all()
            for row in rows:
                item = {column.name: _jsonable(value) for column, value in zip(keep, row)}
                handle.write((b",\n" if count else b"\n") + json.dumps(item, ensure_ascii=False).encode())
                count += 1
            if len(rows) < BATCH:
                break
            offset += BATCH
        handle.write(b"\n]\n")
    return count


def _copy_media(media: Any, archive: zipfile.ZipFile, key: str | None, name: str) -> bool:
    if media is None or not key:
        return False
    try:
        if not media.exists(key):
            return False
        local = media.local_path(key)
        if local is not None:
            archive.write(local, name)
            return True
        size = media.size(key)
        with archive.open(name, "w") as handle:
            for chunk in media.open_range(key, 0, size - 1):
                handle.write(chunk)
        return True
    except Exception:
        return False


def _account(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "display_name": user.display_name,
            "bio": user.bio, "birth_date": user.birth_date.isoformat(), "role": user.role, "region": user.region,
            "created_at": _jsonable(user.created_at), "personalised": user.personalised,
            "feed_reset_at": _jsonable(user.feed_reset_at)}


def request_export(db: Session, services: Any, subject: User, *, grant: Grant, kind: str = "export") -> DataRequest:
    """Record and audit an export of ``subject`` (the caller authorised it; ``grant`` says on whose behalf) and
    queue the job that writes it, in ``db``'s transaction. The caller commits; the zip follows in the background,
    since a prolific creator's archive (every video they posted) takes far longer than a request may."""
    request = DataRequest(region=services.settings.region, user_id=subject.id, kind=kind, status="pending",
                          requested_by=grant.actor_id, token=secrets.token_hex(24))
    db.add(request)
    db.flush()
    audit_log_of(db).record(db, AuditRecord(
        action=AuditAction.data_export.value, actor_id=grant.actor_id, actor_role=grant.role, target_kind="user",
        target_id=str(subject.id), justification=grant.justification,
        details={"request_id": request.id, "kind": kind}))
    services.jobs.enqueue(EXPORT_JOB, {"request_id": request.id}, db=db)
    return request


def _write_archive(db: Session, services: Any, subject: User, path: Path) -> None:
    """The zip, written beside its final name and renamed into place, so a crash never leaves half an archive."""
    settings = services.settings
    # The archive holds every event acknowledged before it was asked for. Where they are not all in the table
    # yet (a stalled mover, or a Redis stream whose copy into SQL is behind or stopped) the attempt fails and
    # the job retries, rather than hand over an archive without them.
    if not services.events.settle():
        raise EventLogNotSettled()
    temporary = path.with_name(f".{path.stem}.partial")
    tables: dict[str, int] = {}
    media_files = 0
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("account.json", json.dumps(_account(subject), indent=2, ensure_ascii=False))
            for table, columns in _person_tables():
                tables[table.name] = _write_table(db, archive, table, columns, subject.id, settings.region)
            for video in db.scalars(select(Video).where(Video.creator_id == subject.id).order_by(Video.id)):
                media_files += _copy_media(services.media, archive, video.media_key, f"videos/{video.id}.mp4")
                media_files += _copy_media(services.media, archive, video.poster_key, f"videos/{video.id}.jpg")
                if video.media_key is None:  # still processing: the original upload is theirs too
                    media_files += _copy_media(services.media, archive, video.upload_key, f"videos/{video.id}.upload")
            for sound in db.scalars(select(Sound).where(Sound.creator_id == subject.id).order_by(Sound.id)):
                media_files += _copy_media(services.media, archive, sound.audio_key, f"sounds/{sound.id}.m4a")
            media_files += _copy_media(services.media, archive, subject.avatar_key, "avatar.jpg")
            archive.writestr("README.json", json.dumps({
                "format": 1, "region": settings.region, "generated_at": datetime.now(UTC).isoformat(),
                "account_id": subject.id, "tables": tables, "media_files": media_files,
                "note": "Each data/<table>.json holds the rows of that table that name this account.",
            }, indent=2))
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def run_export(services: Any, job: Any) -> None:
    """The export job: write the zip behind the request's token, then mark the request done."""
    request_id = int(job.payload["request_id"])
    with services.session_factory() as db:
        request = db.get(DataRequest, request_id)
        if request is None or request.status != "pending" or not request.token:
            return  # already written by an earlier attempt, or withdrawn when the account was deleted
        subject = db.get(User, request.user_id)
        if subject is None or subject.deleted_at is not None:
            request.status, request.token = "failed", None
            db.commit()
            return
        folder = exports_dir(services.settings)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{request.token}.zip"
        _write_archive(db, services, subject, path)
        now = datetime.now(UTC)
        request.status, request.file_name, request.size_bytes = "done", path.name, path.stat().st_size
        request.completed_at, request.expires_at = now, now + timedelta(days=EXPORT_DAYS)
        db.commit()


def mark_export_failed(services: Any, job: Any, error: str) -> None:
    with services.session_factory() as db:
        request = db.get(DataRequest, int(job.payload["request_id"]))
        if request is not None and request.status == "pending":
            request.status, request.token = "failed", None
            db.commit()


def register_export_jobs(runner: Any, services: Any) -> None:
    runner.register(EXPORT_JOB, lambda job: run_export(services, job),
                    on_give_up=lambda job, error: mark_export_failed(services, job, error))


def exports_requested_by(db: Session, requester_id: int, *, limit: int = 20) -> list[DataRequest]:
    return list(db.scalars(select(DataRequest).where(
        DataRequest.requested_by == requester_id, DataRequest.kind.in_(("export", "staff_export")))
        .order_by(DataRequest.id.desc()).limit(limit)))


def export_for_download(db: Session, settings: Any, token: str, requester_id: int) -> tuple[DataRequest, Path]:
    """The finished export behind ``token`` if ``requester_id`` asked for it; otherwise it does not exist."""
    request = db.scalar(select(DataRequest).where(DataRequest.token == token))
    if request is None or request.requested_by != requester_id or request.status != "done" or not request.file_name:
        raise NotFound("export")
    if request.expires_at is not None and request.expires_at <= datetime.now(UTC):
        raise NotFound("export")
    path = exports_dir(settings) / request.file_name
    if not path.is_file():
        raise NotFound("export")
    return request, path


def remove_exports_of(db: Session, settings: Any, user_id: int) -> int:
    """Delete the zip files about ``user_id`` (the requests stay, for the transparency report)."""
    removed = 0
    for request in db.scalars(select(DataRequest).where(DataRequest.user_id == user_id,
                                                        DataRequest.file_name.is_not(None))):
        (exports_dir(settings) / request.file_name).unlink(missing_ok=True)
        request.file_name = None
        request.token = None
        removed += 1
    return removed
