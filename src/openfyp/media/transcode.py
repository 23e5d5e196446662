"""Turning a validated upload into the one format every browser plays, plus its poster picture.

Output: H.264 High (yuv420p) + AAC in an MP4 with the index up front, the short edge at most
``short_edge`` pixels, upright (ffmpeg applies the display rotation), metadata such as GPS stripped.
A silent AAC track is added to videos without sound so every video has a "sound" to reuse.

HDR sources (PQ or HLG, as phones record by default) are tone-mapped to SDR BT.709: played or
decoded as if they were SDR their 10-bit BT.2020 code values look grey and washed out. The poster is
cut from the finished rendition, so it inherits the conversion.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openfyp.media.errors import MediaError
from openfyp.media.ffmpeg import has_filter, run_ffmpeg
from openfyp.media.probe import MediaInfo, container_duration_s, open_input, probe

AUDIO_BITRATE = "128k"
AUDIO_RATE = 48_000
MAX_FPS = 60
POSTER_AT_S = 1.0

# HDR → SDR. BT.2408 puts HDR reference ("diffuse") white at 203 cd/m²: linearising with that as the
# nominal peak lands it on SDR white, so faces and walls keep their SDR brightness and only what is
# brighter than paper white gets compressed.
HDR_REFERENCE_WHITE_NITS = 203.0
# The brightest light the curve must still fit: phones grade HDR10 to 1000 cd/m², HLG's nominal display peak.
HDR_PEAK_NITS = 1000.0
# Möbius stays linear up to near white and rolls off smoothly above, keeping mid-tone brightness and
# saturation (hable darkens the whole picture when white sits at 1.0).
TONEMAP_CURVE = "mobius"
# Only highlights above this many times reference white lose colour, rather than turning neon.
TONEMAP_DESATURATE_ABOVE = 2.0
# Names zscale takes for the source's primaries and matrix; anything else with an HDR transfer is
# assumed to be BT.2020, the only primaries HDR video is delivered in.
ZSCALE_PRIMARIES = frozenset({"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020", "smpte428",
                              "smpte431", "smpte432", "ebu3213"})
ZSCALE_MATRICES = frozenset({"bt709", "fcc", "bt470bg", "smpte170m", "smpte240m", "ycgco", "bt2020nc", "bt2020c",
                             "chroma-derived-nc", "chroma-derived-c", "ictcp"})
# The tags an SDR rendition of an HDR source carries, so players do not guess.
SDR_TAG_ARGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    duration_s: float
    width: int
    height: int
    size_bytes: int
    has_audio: bool
    poster_size_bytes: int = 0
    video_codec: str = "h264"
    audio_codec: str | None = "aac"
    added_silent_audio: bool = False


def _even_floor(value: float) -> int:
    whole = int(value)
    return max(2, whole - whole % 2)


def target_size(width: int, height: int, short_edge: int) -> tuple[int, int]:
    """Scale so the short edge is at most ``short_edge``, never up, keeping aspect, both sides even."""
    scale = min(1.0, short_edge / min(width, height))
    return _even_floor(round(width * scale)), _even_floor(round(height * scale))


def poster_time_s(duration_s: float) -> float:
    return POSTER_AT_S if duration_s >= POSTER_AT_S + 0.5 else 0.0


def _default_timeout_s(duration_s: float) -> float:
    # Generous: veryfast 1080p→720p runs at several times real time on 2 cores, even when shared.
    return 300.0 + 4.0 * duration_s


@contextmanager
def _staged(dst: Path) -> Iterator[Path]:
    """A temporary file beside ``dst`` renamed over it only when the block succeeds."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=dst.suffix, dir=dst.parent)
    os.close(handle)
    staged = Path(name)
    try:
        yield staged
        staged.chmod(0o644)  # mkstemp's 0600 would hide the file from a separate web server user
        os.replace(staged, dst)
    finally:
        staged.unlink(missing_ok=True)


def can_tone_map() -> bool:
    """Whether this ffmpeg build has the filters of the HDR → SDR chain (the bundled one does)."""
    return has_filter("zscale") and has_filter("tonemap")


def hdr_to_sdr_filters(info: MediaInfo) -> list[str]:
    """Filters turning HDR (PQ/HLG, BT.2020) pictures into SDR BT.709 ones, for ``info.is_hdr`` sources.

    The source's tags are spelled out rather than read from the frames so a file whose container and
    bitstream disagree is converted the way the probe judged it.
    """
    primaries = info.color_primaries if info.color_primaries in ZSCALE_PRIMARIES else "bt2020"
    matrix = info.color_space if info.color_space in ZSCALE_MATRICES else "bt2020nc"
    source_range = "pc" if info.color_range == "pc" else "tv"
    peak = HDR_PEAK_NITS / HDR_REFERENCE_WHITE_NITS
    return [
        # One zscale pass decodes the transfer to linear light and maps the BT.2020 gamut onto BT.709 there
        # (a separate "zscale=p=bt709" step gives identical pixels for ~15 % more time).
        (f"zscale=tin={info.color_transfer}:pin={primaries}:min={matrix}:rin={source_range}"
         f":t=linear:p=bt709:npl={HDR_REFERENCE_WHITE_NITS:g}"),
        "format=gbrpf32le",  # linear light needs float: integers would band and clip the highlights
        f"tonemap=tonemap={TONEMAP_CURVE}:desat={TONEMAP_DESATURATE_ABOVE:g}:peak={peak:.3f}",
        "zscale=t=bt709:m=bt709:r=tv",
    ]


