"""The feed log: every served page (``FeedRequest``) and its ``Impression`` rows, group-committed.

A feed request returns only once its rows are durable (they are the viewer's seen set and the input of
replay and training), but it does not pay for a commit of its own: each request hands its rows to one
writer thread and waits; the writer commits everything that queued up while the previous commit was on
its way to disk in one transaction, then answers each request. An idle server adds no latency (a lone
request is committed at once); a busy one shares each fsync among many pages.

Rows waiting in the queue (or in the commit under way) are not in the database yet, so the log keeps them
as *pending*: ``pending_video_ids(user)`` is read together with the ``impressions`` table so a page served
a moment ago is never served again while its commit is still in flight.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Engine, Text, bindparam, cast, insert

from openfyp.store.tables import FeedRequest, Impression

log = logging.getLogger(__name__)

EXTRAS_KEY = "feed_log"
# A group commits at most this many pages; more waiting requests form the next group.
MAX_GROUP_PAGES = 256
# The writer thread ends after this long without work (the next page starts it again), so a deployment
# object that is dropped without ``close`` does not leave a thread behind for good.
IDLE_EXIT_SECONDS = 5.0


class FeedLogUnavailable(RuntimeError):
    """The writer stopped before committing a page; the page must not be served."""


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


@dataclass
class _Ticket:
    page: ServedPage
    request_row: dict[str, Any]
    impression_rows: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_STOP = object()


def _json_text(value: Any) -> str:
    """One ``json.dumps`` (engine inputs hold numpy numbers, sets, datetimes); the column stores the text."""
    return json.dumps(value, separators=(",", ":"), default=_plain)


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
        self.max_group_pages = max_group_pages
        self.idle_exit_seconds = idle_exit_seconds
        self.groups = 0
        self.pages = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()  # the writer's lifecycle and the pending sets
        self._closed = False
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
        """Store ``page``; returns once it is committed (raises if it could not be)."""
        request_row = {
            "id": page.request_id, "region": page.region, "user_id": page.user_id, "surface": page.surface,
            "model_version": page.model_version, "config_version": page.config_version,
            "personalised": page.personalised, "created_at": page.created_at,
            "inputs": _json_text(page.inputs), "items": _json_text(page.items),
        }
        impression_rows = [{"region": page.region, "request_id": page.request_id, "user_id": page.user_id,
                            "video_id": item["video_id"], "position": item["position"], "score": item["score"],
                            "created_at": page.created_at} for item in page.items]
        ticket = _Ticket(page, request_row, impression_rows)
        self._add_pending(page)
        try:
            self._submit(ticket)
            while not ticket.done.wait(1.0):
                writer = self._writer
                if writer is None or not writer.is_alive():
                    raise FeedLogUnavailable("the feed log writer stopped before committing this page")
        finally:
            if not ticket.done.is_set() or ticket.error is not None:
                self._remove_pending(page)  # never committed: it was not served either
        if ticket.error is not None:
            raise ticket.error

    def pending_video_ids(self, user_id: int) -> frozenset[int]:
        """Videos served to ``user_id`` whose impressions are not committed yet."""
        with self._lock:
            waiting = self._pending.get(user_id)
            return frozenset(waiting) if waiting else frozenset()

    def _add_pending(self, page: ServedPage) -> None:
        if page.user_id is None or not page.items:
            return
        with self._lock:
            self._pending.setdefault(page.user_id, Counter()).update(page.video_ids)

    def _remove_pending(self, page: ServedPage) -> None:
        if page.user_id is None or not page.items:
            return
        with self._lock:
            waiting = self._pending.get(page.user_id)
            if waiting is None:
                return
            waiting.subtract(page.video_ids)
            for video_id in page.video_ids:
                if waiting[video_id] <= 0:
                    waiting.pop(video_id, None)
            if not waiting:
                del self._pending[page.user_id]

    def _submit(self, ticket: _Ticket) -> None:
        # Under the lock the writer uses to decide it is idle, so a page is never queued to a writer that is
        # on its way out.
        with self._lock:
            if self._closed:
                raise FeedLogUnavailable("the feed log is closed")
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="openfyp-feed-log", daemon=True)
                self._writer.start()
            self._queue.put(ticket)

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None and writer.is_alive():
            self._queue.put(_STOP)
            writer.join(timeout=30)

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.idle_exit_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._writer = None
                        return
                continue
            if first is _STOP:
                return
            group = [first]
            stop_after = False
            while len(group) < self.max_group_pages:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop_after = True
                    break
                group.append(nxt)
            self._commit_group(group)
            if stop_after:
                return

    def _commit_group(self, group: Sequence[_Ticket]) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(self._request_insert, [t.request_row for t in group])
                impressions = [row for t in group for row in t.impression_rows]
                if impressions:
                    connection.execute(self._impression_insert, impressions)
        except Exception as exc:  # one bad page must not fail the others that shared its commit
            if len(group) == 1:
                log.exception("feed log write failed")
                group[0].error = exc
                group[0].done.set()
                return
            for ticket in group:
                self._commit_group([ticket])
            return
        self.groups += 1
        self.pages += len(group)
        for ticket in group:
            # Committed: the impressions table answers for these videos from now on.
            self._remove_pending(ticket.page)
            ticket.done.set()


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
