"""A walk over the top-level boxes of an MP4/MOV file, reading only their 8–16 byte headers.

It answers two cheap questions without decoding anything: was the file cut off (a box runs past
the end, or there is no ``moov`` index at all), and is the index up front (``+faststart``)?
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# Top-level box types an MP4/MOV file may begin with; QuickTime files sometimes open with wide/mdat.
LEADING_BOX_TYPES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"})
# Top-level types seen in the wild; an overrunning box of any other type is garbage, not a cut-off file.
KNOWN_TOP_LEVEL_TYPES = frozenset({
    "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "styp", "moof", "mfra", "meta", "uuid",
    "sidx", "ssix", "prft", "emsg", "pdin", "junk", "udta", "mvhd", "bloc", "PICT",
})
MAX_BOXES = 100_000


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class BoxWalk:
    boxes: tuple[Box, ...]
    file_size: int
    overrun: Box | None  # the first box whose declared size runs past the end of the file
    garbage_at: int | None  # offset where bytes stopped looking like box headers

    def has(self, box_type: str) -> bool:
        return any(box.type == box_type for box in self.boxes)

    def index_of(self, box_type: str) -> int | None:
        return next((i for i, box in enumerate(self.boxes) if box.type == box_type), None)


def looks_like_isobmff(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in LEADING_BOX_TYPES


def _is_box_type(raw: bytes) -> bool:
    # Box types are four printable ASCII characters (Apple uses © = 0xA9 in metadata, never top level).
    return all(0x20 <= b < 0x7F for b in raw)


def walk_boxes(path: str | Path) -> BoxWalk:
    path = Path(path)
    file_size = path.stat().st_size
    boxes: list[Box] = []
    with path.open("rb") as handle:
        offset = 0
        while offset < file_size and len(boxes) < MAX_BOXES:
            handle.seek(offset)
            header = handle.read(16)
            if len(header) < 8:
                return BoxWalk(tuple(boxes), file_size, Box("?", offset, 8), None)
            size, raw_type = struct.unpack(">I4s", header[:8])
            if not _is_box_type(raw_type):
                return BoxWalk(tuple(boxes), file_size, None, offset)
            if size == 1:
                if len(header) < 16:
                    return BoxWalk(tuple(boxes), file_size, Box(raw_type.decode("ascii"), offset, 16), None)
                size = struct.unpack(">Q", header[8:16])[0]
                minimum = 16
            elif size == 0:  # "extends to the end of the file", legal for the last box
                size = file_size - offset
                minimum = 8
            else:
                minimum = 8
            box = Box(raw_type.decode("ascii"), offset, size)
            if size < minimum:
                return BoxWalk(tuple(boxes), file_size, None, offset)
            if offset + size > file_size:
                if box.type not in KNOWN_TOP_LEVEL_TYPES:
                    return BoxWalk(tuple(boxes), file_size, None, offset)
                return BoxWalk(tuple(boxes), file_size, box, None)
            boxes.append(box)
            offset += size
    return BoxWalk(tuple(boxes), file_size, None, None)


def is_faststart(path: str | Path) -> bool:
    """True when the ``moov`` index precedes the media data, so players can start before the download ends."""
    walk = walk_boxes(path)
    moov, mdat = walk.index_of("moov"), walk.index_of("mdat")
    return moov is not None and (mdat is None or moov < mdat)