def video_args(info: MediaInfo, *, short_edge: int, crf: int, preset: str) -> list[str]:
    width, height = target_size(info.width, info.height, short_edge)
    fps = min(info.fps or 30.0, MAX_FPS)
    max_kbps = int(short_edge * 5.5)  # caps CRF on noisy sources so streams stay playable on mobile links
    # Scale first: the HDR chain works in 32-bit float per channel, so it should see as few pixels as possible.
    filters = [f"scale={width}:{height}:flags=bicubic", "setsar=1"]
    tag_args: list[str] = []
    if info.is_hdr:
        if can_tone_map():
            filters += hdr_to_sdr_filters(info)
            tag_args = SDR_TAG_ARGS
        else:
            log.warning("ffmpeg lacks zscale/tonemap: the HDR (%s) source is converted without tone mapping",
                        info.color_transfer)
    filters.append("format=yuv420p")
    return [
        "-vf", ",".join(filters),
        "-fpsmax", str(MAX_FPS),
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-profile:v", "high", "-pix_fmt", "yuv420p", *tag_args,
        "-g", str(max(12, round(fps * 2))),
        "-maxrate", f"{max_kbps}k", "-bufsize", f"{max_kbps * 2}k",
    ]


def _audio_args() -> list[str]:
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", str(AUDIO_RATE)]


def _write_poster(video: Path, poster: Path, duration_s: float, timeout_s: float) -> None:
    with _staged(poster) as staged:
        run_ffmpeg(
            ["-y", "-ss", f"{poster_time_s(duration_s):.3f}", "-i", video,
             "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1", "-c:v", "mjpeg", staged],
            timeout_s=timeout_s, what="poster extraction",
        )
        if staged.stat().st_size == 0:
            raise MediaError("transcode_failed", "poster extraction produced no picture", None)


def transcode(
    src: str | Path,
    dst_mp4: str | Path,
    dst_poster_jpg: str | Path,
    *,
    short_edge: int = 720,
    crf: int = 23,
    preset: str = "veryfast",
    threads: int | None = None,
    timeout_s: float | None = None,
) -> TranscodeResult:
    """Transcode ``src`` to a web MP4 and a poster JPEG; raises ``MediaError("transcode_failed")`` on failure."""
    src, dst_mp4, dst_poster_jpg = Path(src), Path(dst_mp4), Path(dst_poster_jpg)
    info = probe(src)
    keep_s = info.video_end_s or info.duration_s
    timeout = timeout_s or _default_timeout_s(info.duration_s)
    thread_args = ["-threads", str(threads), "-filter_threads", str(threads)] if threads else []

    # The same demuxer PyAV vetted, and files only: ffmpeg must not re-guess the format or follow URLs.
    inputs: list[str | Path] = ["-protocol_whitelist", "file", "-f", info.demuxer, "-i", src]
    if info.has_audio:
        maps: list[str | Path] = ["-map", "0:v:0", "-map", "0:a:0"]
    else:
        inputs += ["-f", "lavfi", "-i", f"anullsrc=channel_layout=stereo:sample_rate={AUDIO_RATE}"]
        maps = ["-map", "0:v:0", "-map", "1:a:0"]

    with _staged(dst_mp4) as staged:
        run_ffmpeg(
            ["-y", *inputs, *maps,
             *video_args(info, short_edge=short_edge, crf=crf, preset=preset), *_audio_args(), *thread_args,
             "-t", f"{keep_s:.3f}",
             "-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn",
             "-movflags", "+faststart", "-f", "mp4", staged],
            timeout_s=timeout, what="transcoding",
        )
        output = _describe_output(staged)
        _write_poster(staged, dst_poster_jpg, output.duration_s, timeout)

    return TranscodeResult(
        duration_s=output.duration_s,
        width=output.width,
        height=output.height,
        size_bytes=output.size_bytes,
        has_audio=output.has_audio,
        poster_size_bytes=dst_poster_jpg.stat().st_size,
        video_codec=output.video_codec,
        audio_codec=output.audio_codec,
        added_silent_audio=not info.has_audio,
    )


def _describe_output(path: Path) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as exc:
        raise MediaError("transcode_failed", f"the transcoded file is unreadable: {exc.message}", None) from exc


def extract_audio(src: str | Path, dst_m4a: str | Path, *, timeout_s: float = 300.0) -> float:
    """Copy a video's sound into an AAC ``.m4a`` (for reusable sounds); returns its length in seconds."""
    src, dst_m4a = Path(src), Path(dst_m4a)
    with open_input(src) as container:
        if not container.streams.audio:
            raise MediaError("no_audio_stream", "the file has no audio track to extract")
    with _staged(dst_m4a) as staged:
        run_ffmpeg(
            ["-y", "-protocol_whitelist", "file", "-i", src, "-map", "0:a:0", "-vn", *_audio_args(),
             "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", staged],
            timeout_s=timeout_s, what="audio extraction",
        )
        with open_input(staged) as container:
            if not container.streams.audio:
                raise MediaError("transcode_failed", "audio extraction produced no audio track", None)
            seconds = container_duration_s(container) or 0.0
    return round(seconds, 3)
