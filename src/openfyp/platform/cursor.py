"""Opaque, signed page cursors - the one codec every paged listing and feed uses.

A cursor is ``base64(body) . base64(hmac)``, the body being the state's JSON, deflated once it is long enough to
gain from it (zlib output never starts with ``{``, so a reader tells the two apart): compact, opaque to clients,
and refused when altered by one bit. Listings (``encode``/``decode``) store the position of the last item of
a page (keyset values or an offset) with the listing's name, so a cursor from one listing is refused by
another instead of silently paging garbage. Feeds seal a small state dict of their own (``seal``/``unseal``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from openfyp.platform.errors import InvalidInput

T = TypeVar("T")
MAX_CURSOR_LENGTH = 1024
_SIGNATURE_BYTES = 16
# A sealed body never legitimately inflates past this: refuse rather than decompress a bomb.
_MAX_STATE_BYTES = 1 << 20
# Shorter JSON is sealed as it is: deflating a few dozen bytes makes them longer, and setting up a level-9
# deflate costs more CPU than the rest of a feed's cursor.
_DEFLATE_FROM_BYTES = 128


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"openfyp-cursor:" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    # ---- any state ----------------------------------------------------------------------------------------
    def seal(self, state: dict[str, Any]) -> str:
        body = json.dumps(state, separators=(",", ":")).encode()
        if len(body) >= _DEFLATE_FROM_BYTES:
            body = zlib.compress(body, 9)
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def unseal(self, cursor: str, *, max_length: int = MAX_CURSOR_LENGTH) -> dict[str, Any] | None:
        """The state sealed in ``cursor``; None when it is malformed, too long, tampered with or not ours."""
        if len(cursor) > max_length or cursor.count(".") != 1:
            return None
        encoded_body, encoded_signature = cursor.split(".")
        try:
            body, signature = _unb64(encoded_body), _unb64(encoded_signature)
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            if body.startswith(b"{"):
                state = json.loads(body)
            else:
                state = json.loads(zlib.decompressobj().decompress(body, _MAX_STATE_BYTES))
        except (zlib.error, ValueError):
            return None
        return state if isinstance(state, dict) else None

    # ---- listings -----------------------------------------------------------------------------------------
    def encode(self, listing: str, position: list[Any]) -> str:
        return self.seal({"l": listing, "p": position})

    def decode(self, listing: str, cursor: str | None) -> list[Any] | None:
        """The position stored in ``cursor``, or None for the first page; tampered cursors are a 422."""
        if cursor is None or cursor == "":
            return None
        data = self.unseal(cursor)
        if data is None or data.get("l") != listing or not isinstance(data.get("p"), list):
            raise InvalidInput("invalid_cursor", "the cursor is malformed or belongs to another listing", "cursor")
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
