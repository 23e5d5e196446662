"""Finding and running the ffmpeg binary that ships inside the ``imageio-ffmpeg`` wheel.

No system ffmpeg is assumed: the wheel's static build (libx264, AAC, lavfi sources, drawtext) is the
one binary every machine of the project has. ``OPENFYP_FFMPEG`` may point at another build.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from openfyp.media.errors import MediaError

STDERR_TAIL_LINES = 12


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    override = os.environ.get("OPENFYP_FFMPEG")
    if override:
        if not Path(override).is_file():
            raise MediaError("ffmpeg_missing", f"OPENFYP_FFMPEG points at {override!r}, which is not a file", None)
        return override
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise MediaError("ffmpeg_missing", "the imageio-ffmpeg package is not installed", None) from exc
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise MediaError("ffmpeg_missing", f"imageio-ffmpeg has no ffmpeg binary: {exc}", None) from exc


def stderr_tail(stderr: bytes | str, lines: int = STDERR_TAIL_LINES) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_ffmpeg(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout_s: float,
    error_code: str = "transcode_failed",
    what: str = "ffmpeg",
    cwd: Path | None = None,
    stdin: bytes | None = None,
) -> None:
    """Run ffmpeg quietly; on failure raise ``MediaError(error_code)`` carrying ffmpeg's last stderr lines."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *(os.fspath(arg) for arg in args)]
    if stdin is not None:
        command.remove("-nostdin")
    try:
        completed = subprocess.run(
            command,
            input=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout_s,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        tail = stderr_tail(exc.stderr or b"")
        raise MediaError(error_code, f"{what} gave up after {timeout_s:.0f} s" + (f":\n{tail}" if tail else ""),
                         None) from exc
    if completed.returncode != 0:
        tail = stderr_tail(completed.stderr) or f"exit status {completed.returncode}"
        raise MediaError(error_code, f"{what} failed:\n{tail}", None)


@lru_cache(maxsize=1)
def available_filters() -> frozenset[str]:
    """Names of the filters this ffmpeg build has (builds differ, e.g. in drawtext)."""
    completed = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-filters"],
        capture_output=True, timeout=30, check=False,
    )
    names = set()
    for line in completed.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split()
        # Rows look like " TS hue    V->V   Adjust the hue..."; the header rows have no "->".
        if len(parts) >= 3 and "->" in parts[2]:
            names.add(parts[1])
    return frozenset(names)


def has_filter(name: str) -> bool:
    return name in available_filters()
