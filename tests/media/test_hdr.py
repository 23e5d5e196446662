"""HDR (PQ/HLG) sources: the probe recognises them and transcoding tone-maps them to SDR BT.709.

The clips are colour bars drawn in SDR, converted to HDR with SDR white at reference white, and
compared after transcoding with the SDR twin's rendition, pixel for pixel.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from openfyp.media.ffmpeg import run_ffmpeg
from openfyp.media.probe import MediaInfo, probe
from openfyp.media.synth import make_rotated_copy
from openfyp.media.transcode import transcode, video_args
from openfyp.media.validate import validate_upload


@dataclasses.dataclass(frozen=True)
class Picture:
    luma: np.ndarray  # Y, 0..255
    chroma: np.ndarray  # distance of (Cb, Cr) from neutral grey: 0 for greys, large for saturated colours

    def distance(self, other: Picture) -> tuple[float, float]:
        """Mean absolute per-pixel difference in luma and in chroma strength."""
        return (float(np.abs(self.luma - other.luma).mean()), float(np.abs(self.chroma - other.chroma).mean()))


def _picture(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> Picture:
    return Picture(y.astype(np.float64), np.hypot(cb.astype(np.float64) - 128, cr.astype(np.float64) - 128))


def first_frame_picture(path: Path) -> Picture:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name == "yuv420p"
        planes = frame.to_ndarray()  # Y rows, then the quarter-size U and V planes
    height, width = frame.height, frame.width
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    cb, cr = (plane.repeat(2, axis=0).repeat(2, axis=1) for plane in chroma)  # back to full size
    return _picture(planes[:height][:, :width], cb, cr)


def jpeg_picture(path: Path) -> Picture:
    with Image.open(path) as image:
        y, cb, cr = (np.asarray(band) for band in image.convert("YCbCr").split())
    return _picture(y, cb, cr)


def untone_mapped(src: Path, dst: Path) -> Path:
    """The conversion transcode made before it knew HDR: scaled and cut to 8 bits, colours untouched."""
    info = probe(src)
    run_ffmpeg(["-y", "-i", src, "-vf", f"scale={info.width}:{info.height}:flags=bicubic,setsar=1,format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-an", dst], timeout_s=120)
    return dst


@pytest.fixture(scope="module")
def twin_rendition(tmp_path_factory: pytest.TempPathFactory, hdr_sdr_twin_clip: Path) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("twin")
    transcode(hdr_sdr_twin_clip, out / "v.mp4", out / "p.jpg")
    return out / "v.mp4", out / "p.jpg"


def _hdr_clip(request: pytest.FixtureRequest, transfer: str) -> Path:
    return request.getfixturevalue({"pq": "pq_clip", "hlg": "hlg_clip"}[transfer])


@pytest.mark.parametrize(("transfer", "trc"), [("pq", "smpte2084"), ("hlg", "arib-std-b67")])
def test_probe_recognises_hdr(request: pytest.FixtureRequest, transfer: str, trc: str) -> None:
    info = probe(_hdr_clip(request, transfer))
    assert info.is_hdr
    assert (info.color_transfer, info.color_primaries, info.color_space, info.color_range) == \
        (trc, "bt2020", "bt2020nc", "tv")
    assert info.pix_fmt == "yuv420p10le"


def test_sdr_clips_are_not_hdr(portrait_clip: Path, hdr_sdr_twin_clip: Path) -> None:
    for clip in (portrait_clip, hdr_sdr_twin_clip):
        info = probe(clip)
        assert not info.is_hdr
        assert info.color_transfer in (None, "bt709") and info.pix_fmt == "yuv420p"


def test_validation_accepts_hdr_and_reports_its_colour(pq_clip: Path) -> None:
    info = validate_upload(pq_clip, max_bytes=10**8, max_seconds=60)
    assert info.is_hdr and info.color_transfer == "smpte2084"


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_hdr_rendition_is_tone_mapped_to_sdr_bt709(request: pytest.FixtureRequest, tmp_path: Path,
                                                     twin_rendition: tuple[Path, Path], transfer: str) -> None:
    source = _hdr_clip(request, transfer)
    out, poster = tmp_path / "v.mp4", tmp_path / "p.jpg"
    result = transcode(source, out, poster)
    assert (result.width, result.height, result.video_codec) == (320, 180, "h264")

    info = probe(out)
    assert not info.is_hdr
    assert info.pix_fmt == "yuv420p"  # 8-bit 4:2:0, what every browser decodes
    assert (info.color_transfer, info.color_primaries, info.color_space, info.color_range) == \
        ("bt709", "bt709", "bt709", "tv")

    reference = first_frame_picture(twin_rendition[0])
    toned = first_frame_picture(out).distance(reference)
    naive = first_frame_picture(untone_mapped(source, tmp_path / "naive.mp4")).distance(reference)
    # The untone-mapped picture really is washed out (else this test would prove nothing)...
    assert naive[1] > 15.0, naive
    # ...and the tone-mapped one is far closer to the SDR original, in brightness and in colour.
    assert toned[0] < naive[0] / 2 and toned[1] < naive[1] / 2, (toned, naive)
    assert toned[0] < 10.0 and toned[1] < 10.0, toned
    assert first_frame_picture(out).chroma.mean() > 0.8 * reference.chroma.mean()

    # The poster is cut from the rendition, so it is tone-mapped too.
    poster_distance = jpeg_picture(poster).distance(jpeg_picture(twin_rendition[1]))
    assert poster_distance[0] < 10.0 and poster_distance[1] < 10.0, poster_distance


def test_portrait_phone_hdr_comes_out_upright_and_sdr(tmp_path: Path, hlg_clip: Path) -> None:
    """iPhones store portrait HLG video as landscape pixels plus a display rotation."""
    rotated = make_rotated_copy(hlg_clip, tmp_path / "portrait.mov", 90)
    assert probe(rotated).is_hdr
    result = transcode(rotated, tmp_path / "v.mp4", tmp_path / "p.jpg")
    info = probe(tmp_path / "v.mp4")
    assert (result.width, result.height, info.rotation) == (180, 320, 0)
    assert (info.color_transfer, info.pix_fmt) == ("bt709", "yuv420p")


SDR_INFO = MediaInfo(duration_s=10.0, width=1080, height=1920, rotation=0, fps=30.0, video_codec="h264",
                     audio_codec="aac", has_audio=True, container="mov,mp4,m4a,3gp,3g2,mj2", bit_rate=8_000_000,
                     size_bytes=10_000_000, coded_width=1080, coded_height=1920, video_end_s=10.0)
# The encoder arguments SDR sources got before HDR was handled; they must not change.
SDR_VIDEO_ARGS = [
    "-vf", "scale=720:1280:flags=bicubic,setsar=1,format=yuv420p",
    "-fpsmax", "60",
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
    "-profile:v", "high", "-pix_fmt", "yuv420p",
    "-g", "60",
    "-maxrate", "3960k", "-bufsize", "7920k",
]


@pytest.mark.parametrize("colour", [
    {},
    {"color_transfer": "bt709", "color_primaries": "bt709", "color_space": "bt709", "color_range": "tv"},
    {"color_transfer": "bt2020-10", "color_primaries": "bt2020", "color_space": "bt2020nc", "pix_fmt": "yuv420p10le"},
    {"color_transfer": "iec61966-2-1", "color_range": "pc", "pix_fmt": "yuvj420p"},
])
def test_sdr_sources_get_the_same_encoder_arguments_as_before(colour: dict[str, str]) -> None:
    info = dataclasses.replace(SDR_INFO, **colour)
    assert not info.is_hdr
    assert video_args(info, short_edge=720, crf=23, preset="veryfast") == SDR_VIDEO_ARGS


def test_hdr_sources_get_the_tone_mapping_chain_and_bt709_tags() -> None:
    info = dataclasses.replace(SDR_INFO, color_transfer="arib-std-b67", color_primaries=None, color_space=None,
                               pix_fmt="yuv420p10le")
    args = video_args(info, short_edge=720, crf=23, preset="veryfast")
    graph = args[args.index("-vf") + 1].split(",")
    assert graph[:2] == ["scale=720:1280:flags=bicubic", "setsar=1"] and graph[-1] == "format=yuv420p"
    # Untagged primaries and matrix with an HDR transfer are taken as BT.2020.
    assert graph[2].startswith("zscale=tin=arib-std-b67:pin=bt2020:min=bt2020nc:rin=tv:t=linear")
    assert any(step.startswith("tonemap=") for step in graph)
    for option, value in (("-color_primaries", "bt709"), ("-color_trc", "bt709"), ("-colorspace", "bt709"),
                          ("-color_range", "tv")):
        assert args[args.index(option) + 1] == value
