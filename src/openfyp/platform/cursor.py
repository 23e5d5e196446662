"""Opaque, signed page cursors.

A cursor carries the position of the last item of a page (keyset values or an offset) plus the name of
the listing it belongs to. It is signed so clients cannot hand-craft positions, and a cursor from one
listing is refused by another instead of silently paging garbage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from openfyp.platform.errors import InvalidInput

T = TypeVar("T")
MAX_CURSOR_LENGTH = 1024
_SIGNATURE_BYTES = 16


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"openfyp-cursor:" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def encode(self, listing: str, position: list[Any]) -> str:
        payload = json.dumps({"l": listing, "p": position}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def decode(self, listing: str, cursor: str | None) -> list[Any] | None:
        """The position stored in ``cursor``, or None for the first page; tampered cursors are a 422."""
        if cursor is None or cursor == "":
            return None
        invalid = InvalidInput("invalid_cursor", "the cursor is malformed or belongs to another listing", "cursor")
        if len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
            raise invalid
        body, signature = cursor.split(".")
        try:
            payload, sent = _unb64(body), _unb64(signature)
        except (ValueError, TypeError):
            raise invalid from None
        if not hmac.compare_digest(sent, self._sign(payload)):
            raise invalid
        data = json.loads(payload)
        if data.get("l") != listing or not isinstance(data.get("p"), list):
            raise invalid
        return data["p"]


def time_key(moment: datetime) -> str:
    return moment.isoformat()


def parse_time_key(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput("invalid_cursor", "the cursor is malformed", "cursor") from None


def offset_of(position: list[Any] | None) -> int:
    if position is None:
        return 0
    if len(position) != 1 or not isinstance(position[0], int) or position[0] < 0:
        raise InvalidInput("invalid_cursor", "the cursor is malformed", "cursor")
    return position[0]


def codec_for(services) -> CursorCodec:
    """The deployment's codec, built once from its secret key."""
    codec = services.extras.get("cursor_codec")
    if codec is None:
        codec = services.extras["cursor_codec"] = CursorCodec(services.settings.resolved_secret_key())
    return codec
