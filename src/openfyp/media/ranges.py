"""HTTP byte ranges (RFC 9110 §14) over a :class:`MediaStore`, so players can seek and resume.

Only single ranges are served. A multi-range request (``bytes=0-9,20-29``) is answered with its
first satisfiable range as a plain 206, which RFC 9110 allows (a server may ignore or coalesce
ranges) and every browser's media stack accepts. ``If-Range`` is not evaluated: stored media
objects are immutable (a new upload gets a new key), so a range can never mix two versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.responses import Response, StreamingResponse

from openfyp.media.storage import MediaStore

MAX_RANGE_SPECS = 32
_DIGITS = re.compile(r"[0-9]{1,19}")


class RangeNotSatisfiable(Exception):
    """The Range header is well formed but no range in it overlaps the object (HTTP 416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no requested range overlaps the {size} bytes available")
        self.size = size


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` to serve, or ``None`` to serve the whole object.

    Headers that are malformed, use another unit or list too many ranges are ignored (``None``), as
    RFC 9110 requires; well-formed ones that miss the object raise :class:`RangeNotSatisfiable`.
    """
    if header is None:
        return None
    unit, equals, spec_list = header.strip().partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    specs = [spec.strip() for spec in spec_list.split(",") if spec.strip()]
    if not specs or len(specs) > MAX_RANGE_SPECS:
        return None
    parsed: list[tuple[int | None, int | None]] = []
    for spec in specs:
        first, dash, last = spec.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not _DIGITS.fullmatch(first)) or (last and not _DIGITS.fullmatch(last)):
            return None
        if not first and not last:
            return None
        start, end = (int(first) if first else None), (int(last) if last else None)
        if start is not None and end is not None and end < start:
            return None  # an invalid range-spec makes the whole header invalid
        parsed.append((start, end))
    for start, end in parsed:
        if start is None:  # suffix range: the last `end` bytes
            if end and size > 0:
                return max(0, size - end), size - 1
        elif start < size:
            return start, size - 1 if end is None else min(end, size - 1)
    raise RangeNotSatisfiable(size)


def range_response(
    store: MediaStore,
    key: str,
    range_header: str | None,
    media_type: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """200 with the whole object, 206 with one range, or 416; the body streams in the store's chunks.

    Raises :class:`~openfyp.media.errors.MediaNotFound` when ``key`` is not stored.
    """
    size = store.size(key)
    common = {"Accept-Ranges": "bytes", **(headers or {})}
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**common, "Content-Range": f"bytes */{size}"})

    if wanted is None:
        status, start, end = 200, 0, size - 1
        response_headers = {**common, "Content-Length": str(size)}
    else:
        status, (start, end) = 206, wanted
        response_headers = {**common, "Content-Length": str(end - start + 1),
                            "Content-Range": f"bytes {start}-{end}/{size}"}

    if method.upper() == "HEAD" or size == 0:
        return Response(status_code=status, headers=response_headers, media_type=media_type)
    return StreamingResponse(store.open_range(key, start, end), status_code=status,
                             headers=response_headers, media_type=media_type)
