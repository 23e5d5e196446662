from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from openfyp.media.probe import probe
from openfyp.media.synth import PATTERNS, generate_clip, hue_degrees, labels_supported, melody

SMALL = {"width": 144, "height": 256, "seconds": 1.0}


def frame_at(path: Path, index: int = 12) -> np.ndarray:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="rgb24").astype(np.float64)
    raise AssertionError(f"{path} has fewer than {index + 1} frames")


def dominant_frequency(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [frame.to_ndarray()[0] for frame in container.decode(stream)]
    signal = np.concatenate(chunks)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


def test_the_build_offers_many_patterns() -> None:
    assert {"testsrc2", "life", "gradients"} <= set(PATTERNS)
    assert len(PATTERNS) >= 8


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_renders_a_playable_clip(tmp_path: Path, pattern: str) -> None:
    clip = generate_clip(tmp_path / f"{pattern}.mp4", pattern=pattern, hue=120.0, tone_hz=300.0, seed=11, **SMALL)
    info = probe(clip)
    assert (info.width, info.height) == (144, 256)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    frames = [frame_at(clip, 0), frame_at(clip, 20)]
    assert frames[0].std() > 1.0, "the picture should not be a flat colour"


def test_patterns_and_hues_look_different(tmp_path: Path) -> None:
    def render(name: str, pattern: str, hue: float) -> np.ndarray:
        return frame_at(generate_clip(tmp_path / name, pattern=pattern, hue=hue, tone_hz=220.0, seed=3,
                                      with_audio=False, **SMALL))

    red, cyan = render("a.mp4", "gradients", 0.0), render("b.mp4", "gradients", 180.0)
    life = render("c.mp4", "life", 0.0)
    assert np.abs(red - cyan).mean() > 20
    assert np.abs(red - life).mean() > 20


@pytest.mark.parametrize(("hue", "degrees"), [(0.0, 0.0), (90.0, 90.0), (360.0, 0.0), (400.0, 40.0),
                                              (-30.0, 330.0)])
def test_hue_wraps_around_the_colour_wheel(hue: float, degrees: float) -> None:
    assert hue_degrees(hue) == pytest.approx(degrees)


def test_a_full_turn_looks_the_same(tmp_path: Path) -> None:
    def render(name: str, hue: float) -> np.ndarray:
        return frame_at(generate_clip(tmp_path / name, pattern="plasma", hue=hue, tone_hz=220.0, seed=8,
                                      with_audio=False, **SMALL))

    assert np.abs(render("a.mp4", 20.0) - render("b.mp4", 380.0)).mean() < 1


@pytest.mark.parametrize("pattern", ["life", "gradients"])
def test_seed_decides_the_picture(tmp_path: Path, pattern: str) -> None:
    def render(name: str, seed: int) -> np.ndarray:
        return frame_at(generate_clip(tmp_path / name, pattern=pattern, hue=60, tone_hz=220, seed=seed, **SMALL))

    first, again, other = render("1.mp4", 1), render("1b.mp4", 1), render("2.mp4", 2)
    assert np.abs(first - again).mean() < 1
    assert np.abs(first - other).mean() > 5


def test_soundtrack_follows_tone(tmp_path: Path) -> None:
    low = generate_clip(tmp_path / "low.mp4", pattern="testsrc2", hue=0, tone_hz=220.0, seed=4, **SMALL)
    high = generate_clip(tmp_path / "high.mp4", pattern="testsrc2", hue=0, tone_hz=880.0, seed=4, **SMALL)
    low_peak, high_peak = dominant_frequency(low), dominant_frequency(high)
    # The tune moves over a pentatonic scale around the tone with a drone an octave below.
    assert 220.0 / 2 * 0.95 <= low_peak <= 220.0 * 2 * 1.05
    assert 880.0 / 2 * 0.95 <= high_peak <= 880.0 * 2 * 1.05
    assert high_peak > low_peak * 2


def test_melody_is_loud_enough_and_never_clips() -> None:
    samples = melody(2.0, 330.0, seed=9)
    assert samples.shape == (88_200,)
    assert np.sqrt(np.mean(samples**2)) > 0.05
    assert np.abs(samples).max() <= 1.0


def test_without_audio_there_is_no_audio_stream(tmp_path: Path) -> None:
    clip = generate_clip(tmp_path / "mute.mp4", pattern="cellauto", hue=10, tone_hz=220, seed=5,
                         with_audio=False, **SMALL)
    assert not probe(clip).has_audio


@pytest.mark.skipif(not labels_supported(), reason="this ffmpeg build has no drawtext or no font was found")
def test_label_is_drawn_in_the_middle(tmp_path: Path) -> None:
    plain = frame_at(generate_clip(tmp_path / "plain.mp4", pattern="gradients", hue=30, tone_hz=220, seed=6,
                                   with_audio=False, **SMALL))
    labelled = frame_at(generate_clip(tmp_path / "label.mp4", pattern="gradients", hue=30, tone_hz=220, seed=6,
                                      with_audio=False, label="Hello: it's 100% 'quoted'", **SMALL))
    middle = (slice(100, 156), slice(10, 134))
    corner = (slice(0, 20), slice(0, 20))
    assert np.abs(plain[middle] - labelled[middle]).mean() > 10
    assert np.abs(plain[corner] - labelled[corner]).mean() < 5


def test_unknown_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown pattern"):
        generate_clip(tmp_path / "x.mp4", pattern="nope", hue=0, tone_hz=220, seed=0, **SMALL)
