"""Refusing bad uploads before any transcoding work, cheaply and with a precise reason.

Order matters: byte counts first, then magic numbers, then the MP4 box headers, then PyAV opens the
file, decodes its first frames and jumps near the end to prove the data really reaches the declared
duration. Nothing here reads the whole file or decodes more than a few frames.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from openfyp.media.errors import MediaError
from openfyp.media.isobmff import looks_like_isobmff, walk_boxes
from openfyp.media.probe import MediaInfo, describe, main_video_stream, open_input

HEAD_BYTES = 4096
HEAD_FRAMES = 3
MAX_PIXELS = 7680 * 4320  # 8K; larger frames cost gigabytes of decoder memory for no visible gain
# How many packets after the near-end seek we feed the decoder hoping for one picture (B-frames and
# decoder threads delay output by a few packets).
TAIL_DECODE_PACKETS = 48

# (magic prefix, offset, what it is): formats people upload by mistake.
NON_VIDEO_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"WAVE", 8, "a WAV audio file"),
    (b"AIFF", 8, "an AIFF audio file"),
    (b"ID3", 0, "an MP3 audio file"),
    (b"fLaC", 0, "a FLAC audio file"),
    (b"MThd", 0, "a MIDI file"),
    (b"%PDF-", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive or office document"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\xfd7zXZ\x00", 0, "an xz archive"),
    (b"BZh", 0, "a bzip2 archive"),
    (b"\x7fELF", 0, "a program"),
    (b"MZ", 0, "a Windows program"),
    (b"SQLite format 3\x00", 0, "an SQLite database"),
)
# ISO-BMFF brands of stills and audio: they share MP4's box layout, so the extension proves nothing.
NON_VIDEO_BRANDS: dict[bytes, str] = {
    b"heic": "a HEIC image", b"heix": "a HEIC image", b"mif1": "a HEIF image", b"msf1": "a HEIF image sequence",
    b"avif": "an AVIF image", b"avis": "an AVIF image sequence",
    b"M4A ": "an M4A audio file", b"M4B ": "an M4B audiobook", b"M4P ": "an M4P audio file",
}
TEXT_WHITESPACE = frozenset("\t\n\r\f\v")


def _non_video_kind(head: bytes) -> str | None:
    for magic, offset, kind in NON_VIDEO_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "an MPEG audio (MP3/AAC) stream"
    if len(head) >= 14 and head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return "a BMP image"
    if looks_like_isobmff(head) and head[4:8] == b"ftyp" and head[8:12] in NON_VIDEO_BRANDS:
        return NON_VIDEO_BRANDS[head[8:12]]
    if _looks_like_text(head):
        return "a text file"
    return None


def _looks_like_text(head: bytes) -> bool:
    if len(head) < 8 or b"\x00" in head:
        return False
    for cut in range(4):  # the head may end in the middle of a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(ch.isprintable() or ch in TEXT_WHITESPACE for ch in text)
    return False


def sniff_upload_head(first_bytes: bytes) -> None:
    """Raise ``not_a_video`` when the first bytes of an upload are obviously something else.

    Cheap enough to call on the first chunk while the upload is still streaming; unknown or
    video-like heads pass and are judged by :func:`validate_upload` once the file is complete.
    """
    kind = _non_video_kind(first_bytes)
    if kind is not None:
        raise MediaError("not_a_video", f"this looks like {kind}, not a video")


def _check_isobmff_structure(path: Path) -> None:
    walk = walk_boxes(path)
    if walk.overrun is not None:
        raise MediaError(
            "truncated",
            f"the file stops at byte {walk.file_size} inside its '{walk.overrun.type}' section, which should "
            f"run to byte {walk.overrun.offset + walk.overrun.size}; the upload was probably cut off",
        )
    if walk.garbage_at is not None:
        raise MediaError("corrupt", f"the MP4 structure is damaged at byte {walk.garbage_at}")
    if not walk.has("moov"):
        raise MediaError("truncated", "the MP4 has no index ('moov' section); the upload was probably cut off")


def _check_limits(info: MediaInfo, *, max_seconds: float, min_seconds: float) -> None:
    if info.duration_s <= 0:
        raise MediaError("corrupt", "the video declares no duration")
    if info.duration_s > max_seconds:
        raise MediaError("too_long", f"the video lasts {info.duration_s:.1f} s; the limit is {max_seconds:g} s")
    if info.duration_s < min_seconds:
        raise MediaError("too_short", f"the video lasts {info.duration_s:.2f} s; the minimum is {min_seconds:g} s")
    if info.width < 2 or info.height < 2:
        raise MediaError("corrupt", f"the video claims an impossible size of {info.width}x{info.height}")
    if info.width * info.height > MAX_PIXELS:
        raise MediaError("resolution_too_high",
                         f"the video is {info.width}x{info.height}; at most 8K (7680x4320) is accepted")


def _decode_head(container: InputContainer, video: VideoStream) -> None:
    container.seek(0)
    decoded = 0
    try:
        for _ in container.decode(video):
            decoded += 1
            if decoded >= HEAD_FRAMES:
                return
    except av.error.FFmpegError as exc:
        raise MediaError("corrupt", f"the start of the video could not be decoded: {exc}") from exc
    if decoded == 0:
        raise MediaError("corrupt", "the video stream contains no decodable frame")


def _tolerated_gap_s(declared_end: float) -> float:
    return max(1.0, 0.1 * declared_end)


def _reached_end_s(container: InputContainer, video: VideoStream, declared_end: float) -> tuple[float | None, bool]:
    """Seek close to the declared end; return how far packets really reach and whether a frame decoded there."""
    target = max(0.0, declared_end - max(2.0, 0.05 * declared_end))
    try:
        if video.time_base is not None:
            container.seek(int(target / video.time_base), stream=video, backward=True, any_frame=False)
        else:
            container.seek(int(target * av.time_base))
    except av.error.FFmpegError:
        container.seek(0)
    decoder = video.codec_context
    decoder.flush_buffers()
    reached: float | None = None
    decoded_frame = False
    fed = 0
    try:
        for packet in container.demux(video):
            if packet.size == 0 or packet.time_base is None:
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                end = float((stamp + (packet.duration or 0)) * packet.time_base)
                reached = end if reached is None else max(reached, end)
            if not decoded_frame and fed < TAIL_DECODE_PACKETS:
                fed += 1
                decoded_frame = bool(decoder.decode(packet))
    except (av.error.EOFError, av.error.InvalidDataError):
        pass  # a file cut mid-packet ends the demuxing; what was reached so far is the answer
    except av.error.FFmpegError as exc:
        raise MediaError("corrupt", f"the end of the video could not be read: {exc}") from exc
    if not decoded_frame and fed:
        try:
            decoded_frame = bool(decoder.decode(None))
        except av.error.FFmpegError:
            decoded_frame = False
    return reached, decoded_frame


def _check_tail(container: InputContainer, video: VideoStream, info: MediaInfo) -> None:
    declared_end = info.video_end_s or info.duration_s
    reached, decoded_frame = _reached_end_s(container, video, declared_end)
    if reached is None or reached < declared_end - _tolerated_gap_s(declared_end):
        shown = f"{reached:.1f} s" if reached is not None else "nothing"
        raise MediaError(
            "truncated",
            f"the video declares {declared_end:.1f} s but its data stops at {shown}; the upload was probably cut off",
        )
    if not decoded_frame:
        raise MediaError("corrupt", "no frame near the end of the video could be decoded")


def validate_upload(
    path: str | Path, *, max_bytes: int, max_seconds: float, min_seconds: float = 0.5
) -> MediaInfo:
    """Check an uploaded file end to end and return its facts, or raise a ``MediaError`` saying why not."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise MediaError("empty_file", "the uploaded file is empty")
    if size > max_bytes:
        raise MediaError("too_large", f"the file has {size} bytes; the limit is {max_bytes} bytes")
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    sniff_upload_head(head)
    if looks_like_isobmff(head):
        _check_isobmff_structure(path)
    with open_input(path) as container:
        info = describe(container, size)
        _check_limits(info, max_seconds=max_seconds, min_seconds=min_seconds)
        video = main_video_stream(container)
        assert video is not None  # describe() refuses files without one
        _decode_head(container, video)
        _check_tail(container, video, info)
    return info
