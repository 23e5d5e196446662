from __future__ import annotations

from pathlib import Path

import pytest

from openfyp.media.errors import MediaError
from openfyp.media.ffmpeg import run_ffmpeg
from openfyp.media.isobmff import walk_boxes
from openfyp.media.probe import probe
from openfyp.media.synth import (
    generate_clip,
    make_audio_file,
    make_corrupt_file,
    make_still_image,
    make_truncated_copy,
)
from openfyp.media.validate import sniff_upload_head, validate_upload

LIMITS = {"max_bytes": 50 * 1024 * 1024, "max_seconds": 60.0}


def refusal(path: Path, **overrides: float) -> MediaError:
    with pytest.raises(MediaError) as caught:
        validate_upload(path, **{**LIMITS, **overrides})  # type: ignore[arg-type]
    error = caught.value
    assert error.field == "file" and error.message
    return error


def test_a_good_clip_passes_and_is_described(portrait_clip: Path) -> None:
    info = validate_upload(portrait_clip, **LIMITS)
    assert info == probe(portrait_clip)


def test_rotated_and_silent_clips_pass(rotated_clip: Path, silent_landscape_clip: Path) -> None:
    assert validate_upload(rotated_clip, **LIMITS).rotation == 90
    assert not validate_upload(silent_landscape_clip, **LIMITS).has_audio


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert refusal(empty).code == "empty_file"


def test_too_large(portrait_clip: Path) -> None:
    error = refusal(portrait_clip, max_bytes=portrait_clip.stat().st_size - 1)
    assert error.code == "too_large" and error.status == 413


def test_too_long_and_too_short(portrait_clip: Path) -> None:
    assert refusal(portrait_clip, max_seconds=1.0).code == "too_long"
    assert refusal(portrait_clip, min_seconds=10.0).code == "too_short"


def test_unknown_video_codec_is_unsupported(tmp_path: Path, portrait_clip: Path) -> None:
    # Rename the H.264 sample entry to a codec nobody knows, as an exotic camera format would look.
    data = bytearray(portrait_clip.read_bytes())
    entry = data.find(b"avc1", data.find(b"stsd"))
    data[entry : entry + 4] = b"zzzz"
    exotic = tmp_path / "exotic.mp4"
    exotic.write_bytes(bytes(data))
    error = refusal(exotic)
    assert error.code == "unsupported_codec" and error.status == 415


def test_resolution_beyond_8k_is_refused(tmp_path: Path) -> None:
    huge = generate_clip(tmp_path / "huge.mp4", seconds=1.0, width=7696, height=4336, fps=1, pattern="smptebars",
                         hue=0.0, tone_hz=200.0, seed=0, with_audio=False)
    assert refusal(huge).code == "resolution_too_high"


@pytest.mark.parametrize("name", ["still.png", "still.jpg"])
def test_images_are_not_videos(tmp_path: Path, name: str) -> None:
    assert refusal(make_still_image(tmp_path / name)).code == "not_a_video"


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("These are my holiday notes, not a video.\nLine two — with ünïcode.\n")
    assert refusal(text).code == "not_a_video"


def test_playlist_pointing_elsewhere_is_refused(tmp_path: Path) -> None:
    playlist = tmp_path / "sneaky.mp4"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    assert refusal(playlist).code == "not_a_video"


@pytest.mark.parametrize("name", ["song.mp3", "song.m4a", "song.wav"])
def test_audio_files_are_not_videos(tmp_path: Path, name: str) -> None:
    assert refusal(make_audio_file(tmp_path / name, seconds=1.0)).code == "not_a_video"


def test_mp4_with_only_audio_has_no_video_stream(tmp_path: Path) -> None:
    audio_mp4 = make_audio_file(tmp_path / "voice.mp4", seconds=1.0)  # ISO brand, so no early sniff verdict
    assert refusal(audio_mp4).code == "no_video_stream"


def test_garbage_bytes_are_corrupt(tmp_path: Path) -> None:
    assert refusal(make_corrupt_file(tmp_path / "garbage.mp4")).code == "corrupt"


def test_mp4_header_followed_by_garbage_is_corrupt(tmp_path: Path) -> None:
    assert refusal(make_corrupt_file(tmp_path / "broken.mp4", mp4_header=True)).code == "corrupt"


def test_mp4_cut_in_half_is_truncated(tmp_path: Path, portrait_clip: Path) -> None:
    assert refusal(make_truncated_copy(portrait_clip, tmp_path / "half.mp4")).code == "truncated"


def test_mp4_without_its_index_is_truncated(tmp_path: Path, portrait_clip: Path) -> None:
    # Recorders write the moov index last; an upload interrupted right before it has intact media data.
    index_last = tmp_path / "index_last.mp4"
    run_ffmpeg(["-y", "-i", portrait_clip, "-c", "copy", index_last], timeout_s=60)
    moov = next(box for box in walk_boxes(index_last).boxes if box.type == "moov")
    cut = tmp_path / "no_index.mp4"
    cut.write_bytes(index_last.read_bytes()[: moov.offset])
    error = refusal(cut)
    assert error.code == "truncated" and "index" in error.message


def test_matroska_that_ends_before_its_declared_duration_is_truncated(tmp_path: Path, portrait_clip: Path) -> None:
    # Matroska declares its duration up front and keeps readable clusters when cut, so this is only caught
    # by seeking near the declared end and finding no data there.
    whole = tmp_path / "whole.mkv"
    run_ffmpeg(["-y", "-i", portrait_clip, "-c", "copy", whole], timeout_s=60)
    assert validate_upload(whole, **LIMITS).duration_s == pytest.approx(2.5, abs=0.1)
    error = refusal(make_truncated_copy(whole, tmp_path / "cut.mkv", fraction=0.45))
    assert error.code == "truncated" and "declares" in error.message


def test_webm_upload_passes(tmp_path: Path, portrait_clip: Path) -> None:
    webm = tmp_path / "clip.webm"
    run_ffmpeg(["-y", "-i", portrait_clip, "-t", "1", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                "-s", "180x320", "-c:a", "libopus", webm], timeout_s=120)
    info = validate_upload(webm, **LIMITS)
    assert info.video_codec == "vp9" and info.audio_codec == "opus"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 24, "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "MP3"),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00\x00\x00", "MPEG audio"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
        (b"<!doctype html><html><body>hello</body></html>", "text"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom", "M4A"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    ],
)
def test_sniff_refuses_obvious_non_videos(head: bytes, kind: str) -> None:
    with pytest.raises(MediaError) as caught:
        sniff_upload_head(head)
    assert caught.value.code == "not_a_video"
    assert kind in caught.value.message


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41",  # MP4
        b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",  # QuickTime MOV
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01",  # Matroska / WebM
        b"RIFF\x00\x10\x00\x00AVI LIST",  # AVI
        b"\x47\x40\x00\x10\x00\x00\xb0\x0d\x00\x01\xc1\x00\x00",  # MPEG-TS
    ],
)
def test_sniff_lets_video_heads_through(head: bytes) -> None:
    sniff_upload_head(head)


def test_sniff_accepts_the_head_of_a_real_clip(portrait_clip: Path) -> None:
    sniff_upload_head(portrait_clip.read_bytes()[:65536])
