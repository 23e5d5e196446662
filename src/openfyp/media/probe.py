"""Reading a media file's facts in-process with PyAV: streams, size, duration, rotation, colour.

``imageio-ffmpeg`` ships no ffprobe, and PyAV answers in milliseconds without a subprocess. The first
video frame is decoded because the display rotation lives in frame side data, and because the
decoder's view of the colour signalling (the bitstream's VUI) is what ffmpeg's filters will see.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from openfyp.media.errors import MediaError

# Demuxers that read single pictures: a PNG or JPEG opens as a one-frame "video" and must not pass.
IMAGE_DEMUXERS = frozenset({"image2", "gif", "apng", "webp", "ico", "pcx", "sgi", "sunrast", "xbm", "xpm", "xwd"})
# Demuxers that follow references to other files or URLs (playlists, concat lists, SDP): an upload
# must never make ffmpeg read anything but itself.
REFERENCING_DEMUXERS = frozenset({"hls", "applehttp", "dash", "concat", "sdp", "rtsp", "rtp", "imf", "ffmetadata",
                                  "lavfi", "tty"})
# Only plain files may be opened; no network, no pipes, no data: URLs smuggled through a container.
INPUT_OPTIONS = {"protocol_whitelist": "file"}

# ffmpeg's names (what ffprobe prints and what -color_trc/zscale accept) for the ITU-T H.273 code points
# that libavutil's AVColor* enums use. PyAV's own enums list only some, so the names live here;
# a code missing from a table reads as None, like "unknown" in ffprobe.
COLOR_TRANSFERS = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
    10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
    16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}
COLOR_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
    10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}
COLOR_MATRICES = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
    10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc", 13: "chroma-derived-c", 14: "ictcp",
}
COLOR_RANGES = {1: "tv", 2: "pc"}
# Transfers of high-dynamic-range video: PQ (HDR10, HDR10+, Dolby Vision profile 8.1) and HLG (iPhones'
# default recording, whose Dolby Vision profile 8.4 base layer is HLG).
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})


@dataclass(frozen=True, slots=True)
class MediaInfo:
    duration_s: float
    width: int  # display width: after rotation and non-square pixels
    height: int
    rotation: int  # clockwise degrees a player turns the stored picture: 0, 90, 180 or 270
    fps: float
    video_codec: str
    audio_codec: str | None
    has_audio: bool
    container: str  # ffmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    bit_rate: int | None
    size_bytes: int
    coded_width: int = 0  # the stored picture before rotation
    coded_height: int = 0
    video_end_s: float | None = None  # where the video stream itself says it ends
    # Colour signalling under ffprobe's names (None where the file leaves it unspecified).
    pix_fmt: str | None = None  # e.g. "yuv420p10le"
    color_transfer: str | None = None  # e.g. "bt709", "smpte2084" (PQ), "arib-std-b67" (HLG)
    color_primaries: str | None = None  # e.g. "bt709", "bt2020"
    color_space: str | None = None  # the YUV matrix, e.g. "bt709", "bt2020nc"
    color_range: str | None = None  # "tv" (limited) or "pc" (full)

    @property
    def is_hdr(self) -> bool:
        """Whether the picture is coded with an HDR transfer and needs tone mapping to look right in SDR."""
        return self.color_transfer in HDR_TRANSFERS

    @property
    def is_portrait(self) -> bool:
        return self.height > self.width

    @property
    def short_edge(self) -> int:
        return min(self.width, self.height)

    @property
    def demuxer(self) -> str:
        """The name that forces the same demuxer on the ffmpeg command line (``-f mov``)."""
        return self.container.split(",")[0]


def open_input(path: str | Path) -> InputContainer:
    """Open a file with PyAV, turning ffmpeg's refusals into ``MediaError``."""
    try:
        return av.open(str(path), mode="r", options=INPUT_OPTIONS)
    except av.error.InvalidDataError as exc:
        raise MediaError("corrupt", "the file could not be read as a video (unrecognised or damaged data)") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError("corrupt", f"the file could not be opened: {exc}") from exc


def is_image_container(container: InputContainer) -> bool:
    name = container.format.name
    return name in IMAGE_DEMUXERS or name.endswith("_pipe")


