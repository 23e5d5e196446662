"""Events as columns: what the per-event learning steps read, so they run as array operations.

The online learner applies every ingested event (tens of thousands a second); looping over events in Python
for each step (video stats, trending weights, taste signals, pools) cost more than the log's write. An
:class:`EventBatch` converts a batch of events once into numpy columns, and builds an event's
:class:`EventRecord` only for the steps that work per viewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from openfyp.events.schema import Event, EventKind

if TYPE_CHECKING:
    from openfyp.recsys.state import Catalog


class EventRecord(NamedTuple):
    """The part of a stored event the engine needs, with the time as epoch seconds."""

    seq: int
    user_id: int | None
    video_id: int | None
    target_user_id: int | None
    kind: str
    watch_ratio: float | None
    ts: float


KINDS: tuple[str, ...] = tuple(kind.value for kind in EventKind)
KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}
OTHER_KIND = len(KINDS)  # a kind this version does not know (stored by a newer one): counts for nothing
NO_ID = -1


def kind_codes(kinds: Sequence[str] | np.ndarray) -> np.ndarray:
    """Codes (int16) of event kinds given as strings; already-coded integer arrays pass through."""
    if isinstance(kinds, np.ndarray) and kinds.dtype.kind in "iu":
        return kinds.astype(np.int16, copy=False)
    return np.fromiter(map(KIND_CODE.get, kinds, repeat(OTHER_KIND)), dtype=np.int16, count=len(kinds))


def code_of(kind: str) -> int:
    return KIND_CODE[kind]


def kind_table(values: dict[str, float], default: float = 0.0) -> np.ndarray:
    """A lookup table indexed by kind code (``table[batch.kind]`` gives each event's value)."""
    table = np.full(OTHER_KIND + 1, default, dtype=np.float64)
    for kind, value in values.items():
        table[KIND_CODE[kind]] = value
    return table


def _ids(values: tuple, missing: int = NO_ID) -> np.ndarray:
    # None becomes NaN in a float array, in one C pass; ids are far below 2**53, so the float is exact.
    as_float = np.array(values, dtype=np.float64)
    return np.where(np.isnan(as_float), missing, as_float).astype(np.int64)


# (seq, user_id, video_id, target_user_id, kind, watch_ratio, server_ts) of an Event's fields, in one C call.
_EVENT_FIELDS = itemgetter("seq", "user_id", "video_id", "target_user_id", "kind", "watch_ratio", "server_ts")


class EventBatch:
    """A batch of events in log order, as columns (``-1`` for no id, NaN for no ratio, 0 for no seq).

    The :class:`EventRecord` of an event is built only when asked for (see
    :meth:`record`): most steps read the columns, and only viewers whose state is in memory need records.
    """

    __slots__ = ("seq", "user", "video", "kind", "ratio", "ts", "_sources", "_sources_are_records", "_rows")

    def __init__(self, sources: list[tuple], sources_are_records: bool, seq: np.ndarray, user: np.ndarray,
                 video: np.ndarray, kind: np.ndarray, ratio: np.ndarray, ts: np.ndarray) -> None:
        self._sources = sources  # records, or event field tuples whose last item is the server time
        self._sources_are_records = sources_are_records
        self.seq, self.user, self.video, self.kind, self.ratio, self.ts = seq, user, video, kind, ratio, ts
        self._rows: tuple[int, int, np.ndarray] | None = None

    @classmethod
    def of(cls, records: Sequence[EventRecord]) -> EventBatch:
        """From engine records (e.g. read back from the store)."""
        return cls._from_tuples(list(records), True)

    @classmethod
    def from_events(cls, events: Sequence[Event]) -> EventBatch:
        """From logged events; this runs for every ingested event, so it stays in C as far as it can."""
        return cls._from_tuples(list(map(_EVENT_FIELDS, map(attrgetter("__dict__"), events))), False)

    @classmethod
    def _from_tuples(cls, sources: list[tuple], are_records: bool) -> EventBatch:
        if not sources:
            empty = np.zeros(0, dtype=np.int64)
            return cls(sources, are_records, empty, empty, empty, np.zeros(0, dtype=np.int16), np.zeros(0),
                       np.zeros(0))
        seq, user, video, _target, kind, ratio, time = zip(*sources, strict=True)
        if are_records:
            ts = np.array(time, dtype=np.float64)
        else:
            # The events of one request share their server time: each distinct time is converted once.
            epoch = {moment: moment.timestamp() for moment in set(time)}
            ts = np.fromiter(map(epoch.__getitem__, time), dtype=np.float64, count=len(time))
        return cls(sources, are_records, _ids(seq, 0), _ids(user), _ids(video), kind_codes(kind),
                   np.array(ratio, dtype=np.float64), ts)

    def __len__(self) -> int:
        return len(self._sources)

    def record(self, index: int) -> EventRecord:
        source = self._sources[index]
        if self._sources_are_records:
            return source  # type: ignore[return-value]
        seq, user, video, target, kind, ratio, _time = source
        return EventRecord(seq or 0, user, video, target, kind, ratio, float(self.ts[index]))

    @property
    def records(self) -> list[EventRecord]:
        return [self.record(i) for i in range(len(self))]

    def select(self, mask: np.ndarray) -> EventBatch:
        """The events where ``mask`` holds, in order."""
        if mask.all():
            return self
        picked = np.flatnonzero(mask)
        sources = self._sources
        selected = EventBatch([sources[i] for i in picked.tolist()], self._sources_are_records, self.seq[picked],
                              self.user[picked], self.video[picked], self.kind[picked], self.ratio[picked],
                              self.ts[picked])
        if self._rows is not None:
            selected._rows = (self._rows[0], self._rows[1], self._rows[2][picked])
        return selected

    def rows(self, catalog: Catalog) -> np.ndarray:
        """Each event's catalog row (``-1``: no video, or one the catalog does not hold); computed once."""
        key = (id(catalog), catalog.size)
        cached = self._rows
        if cached is not None and cached[:2] == key:
            return cached[2]
        lookup = catalog.row_of.get
        rows = np.fromiter(map(lookup, self.video.tolist(), repeat(NO_ID)), dtype=np.int64, count=len(self.video))
        self._rows = (key[0], key[1], rows)
        return rows

    def is_kind(self, *kinds: str) -> np.ndarray:
        if len(kinds) == 1:
            return self.kind == KIND_CODE[kinds[0]]
        return np.isin(self.kind, [KIND_CODE[kind] for kind in kinds])
