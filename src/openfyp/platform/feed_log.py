"""The feed log: every served page (``FeedRequest``) and its ``Impression`` rows, group-committed.

A feed request returns only once its rows are durable (they are the viewer's seen set and the input of
replay and training), but it does not pay for a commit of its own: concurrent pages are group-committed
(``store.group_commit``), so a busy server shares each fsync among many pages and an idle one commits a
lone page at once.

Rows waiting for their commit are not in the database yet, so the log keeps them as *pending* until the
commit returns: ``pending_video_ids(user)`` is read together with the ``impressions`` table so a page
served a moment ago is never served again while its commit is still in flight.

The database has the last word, though: a page of the For You feed carries the watermark of the seen set it
was chosen against, and its commit drops any video that a page committed since then - by another server
process sharing the database, or by a request of the same viewer that overlapped this one - already served to
the viewer (checked under the database's write lock, or a per-viewer advisory lock on PostgreSQL, so two
commits cannot both miss each other). Several worker processes can therefore serve one deployment and a
video is still never served twice.

The committed part of a viewer's seen set is kept in memory too (``SeenSets``): read in full from
``impressions`` on the viewer's first page, then topped up with only the rows committed since (their ids
above the highest one read), so a page costs the viewer's new impressions, not their whole history.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON, Connection, Engine, Executable, Text, bindparam, cast, func, insert, select, text, update,
)
from sqlalchemy.orm import Session

from openfyp.platform.access import scoped_rows
from openfyp.store.group_commit import GroupCommitConfig, GroupCommitStats, GroupCommitWriter
from openfyp.store.id_floors import IMPRESSIONS, last_handed_out_sql
from openfyp.store.tables import FeedRequest, Impression

EXTRAS_KEY = "feed_log"
# A group commits at most this many pages; more waiting requests form the next group.
MAX_GROUP_PAGES = 256
# The writer thread ends after this long without work (the next page starts it again), so a deployment
# object that is dropped without ``close`` does not leave a thread behind for good.
IDLE_EXIT_SECONDS = 5.0
# The seen sets kept in memory hold at most this many video ids in all (some 70 bytes each); the viewers served
# least recently are dropped first and read in full again when they come back.
SEEN_SETS_MAX_VIDEOS = 1_000_000
# First key of the PostgreSQL advisory locks that order one viewer's feed-log commits (the second is the viewer).
ADVISORY_LOCK_SPACE = 0x6F66  # "of"


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
    # The highest impression id the viewer's seen set was complete up to when the page was chosen; the commit
    # drops videos served to the viewer by impressions above it. ``None``: no check (e.g. the Following feed,
    # which shows what is new from followed creators whether seen or not).
    seen_watermark: int | None = None

    @property
    def video_ids(self) -> list[int]:
        return [item["video_id"] for item in self.items]


@dataclass(frozen=True)
class _PageRows:
    page: ServedPage
    request: dict[str, Any]
    impressions: list[dict[str, Any]]

    def without(self, video_ids: set[int]) -> _PageRows:
        """The same page with ``video_ids`` taken out, the rest moved up, and the drop counted in its inputs
        (replay then expects the engine's page to hold that many more videos than were served)."""
        first = self.page.items[0]["position"]
        items = [dict(item, position=first + index) for index, item in
                 enumerate(item for item in self.page.items if item["video_id"] not in video_ids)]
        inputs = dict(self.page.inputs)
        inputs["platform_dropped"] = int(inputs.get("platform_dropped", 0) or 0) + len(self.page.items) - len(items)
        positions = {item["video_id"]: item["position"] for item in items}
        impressions = [dict(row, position=positions[row["video_id"]]) for row in self.impressions
                       if row["video_id"] in positions]
        return _PageRows(self.page, self.request | {"inputs": _json_text(inputs), "items": _json_text(items)},
                         impressions)


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


class _ViewerSeen:
    __slots__ = ("after_id", "video_ids")

    def __init__(self) -> None:
        self.video_ids: set[int] = set()
        self.after_id = 0  # every impression of the viewer with an id up to this one is in video_ids


class SeenSets:
    """Per viewer, the videos of their committed impressions, kept up to date by reading only the newer rows.

    The feed log ``add``s each page it commits; ``read`` also runs ``statement`` (region-scoped ``(id,
    video_id)`` of the viewer's impressions with ``id > :after``) with the highest id read so far, so rows
    another writer committed since are taken in as well. A viewer's impressions commit in id order (SQLite has
    one writer at a time; on PostgreSQL the feed log holds a per-viewer advisory lock from before its rows take
    their ids until they commit), so that read misses none, whichever server process wrote them. Deleted rows
    are not looked for: the only deletion, an erasure, removes the rows of a tombstoned account, which is served
    nothing again, and of the erased creator's videos, which are gone for every viewer anyway. Their ids are not
    handed out again (:mod:`openfyp.store.id_floors`), so no later row hides below a watermark.
    """

    def __init__(self, max_videos: int = SEEN_SETS_MAX_VIDEOS) -> None:
        self.max_videos = max_videos
        self._lock = threading.Lock()
        self._viewers: OrderedDict[int, _ViewerSeen] = OrderedDict()
        self._held = 0

    def read(self, db: Session, user_id: int, statement: Executable) -> set[int]:
        """The viewer's committed seen set as of now (a copy of it)."""
        return self.read_with_watermark(db, user_id, statement)[0]

    def read_with_watermark(self, db: Session, user_id: int, statement: Executable) -> tuple[set[int], int]:
        """The viewer's committed seen set as of now (a copy of it), and the impression id it is complete up to."""
        with self._lock:
            known = self._viewers.get(user_id)
            after = known.after_id if known is not None else 0
        rows = scoped_rows(db, statement, {"viewer_id": user_id, "after": after}).all()
        with self._lock:
            entry = self._viewers.get(user_id)
            if entry is None:  # first read, or dropped meanwhile: what was held then is still complete
                entry = self._viewers[user_id] = known if known is not None else _ViewerSeen()
                self._held += len(entry.video_ids)
            self._viewers.move_to_end(user_id)
            before = len(entry.video_ids)
            if known is not None and known is not entry:  # replaced meanwhile by a read that may be older
                entry.video_ids.update(known.video_ids)
            # Reads of one viewer may finish in any order: each brings every row from an ``after`` up to which
            # the entry (or ``known``, merged above) is complete, so the union is complete up to the highest id.
            entry.video_ids.update(video_id for _, video_id in rows)
            entry.after_id = max(entry.after_id, after, max((row_id for row_id, _ in rows), default=0))
            self._held += len(entry.video_ids) - before
            seen, watermark = set(entry.video_ids), entry.after_id
            self._evict()
        return seen, watermark

    def add(self, user_id: int, video_ids: list[int]) -> None:
        """Videos of a page this process just committed, into the viewer's set if it is held (the next read
        would find them too; this spares it the rows)."""
        with self._lock:
            entry = self._viewers.get(user_id)
            if entry is None:
                return  # the next read loads the viewer's whole history, this page included
            before = len(entry.video_ids)
            entry.video_ids.update(video_ids)
            self._held += len(entry.video_ids) - before
            self._evict()

    def _evict(self) -> None:
        while self._held > self.max_videos and len(self._viewers) > 1:
            _, dropped = self._viewers.popitem(last=False)
            self._held -= len(dropped.video_ids)

    @property
    def viewers(self) -> int:
        return len(self._viewers)


class FeedLog:
    def __init__(self, engine: Engine, *, max_group_pages: int = MAX_GROUP_PAGES,
                 idle_exit_seconds: float = IDLE_EXIT_SECONDS) -> None:
        self.engine = engine
        self.stats = GroupCommitStats()  # groups weighed in pages
        self._writer: GroupCommitWriter[_PageRows, frozenset[int]] = GroupCommitWriter(
            GroupCommitConfig(name="feed log", max_group_weight=max_group_pages,
                              idle_exit_seconds=idle_exit_seconds),
            weight=lambda _page: 1, write=self._write, stats=lambda: self.stats)
        self._pending_lock = threading.Lock()
        self._pending: dict[int, Counter[int]] = {}
        self.seen = SeenSets()
        self._request_insert, self._impression_insert, self._request_update = self._statements()
        self._last_impression_id = text(last_handed_out_sql(IMPRESSIONS))
        self._served_since = (select(Impression.video_id)
                              .where(Impression.user_id == bindparam("viewer_id"), Impression.id > bindparam("after")))

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
        request_update = (update(table).where(table.c.id == bindparam("request_id"))
                          .values(inputs=json_param("inputs"), items=json_param("items")))
        return request_insert, insert(Impression.__table__), request_update

    # ---- writing ----------------------------------------------------------------------------------------
    def record(self, page: ServedPage) -> frozenset[int]:
        """Store ``page``; returns once it is committed, with the videos its commit dropped because a page
        committed since ``page.seen_watermark`` served them to the viewer (the caller serves the rest).

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
            dropped = self._writer.submit(_PageRows(page, request_row, impression_rows))
            if page.user_id is not None:  # into the viewer's seen set before it leaves the pending one
                self.seen.add(page.user_id, [v for v in page.video_ids if v not in dropped])
        finally:
            # Committed, and the impressions table answers for these videos from now on - or never committed,
            # and then never served either.
            self._remove_pending(page)
        return dropped

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

    def _write(self, pages: list[_PageRows]) -> list[frozenset[int]]:
        postgres = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as connection:
            checked = [index for index, rows in enumerate(pages)
                       if rows.page.seen_watermark is not None and rows.page.user_id is not None and rows.impressions]
            if postgres:  # each viewer's pages commit one transaction at a time, in the order of their ids
                for viewer in sorted({rows.page.user_id for rows in pages if rows.page.user_id is not None}):
                    connection.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_SPACE, viewer)))
            # On SQLite this first write takes the database's write lock: the reads below see every commit.
            connection.execute(self._request_insert, [rows.request for rows in pages])
            dropped = self._served_elsewhere(connection, pages, checked)
            stored = list(pages)  # (the writer may retry ``pages`` one by one if this group fails: left as given)
            for index, video_ids in dropped.items():
                stored[index] = rows = pages[index].without(video_ids)
                connection.execute(self._request_update, {"request_id": rows.request["id"],
                                                          "inputs": rows.request["inputs"],
                                                          "items": rows.request["items"]})
            impressions = [row for rows in stored for row in rows.impressions]
            if impressions and not postgres:
                # Numbered here, after the largest id present or once handed out (an erasure may have deleted
                # the newest impressions): a number given twice could sit below a viewer's seen watermark.
                last = connection.execute(self._last_impression_id, {"region": stored[0].page.region}).scalar()
                impressions = [{**row, "id": last + index} for index, row in enumerate(impressions, start=1)]
            if impressions:
                connection.execute(self._impression_insert, impressions)
        return [frozenset(dropped.get(index, ())) for index in range(len(pages))]

    def _served_elsewhere(self, connection: Connection, pages: list[_PageRows],
                          checked: list[int]) -> dict[int, set[int]]:
        """Per page, its videos that the viewer was served after the page's watermark: by pages committed
        since (whoever wrote them) or by an earlier page of this same group."""
        dropped: dict[int, set[int]] = {}
        taken_in_group: dict[int, set[int]] = {}
        for index in checked:
            page = pages[index].page
            served = taken_in_group.setdefault(page.user_id, set())
            served.update(connection.execute(self._served_since, {"viewer_id": page.user_id,
                                                                  "after": page.seen_watermark}).scalars())
            clash = served.intersection(page.video_ids)
            if clash:
                dropped[index] = clash
            served.update(page.video_ids)
        return dropped


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
