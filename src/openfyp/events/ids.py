"""Event ids: UUID version 7 (RFC 9562), whose first 48 bits are the creation time in milliseconds.

The log deduplicates by event id through a unique index. Random (version 4) ids land anywhere in that
index, so each new one touches a page of its own; time-ordered ids land at its right edge, where the same
few pages take a whole burst. Clients may send any UUID (older clients send version 4): uniqueness, not
order, is what the log relies on.
"""

from __future__ import annotations

import secrets
import time
import uuid


def new_event_id(now_ms: int | None = None) -> str:
    """A fresh UUIDv7: 48 bits of Unix time in ms, version 7, 74 random bits, the RFC variant."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (millis & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10xx
    return str(uuid.UUID(int=value))
