from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from openfyp.media.errors import MediaError
from openfyp.media.ffmpeg import run_ffmpeg
from openfyp.media.isobmff import is_faststart, walk_boxes
from openfyp.media.probe import probe
from openfyp.media.synth import generate_clip, make_corrupt_file
from openfyp.media.transcode import extract_audio, poster_time_s, target_size, transcode


def stream_facts(path: Path) -> dict[str, object]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "video_codec": video.codec_context.codec.canonical_name,
            "profile": video.profile,
            "pix_fmt": video.codec_context.pix_fmt,
            "audio_codec": audio.codec_context.codec.canonical_name if audio else None,
            "audio_channels": audio.codec_context.channels if audio else 0,
        }


def assert_moov_before_mdat(path: Path) -> None:
    assert is_faststart(path)
    types = [box.type for box in walk_boxes(path).boxes]
    assert types.index("moov") < types.index("mdat")
    raw = path.read_bytes()
    assert raw.find(b"moov") < raw.find(b"mdat")


def test_hd_source_becomes_720_wide_h264_high_aac_with_poster(tmp_path: Path, hd_clip: Path) -> None:
    out, poster = tmp_path / "out" / "video.mp4", tmp_path / "out" / "poster.jpg"
    result = transcode(hd_clip, out, poster)

    assert (result.width, result.height) == (720, 1280)
    assert result.has_audio and not result.added_silent_audio
    assert result.size_bytes == out.stat().st_size
    assert result.duration_s == pytest.approx(probe(hd_clip).duration_s, abs=0.1)
    assert stream_facts(out) == {"video_codec": "h264", "profile": "High", "pix_fmt": "yuv420p",
                                 "audio_codec": "aac", "audio_channels": 2}
    info = probe(out)
    assert (info.width, info.height, info.rotation) == (720, 1280, 0)
    assert_moov_before_mdat(out)

    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    with Image.open(poster) as picture:
        assert picture.format == "JPEG" and picture.size == (720, 1280)
    assert result.poster_size_bytes == poster.stat().st_size
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]  # no staged leftovers


def test_small_sources_are_never_upscaled(tmp_path: Path, portrait_clip: Path) -> None:
    result = transcode(portrait_clip, tmp_path / "v.mp4", tmp_path / "p.jpg")
    assert (result.width, result.height) == (540, 960)


def test_odd_sizes_come_out_even_and_in_proportion(tmp_path: Path) -> None:
    odd = generate_clip(tmp_path / "odd.mp4", seconds=1.0, width=402, height=718, pattern="gradients",
                        hue=90.0, tone_hz=200.0, seed=5, with_audio=False)
    result = transcode(odd, tmp_path / "v.mp4", tmp_path / "p.jpg", short_edge=301)
    assert result.width % 2 == 0 and result.height % 2 == 0
    assert result.width == 300
    assert result.height / result.width == pytest.approx(718 / 402, rel=0.01)


def test_matroska_source_is_read_with_its_own_demuxer(tmp_path: Path, portrait_clip: Path) -> None:
    mkv = tmp_path / "clip.mkv"
    run_ffmpeg(["-y", "-i", portrait_clip, "-c", "copy", mkv], timeout_s=60)
    assert probe(mkv).demuxer == "matroska"
    result = transcode(mkv, tmp_path / "v.mp4", tmp_path / "p.jpg", short_edge=360)
    assert (result.width, result.height) == (360, 640) and result.has_audio
    assert stream_facts(tmp_path / "v.mp4")["video_codec"] == "h264"


def test_silent_source_gains_an_aac_track(tmp_path: Path, silent_landscape_clip: Path) -> None:
    out = tmp_path / "v.mp4"
    result = transcode(silent_landscape_clip, out, tmp_path / "p.jpg")
    assert result.has_audio and result.added_silent_audio
    facts = stream_facts(out)
    assert facts["audio_codec"] == "aac"
    with av.open(str(out)) as container:
        audio = container.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(result.duration_s, abs=0.15)
        samples = [frame.to_ndarray() for frame in container.decode(audio)]
    assert samples and max(abs(chunk).max() for chunk in samples) < 1e-3  # silence, not noise


def test_rotation_is_applied_so_output_is_upright(tmp_path: Path, rotated_clip: Path) -> None:
    out, poster = tmp_path / "v.mp4", tmp_path / "p.jpg"
    result = transcode(rotated_clip, out, poster)
    assert (result.width, result.height) == (360, 640)
    info = probe(out)
    assert info.rotation == 0 and (info.coded_width, info.coded_height) == (360, 640)
    with Image.open(poster) as picture:
        assert picture.size == (360, 640)


def test_broken_input_raises_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        transcode(make_corrupt_file(tmp_path / "bad.mp4"), tmp_path / "v.mp4", tmp_path / "p.jpg")
    assert caught.value.code == "corrupt"
    assert not (tmp_path / "v.mp4").exists()


def test_ffmpeg_failure_is_transcode_failed_with_its_stderr(tmp_path: Path, portrait_clip: Path) -> None:
    with pytest.raises(MediaError) as caught:
        transcode(portrait_clip, tmp_path / "v.mp4", tmp_path / "p.jpg", preset="no-such-preset")
    assert caught.value.code == "transcode_failed"
    assert "preset" in caught.value.message.lower()
    assert not list(tmp_path.iterdir())


def test_extract_audio(tmp_path: Path, portrait_clip: Path, silent_landscape_clip: Path) -> None:
    sound = tmp_path / "sound.m4a"
    seconds = extract_audio(portrait_clip, sound)
    assert seconds == pytest.approx(probe(portrait_clip).duration_s, abs=0.1)
    with av.open(str(sound)) as container:
        assert not container.streams.video
        assert container.streams.audio[0].codec_context.codec.canonical_name == "aac"
    with pytest.raises(MediaError) as caught:
        extract_audio(silent_landscape_clip, tmp_path / "none.m4a")
    assert caught.value.code == "no_audio_stream"


@pytest.mark.parametrize(
    ("size", "short_edge", "expected"),
    [
        ((1080, 1920), 720, (720, 1280)),
        ((1920, 1080), 720, (1280, 720)),
        ((540, 960), 720, (540, 960)),
        ((721, 1281), 720, (720, 1278)),
        ((333, 333), 720, (332, 332)),
        ((4000, 3000), 480, (640, 480)),
    ],
)
def test_target_size(size: tuple[int, int], short_edge: int, expected: tuple[int, int]) -> None:
    assert target_size(*size, short_edge) == expected


def test_poster_time() -> None:
    assert poster_time_s(10.0) == 1.0
    assert poster_time_s(0.8) == 0.0
