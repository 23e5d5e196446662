"""The feed log: every served page (``FeedRequest``) and its ``Impression`` rows, group-committed.

A feed request returns only once its rows are durable (they are the viewer's seen set and the input of
replay and training), but it does not pay for a commit of its own: concurrent pages are group-committed
(``store.group_commit``), so a busy server shares each fsync among many pages and an idle one commits a
lone page at once.

Rows waiting for their commit are not in the database yet, so the log keeps them as *pending* until the
commit returns: ``pending_video_ids(user)`` is read together with the ``impressions`` table so a page
served a moment ago is never served again while its commit is still in flight.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Engine, Text, bindparam, cast, insert

from openfyp.store.group_commit import GroupCommitConfig, GroupCommitStats, GroupCommitWriter
from openfyp.store.tables import FeedRequest, Impression

EXTRAS_KEY = "feed_log"
# A group commits at most this many pages; more waiting requests form the next group.
MAX_GROUP_PAGES = 256
# The writer thread ends after this long without work (the next page starts it again), so a deployment
# object that is dropped without ``close`` does not leave a thread behind for good.
IDLE_EXIT_SECONDS = 5.0


@dataclass(frozen=True)
class ServedPage:
    """One page as it will be stored: the request row and one impression per item, in order."""

    request_id: str
    region: str
    user_id: int | None
    surface: str
    personalised: bool
    model_version: str | None
    config_version: str | None
    inputs: dict[str, Any]
    items: list[dict[str, Any]]  # {"video_id", "position", "score", "reason"}
    created_at: datetime

    @property
    def video_ids(self) -> list[int]:
        return [item["video_id"] for item in self.items]


@dataclass(frozen=True)
class _PageRows:
    request: dict[str, Any]
    impressions: list[dict[str, Any]]


# orjson (about ten times faster than ``json`` on a page's logged inputs, a sizeable share of a request's CPU)
# with the types it would treat differently from ``json.dumps`` handed to ``_plain``: datetimes as ``str()``,
# dataclasses not expanded, and integer keys written as strings like ``json`` writes them.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json_text(value: Any) -> str:
    """One encoding (engine inputs hold numpy numbers, sets, datetimes); the column stores the text."""
    return orjson.dumps(value, default=_plain, option=_ORJSON_OPTIONS).decode()


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (datetime, uuid.UUID)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return repr(value)


class FeedLog:
    def __init__(self, engine: Engine, *, max_group_pages: int = MAX_GROUP_PAGES,
                 idle_exit_seconds: float = IDLE_EXIT_SECONDS) -> None:
        self.engine = engine
        self.stats = GroupCommitStats()  # groups weighed in pages
        self._writer: GroupCommitWriter[_PageRows, None] = GroupCommitWriter(
            GroupCommitConfig(name="feed log", max_group_weight=max_group_pages,
                              idle_exit_seconds=idle_exit_seconds),
            weight=lambda _page: 1, write=self._write, stats=lambda: self.stats)
        self._pending_lock = threading.Lock()
        self._pending: dict[int, Counter[int]] = {}
        self._request_insert, self._impression_insert = self._statements()

    def _statements(self):
        # The JSON columns get text that is already JSON: serialised once here instead of by the column type
        # (and PostgreSQL is told the text is json).
        def json_param(name: str):
            text = bindparam(name, type_=Text)
            return cast(text, JSON) if self.engine.dialect.name == "postgresql" else text

        table = FeedRequest.__table__
        request_insert = insert(table).values(
            {column: bindparam(column, type_=table.c[column].type) for column in
             ("id", "region", "user_id", "surface", "model_version", "config_version", "personalised",
              "created_at")} | {"inputs": json_param("inputs"), "items": json_param("items")})
        return request_insert, insert(Impression.__table__)

    # ---- writing ----------------------------------------------------------------------------------------
    def record(self, page: ServedPage) -> None:
        """Store ``page``; returns once it is committed.

        Raises what its write raised, or ``WriterStopped`` once the log is closed: the page must not be served.
        """
        request_row = {
            "id": page.request_id, "region": page.region, "user_id": page.user_id, "surface": page.surface,
            "model_version": page.model_version, "config_version": page.config_version,
            "personalised": page.personalised, "created_at": page.created_at,
            "inputs": _json_text(page.inputs), "items": _json_text(page.items),
        }
        impression_rows = [{"region": page.region, "request_id": page.request_id, "user_id": page.user_id,
                            "video_id": item["video_id"], "position": item["position"], "score": item["score"],
                            "created_at": page.created_at} for item in page.items]
        self._add_pending(page)
        try:
            self._writer.submit(_PageRows(request_row, impression_rows))
        finally:
            # Committed, and the impressions table answers for these videos from now on - or never committed,
            # and then never served either.
            self._remove_pending(page)

    def pending_video_ids(self, user_id: int) -> frozenset[int]:
        """Videos served to ``user_id`` whose impressions are not committed yet."""
        with self._pending_lock:
            waiting = self._pending.get(user_id)
            return frozenset(waiting) if waiting else frozenset()

    def _add_pending(self, page: ServedPage) -> None:
        if page.user_id is None or not page.items:
            return
        with self._pending_lock:
            self._pending.setdefault(page.user_id, Counter()).update(page.video_ids)

    def _remove_pending(self, page: ServedPage) -> None:
        if page.user_id is None or not page.items:
            return
        with self._pending_lock:
            waiting = self._pending.get(page.user_id)
            if waiting is None:
                return
            waiting.subtract(page.video_ids)
            for video_id in page.video_ids:
                if waiting[video_id] <= 0:
                    waiting.pop(video_id, None)
            if not waiting:
                del self._pending[page.user_id]

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._writer.close()

    def _write(self, pages: list[_PageRows]) -> list[None]:
        with self.engine.begin() as connection:
            connection.execute(self._request_insert, [page.request for page in pages])
            impressions = [row for page in pages for row in page.impressions]
            if impressions:
                connection.execute(self._impression_insert, impressions)
        return [None] * len(pages)  # a page has no answer beyond being committed


def feed_log_of(services: Any) -> FeedLog:
    """The deployment's feed log, made on first use."""
    found = services.extras.get(EXTRAS_KEY)
    if found is None:
        with _CREATE_LOCK:
            found = services.extras.get(EXTRAS_KEY)
            if found is None:
                found = services.extras[EXTRAS_KEY] = FeedLog(services.engine)
    return found


_CREATE_LOCK = threading.Lock()
