from __future__ import annotations

from pathlib import Path

import pytest

from openfyp.media.errors import MediaError
from openfyp.media.probe import probe
from openfyp.media.synth import make_audio_file, make_corrupt_file, make_rotated_copy, make_still_image


def test_probe_reads_a_portrait_clip_with_sound(portrait_clip: Path, clip_seconds: float) -> None:
    info = probe(portrait_clip)
    assert (info.width, info.height) == (540, 960)
    assert info.rotation == 0
    assert info.is_portrait and info.short_edge == 540
    assert info.fps == pytest.approx(24.0)
    assert info.duration_s == pytest.approx(clip_seconds, abs=0.1)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac" and info.has_audio
    assert "mp4" in info.container
    assert info.size_bytes == portrait_clip.stat().st_size
    assert info.bit_rate is not None and info.bit_rate > 0


def test_probe_reports_missing_audio(silent_landscape_clip: Path) -> None:
    info = probe(silent_landscape_clip)
    assert (info.width, info.height) == (640, 360)
    assert not info.has_audio and info.audio_codec is None


def test_probe_gives_display_size_after_rotation(rotated_clip: Path) -> None:
    info = probe(rotated_clip)
    assert info.rotation == 90
    assert (info.coded_width, info.coded_height) == (640, 360)
    assert (info.width, info.height) == (360, 640)


@pytest.mark.parametrize("rotation", [180, 270])
def test_probe_reads_other_rotations(tmp_path: Path, silent_landscape_clip: Path, rotation: int) -> None:
    info = probe(make_rotated_copy(silent_landscape_clip, tmp_path / "r.mp4", rotation))
    assert info.rotation == rotation
    expected = (640, 360) if rotation == 180 else (360, 640)
    assert (info.width, info.height) == expected


def test_probe_refuses_non_videos(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as image:
        probe(make_still_image(tmp_path / "still.png"))
    assert image.value.code == "not_a_video"

    with pytest.raises(MediaError) as audio:
        probe(make_audio_file(tmp_path / "tone.mp3", seconds=1.0))
    assert audio.value.code == "no_video_stream"

    with pytest.raises(MediaError) as garbage:
        probe(make_corrupt_file(tmp_path / "garbage.bin"))
    assert garbage.value.code == "corrupt"