def main_video_stream(container: InputContainer) -> VideoStream | None:
    """The first real video stream; cover art attached to audio files does not count."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


def codec_name(stream: av.stream.Stream) -> str:
    context = stream.codec_context
    if context is None:
        return "unknown"
    return context.codec.canonical_name or context.name


def stream_end_s(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    start = stream.start_time or 0
    return float((start + stream.duration) * stream.time_base)


def container_duration_s(container: InputContainer) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    ends = [end for stream in container.streams if (end := stream_end_s(stream)) is not None]
    return max(ends) if ends else None


def duration_by_demux(container: InputContainer, stream: VideoStream) -> float | None:
    """Last resort for streams that declare no duration (raw H.264, some TS files): read packet times."""
    container.seek(0)
    last: float | None = None
    for packet in container.demux(stream):
        if packet.pts is None or packet.time_base is None:
            continue
        end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
        last = end if last is None else max(last, end)
    return last


def normalise_rotation(counter_clockwise: float | int | None) -> int:
    if not counter_clockwise:
        return 0
    return int(round(-float(counter_clockwise) / 90.0)) * 90 % 360


def first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise MediaError("corrupt", f"the first video frame could not be decoded: {exc}") from exc
    raise MediaError("corrupt", "the video stream contains no decodable frame")


@dataclass(frozen=True, slots=True)
class ColourSignalling:
    transfer: str | None
    primaries: str | None
    matrix: str | None
    range: str | None


def colour_signalling(frame: VideoFrame, stream: VideoStream) -> ColourSignalling:
    """The colour tags of the decoded picture, falling back to the container's where the bitstream has none."""
    context = stream.codec_context

    def pick(attribute: str, names: dict[int, str]) -> str | None:
        for source in (frame, context):
            code = getattr(source, attribute, None)
            if isinstance(code, int) and code in names:
                return names[code]
        return None

    return ColourSignalling(
        transfer=pick("color_trc", COLOR_TRANSFERS),
        primaries=pick("color_primaries", COLOR_PRIMARIES),
        matrix=pick("colorspace", COLOR_MATRICES),
        range=pick("color_range", COLOR_RANGES),
    )


def display_size(stream: VideoStream, rotation: int) -> tuple[int, int]:
    width, height = stream.codec_context.width or stream.width, stream.codec_context.height or stream.height
    sar = stream.sample_aspect_ratio
    if sar and sar != 1 and sar > 0:
        width = int(round(width * Fraction(sar)))
    if rotation in (90, 270):
        width, height = height, width
    return width, height


def describe(container: InputContainer, size_bytes: int) -> MediaInfo:
    """Facts about an open container; decodes its first video frame (the container is left mid-stream)."""
    if is_image_container(container):
        raise MediaError("not_a_video", f"this is a still image ({container.format.name}), not a video")
    if set(container.format.name.split(",")) & REFERENCING_DEMUXERS:
        raise MediaError("not_a_video", f"this is a {container.format.name} file that points at other media, "
                                        "not a self-contained video")
    video = main_video_stream(container)
    if video is None:
        raise MediaError("no_video_stream", "the file has no video stream (audio only?)")
    if video.codec_context is None:
        raise MediaError("unsupported_codec", "the video codec is not supported")
    audio = container.streams.audio[0] if container.streams.audio else None
    rate = video.average_rate or video.guessed_rate or video.base_rate
    duration = container_duration_s(container)
    video_end = stream_end_s(video)
    frame = first_frame(container, video)
    rotation = normalise_rotation(getattr(frame, "rotation", 0))
    colour = colour_signalling(frame, video)
    if duration is None:
        duration = video_end = duration_by_demux(container, video)
    width, height = display_size(video, rotation)
    return MediaInfo(
        duration_s=round(duration or 0.0, 3),
        width=width,
        height=height,
        rotation=rotation,
        fps=round(float(rate), 3) if rate else 0.0,
        video_codec=codec_name(video),
        audio_codec=codec_name(audio) if audio is not None else None,
        has_audio=audio is not None,
        container=container.format.name,
        bit_rate=container.bit_rate or None,
        size_bytes=size_bytes,
        coded_width=video.codec_context.width,
        coded_height=video.codec_context.height,
        video_end_s=video_end,
        pix_fmt=video.codec_context.pix_fmt or None,
        color_transfer=colour.transfer,
        color_primaries=colour.primaries,
        color_space=colour.matrix,
        color_range=colour.range,
    )


def probe(path: str | Path) -> MediaInfo:
    """Facts about a video file. Raises ``MediaError`` when it is no readable video at all."""
    path = Path(path)
    size_bytes = path.stat().st_size
    with open_input(path) as container:
        return describe(container, size_bytes)
