from __future__ import annotations

import uuid

from openfyp.events.ids import new_event_id


def test_event_ids_are_uuid7_carrying_their_millisecond_and_ordered_by_it():
    ids = [new_event_id(now_ms=1_700_000_000_000 + step) for step in (0, 1, 2, 1000)]
    parsed = [uuid.UUID(value) for value in ids]
    assert all(p.version == 7 and p.variant == uuid.RFC_4122 for p in parsed)
    assert [p.int >> 80 for p in parsed] == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002,
                                            1_700_000_001_000]
    assert ids == sorted(ids), "later milliseconds sort later, as text too"
    assert len({new_event_id(now_ms=5) for _ in range(1000)}) == 1000, "random bits tell apart ids of one ms"
