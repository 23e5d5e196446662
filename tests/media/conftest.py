"""Real clips drawn once per test session by the bundled ffmpeg, shared read-only by the media tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from openfyp.media.synth import generate_clip, generate_hdr_clip, make_rotated_copy

CLIP_SECONDS = 2.5
# HDR clips and their SDR twin: small and short, x265 is the slowest encoder the tests use.
HDR_CLIP = {"seconds": 1.0, "width": 320, "height": 180, "pattern": "smptebars", "hue": 0.0, "seed": 4}


@pytest.fixture(scope="session")
def clip_seconds() -> float:
    return CLIP_SECONDS


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def portrait_clip(clips_dir: Path) -> Path:
    """540x960, 24 fps, melody soundtrack."""
    return generate_clip(clips_dir / "portrait.mp4", seconds=CLIP_SECONDS, pattern="testsrc2", hue=40.0,
                         tone_hz=330.0, seed=1, label="portrait")


@pytest.fixture(scope="session")
def hd_clip(clips_dir: Path) -> Path:
    """A 1080x1920 source, like a phone upload."""
    return generate_clip(clips_dir / "hd.mp4", seconds=CLIP_SECONDS, width=1080, height=1920,
                         pattern="gradients", hue=200.0, tone_hz=262.0, seed=2, fps=30)


@pytest.fixture(scope="session")
def silent_landscape_clip(clips_dir: Path) -> Path:
    """640x360 without any audio stream."""
    return generate_clip(clips_dir / "silent.mp4", seconds=CLIP_SECONDS, width=640, height=360,
                         pattern="smptebars", hue=0.0, tone_hz=440.0, seed=3, with_audio=False)


@pytest.fixture(scope="session")
def rotated_clip(clips_dir: Path, silent_landscape_clip: Path) -> Path:
    """The landscape clip stored as a phone stores portrait video: 640x360 pixels turned 90° clockwise."""
    return make_rotated_copy(silent_landscape_clip, clips_dir / "rotated.mp4", 90)


@pytest.fixture(scope="session")
def pq_clip(clips_dir: Path) -> Path:
    """10-bit HEVC, BT.2020, PQ (HDR10 as Android phones record it): saturated colour bars."""
    return generate_hdr_clip(clips_dir / "pq.mp4", transfer="pq", codec="hevc", **HDR_CLIP)


@pytest.fixture(scope="session")
def hlg_clip(clips_dir: Path) -> Path:
    """10-bit H.264 High10, BT.2020, HLG (what iPhones record by default): the same bars."""
    return generate_hdr_clip(clips_dir / "hlg.mp4", transfer="hlg", codec="h264", **HDR_CLIP)


@pytest.fixture(scope="session")
def hdr_sdr_twin_clip(clips_dir: Path) -> Path:
    """The HDR clips' picture as plain SDR BT.709: what a correct tone mapping should come back to."""
    return generate_clip(clips_dir / "hdr-twin.mp4", tone_hz=440.0, with_audio=False, crf=18, **HDR_CLIP)
