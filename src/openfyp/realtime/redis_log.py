"""The event log on Redis Streams, for deployments whose servers run on several machines.

``settings.event_stream = "redis"`` swaps :class:`openfyp.events.log.SqlEventLog` for this class behind the
same ``EventLog`` interface. Redis is the one sequencer: a Lua script (atomic in Redis) skips event ids it has
seen in the last ``dedupe_seconds``, numbers the rest with a counter and adds them to the stream under the
entry id ``<seq>-0``, so ``seq`` is the same on every machine. Every server's online learner reads the stream
by ``seq`` (events appended by another machine included), and a :class:`StreamToSqlSink` copies the stream
into the SQL ``events`` table *with the same seq*, which training, the engine's viewer loading and its log
tail read.

Acknowledged means durable: an append returns after Redis has the events on disk. With Redis 7.2 or newer
and AOF on, each append waits with ``WAITAOF`` for the local fsync; otherwise the server must run with
``appendonly yes`` and ``appendfsync always``. A server that offers neither is refused (``RedisLogError``,
code ``not_durable``) unless the log is built with ``require_durable=False`` (tests, throwaway demos).

Erasure (``openfyp.governance.erasure``) removes a person's entries from the stream for good with
:meth:`RedisEventLog.erase_entries`: their stream entries and dedupe markers go, and their seqs are noted for
a day in a sorted set. A sink that read those entries just before and commits them just after the erasure's
SQL delete looks in that set after each commit and deletes what it copied back (see ``StreamToSqlSink``), so
no interleaving leaves an erased event in either store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from openfyp.events.log import ID_PROBE_CHUNK, AppendResult, refuse_foreign_events
from openfyp.events.rows import to_row
from openfyp.events.schema import Event

log = logging.getLogger(__name__)

Listener = Callable[[Sequence[Event]], None]

# How long the seqs of erased entries are remembered for sinks that read an entry before it was erased and
# commit it after: far longer than a sink's read-then-commit takes, short enough that the set stays small.
ERASED_SEQS_SECONDS = 86_400
# Entries removed per Redis transaction: bounds how long one erasure holds the server.
ERASE_CHUNK = 1000

_APPEND = """
local out = {}
for i = 1, #ARGV - 1, 2 do
  local marker = KEYS[3] .. ARGV[i]
  if redis.call('SET', marker, '0', 'NX', 'EX', tonumber(ARGV[#ARGV])) then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[i + 1])
    redis.call('SET', marker, seq, 'KEEPTTL')
    out[#out + 1] = seq
  else
    out[#out + 1] = 0
  end
end
return out
"""


class RedisLogError(RuntimeError):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class RedisEventLog:
    def __init__(self, url: str, region: str, *, prefix: str = "openfyp", require_durable: bool = True,
                 dedupe_seconds: int = 7 * 86400, client: Any = None) -> None:
        import redis

        self.region = region
        self.client = client or redis.Redis.from_url(url)
        base = f"{prefix}:{region}"
        self.stream_key, self.seq_key, self.marker_prefix = f"{base}:events", f"{base}:seq", f"{base}:eid:"
        self.erased_key = f"{base}:erased"  # sorted set: seqs erased in the last ERASED_SEQS_SECONDS
        self.dedupe_seconds = dedupe_seconds
        self._script = self.client.register_script(_APPEND)
        self._listeners: list[Listener] = []
        self.sink: StreamToSqlSink | None = None  # set by the sink that copies this stream into SQL
        self.durability = self._durability()
        if self.durability == "none" and require_durable:
            raise RedisLogError("not_durable", "this Redis server does not fsync appends (turn on appendonly "
                                "with appendfsync always, or use Redis 7.2+ with AOF for WAITAOF)", "redis_url")

    def _durability(self) -> str:
        try:
            appendonly = self.client.config_get("appendonly").get("appendonly")
            appendfsync = self.client.config_get("appendfsync").get("appendfsync")
            version = tuple(int(p) for p in str(self.client.info("server")["redis_version"]).split(".")[:2])
        except Exception:  # noqa: BLE001 - managed servers often forbid CONFIG: durability cannot be proven
            return "none"
        if appendonly != "yes":
            return "none"
        if version >= (7, 2):
            return "waitaof"
        return "fsync_always" if appendfsync == "always" else "none"

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, events: Sequence[Event]) -> AppendResult:
        refuse_foreign_events(events, self.region)
        if not events:
            return AppendResult(0, 0, self.head())
        argv: list[Any] = []
        for event in events:
            argv += [event.event_id, event.model_dump_json(exclude={"seq"})]
        argv.append(self.dedupe_seconds)
        seqs = [int(s) for s in self._script(keys=[self.stream_key, self.seq_key, self.marker_prefix], args=argv)]
        if self.durability == "waitaof":
            local, _ = self.client.execute_command("WAITAOF", 1, 0, 5000)
            if int(local) < 1:
                raise RedisLogError("not_durable", "Redis did not confirm the append reached its AOF on disk")
        stored = []
        for event, seq in zip(events, seqs):
            if seq:
                event.__dict__["seq"] = seq
                event.__pydantic_fields_set__.add("seq")
                stored.append(event)
        for listener in self._listeners:
            try:
                listener(stored)
            except Exception:  # a listener's failure must not un-acknowledge durable events
                log.exception("event log listener failed")
        last = max((e.seq for e in stored), default=None)
        return AppendResult(accepted=len(stored), duplicates=len(events) - len(stored),
                            last_seq=int(last) if last is not None else self.head())

    def read_after(self, seq: int, limit: int = 10_000) -> list[Event]:
        entries = self.client.xrange(self.stream_key, min=f"{int(seq) + 1}-0", max="+", count=limit)
        return _decoded(entries)

    def read_with_head(self, seq: int, limit: int) -> tuple[list[Event], int]:
        """Like ``read_after``, with the head as of the same instant: when fewer than ``limit`` events come
        back, every seq up to that head was read or no longer exists (erased), so a reader may move past it."""
        pipeline = self.client.pipeline(transaction=True)  # MULTI: one snapshot of counter and stream
        pipeline.get(self.seq_key)
        pipeline.xrange(self.stream_key, min=f"{int(seq) + 1}-0", max="+", count=limit)
        head, entries = pipeline.execute()
        return _decoded(entries), int(head) if head is not None else 0

    def entries_after(self, seq: int, batch: int = 5000) -> Iterator[Event]:
        """Every event after ``seq`` to the end of the stream, read ``batch`` at a time."""
        while True:
            events = self.read_after(seq, batch)
            yield from events
            if len(events) < batch:
                return
            seq = int(events[-1].seq)

    def copied_position(self) -> int:
        """Every entry at or below this seq is in the SQL ``events`` table (0 when no sink copies here)."""
        return self.sink.position if self.sink is not None else 0

    def erase_entries(self, entries: Mapping[int, str]) -> int:
        """Remove the entries ``seq -> event_id`` from the stream, with their dedupe markers, for good.

        Their seqs are recorded first (in the same transaction) in ``erased_key``, where a sink that read one of
        them before this call finds it after committing its copy. The caller deletes the SQL rows *after* this
        returns: a sink's copy that commits before that delete is deleted by it, one that commits after is
        undone by the sink itself. Returns how many entries the stream still held.
        """
        removed = 0
        items = sorted(entries.items())
        for start in range(0, len(items), ERASE_CHUNK):
            chunk = items[start:start + ERASE_CHUNK]
            pipeline = self.client.pipeline(transaction=True)
            pipeline.zadd(self.erased_key, {str(seq): seq for seq, _ in chunk})
            pipeline.expire(self.erased_key, ERASED_SEQS_SECONDS)
            pipeline.xdel(self.stream_key, *(f"{seq}-0" for seq, _ in chunk))
            # A marker would make known() and append() treat the erased event as still held.
            pipeline.delete(*(self.marker_prefix + event_id for _, event_id in chunk))
            removed += int(pipeline.execute()[2])
        return removed

    def erased_between(self, first: int, last: int) -> list[int]:
        """Seqs in ``[first, last]`` erased within the last ``ERASED_SEQS_SECONDS``."""
        return [int(seq) for seq in self.client.zrangebyscore(self.erased_key, first, last)]

    def settle(self, timeout: float = 60.0) -> bool:
        """Wait until the SQL copy holds everything appended so far (when a sink copies this stream)."""
        sink = self.sink
        if sink is None:
            return True
        target, deadline = self.head(), time.monotonic() + timeout
        while sink.position < target:
            if time.monotonic() >= deadline or not sink.running:
                return sink.position >= target
            sink.wake()
            time.sleep(0.01)
        return True

    def known(self, event_ids: Sequence[str]) -> set[str]:
        """Ids appended within the dedupe window (their markers are what append itself checks)."""
        ids = list(event_ids)
        if not ids:
            return set()
        pipeline = self.client.pipeline(transaction=False)
        for event_id in ids:
            pipeline.exists(self.marker_prefix + event_id)
        return {event_id for event_id, present in zip(ids, pipeline.execute(), strict=True) if present}

    def head(self) -> int:
        value = self.client.get(self.seq_key)
        return int(value) if value is not None else 0

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        """Delete this region's stream, counter, dedupe markers and erased seqs (tests and resets only)."""
        keys = [self.stream_key, self.seq_key, self.erased_key,
                *self.client.scan_iter(f"{self.marker_prefix}*", count=1000)]
        if keys:
            self.client.delete(*keys)


def _decoded(entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> list[Event]:
    out = []
    for entry_id, fields in entries:
        event = Event.model_validate_json(fields[b"e"])
        event.__dict__["seq"] = int(entry_id.split(b"-")[0])
        out.append(event)
    return out


class StreamToSqlSink:
    """Copies the Redis stream into the SQL ``events`` table, keeping each event's seq (idempotent).

    Its ``position``: every entry at or below it is in SQL, or was erased. It moves past erased entries too
    (``read_with_head``), so ``settle()`` is not left waiting for an entry that no longer exists.
    """

    def __init__(self, stream: RedisEventLog, engine: Any, *, batch: int = 5000, poll_seconds: float = 0.1) -> None:
        self.stream, self.engine = stream, engine
        self.batch, self.poll_seconds = batch, poll_seconds
        self.position = 0
        self.copied = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        stream.sink = self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def sql_head(self) -> int:
        from sqlalchemy import func, select

        from openfyp.store.tables import EventRow

        with self.engine.connect() as connection:
            return int(connection.execute(select(func.coalesce(func.max(EventRow.seq), 0))).scalar() or 0)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self.position = self.sql_head()
        self.stream.add_listener(lambda _events: self._wake.set())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="openfyp-stream-sink", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.copy_pending()
            except Exception:  # retried on the next tick
                log.exception("copying the event stream into SQL failed")
                self._stop.wait(1.0)

    def copy_pending(self) -> int:
        """Copy everything past the position; returns how many events were read."""
        total = 0
        while True:
            events, head = self.stream.read_with_head(self.position, self.batch)
            if events:
                self.store(events)
                self.copied += len(events)
                total += len(events)
            if len(events) == self.batch:
                self.position = int(events[-1].seq)
                continue
            # Everything up to the head was read: seqs in between without an entry were erased.
            self.position = max(self.position, head, int(events[-1].seq) if events else 0)
            return total

    def store(self, events: Sequence[Event]) -> None:
        """Insert ``events`` (read from the stream) into SQL, then undo any that were erased meanwhile."""
        from sqlalchemy import delete
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        from openfyp.store.tables import EventRow

        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        rows = [{"seq": e.seq, **to_row(e)} for e in events]
        with self.engine.begin() as connection:
            connection.execute(insert(EventRow).on_conflict_do_nothing(), rows)
        # Looked up only after the commit: an erasure that recorded these seqs before this look may have run
        # its SQL delete before the commit above and missed them; one that records them later deletes them
        # itself (its delete comes after its record, hence after this commit).
        copied_back = sorted(set(self.stream.erased_between(int(events[0].seq), int(events[-1].seq)))
                             & {int(e.seq) for e in events})
        if copied_back:
            with self.engine.begin() as connection:
                for start in range(0, len(copied_back), ID_PROBE_CHUNK):
                    chunk = copied_back[start:start + ID_PROBE_CHUNK]
                    connection.execute(delete(EventRow).where(EventRow.seq.in_(chunk)))
            log.info("removed %d erased event(s) copied back while their erasure ran", len(copied_back))
