"""Synthetic clips for the demo and the tests: ffmpeg's generated pictures, a numpy melody, a label.

Every clip is drawn by one ffmpeg run from lavfi sources (test cards, fractals, cellular automata,
gradients, plasma), tinted by ``hue``, with a short melody built around ``tone_hz`` and, when the
build has ``drawtext`` and a font is found, a big label. Slow generators render at a fraction of
the size and are scaled up, which their smooth or blocky looks hide. Encoding uses x264
``ultrafast``: these clips are sources that the upload pipeline transcodes again.

Also here: helpers that make deliberately broken or odd inputs for tests (truncated, corrupt,
rotated, audio-only, still image) and HDR clips as phones record them (10-bit PQ or HLG, BT.2020).
"""

from __future__ import annotations

import colorsys
import importlib.util
import os
import random
import shutil
import subprocess
import tempfile
import textwrap
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from openfyp.media.errors import MediaError
from openfyp.media.ffmpeg import has_filter, run_ffmpeg

AUDIO_RATE = 44_100
LABEL_FONT_NAME = "DejaVuSans-Bold.ttf"
SYSTEM_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
# Mandelbrot points whose neighbourhoods stay busy while zooming in.
MANDELBROT_TARGETS = (
    (-0.743643887037151, 0.131825904205330),
    (-0.745428, 0.113009),
    (-1.250660, 0.020120),
    (-0.101096, 0.956287),
    (0.001643721971153, -0.822467633298876),
)
CELLAUTO_RULES = (30, 45, 54, 60, 73, 90, 105, 110, 150, 182)
GRADIENT_TYPES = ("linear", "radial", "circular", "spiral", "square")
# ffmpeg's transfer names of the two HDR flavours phones record.
HDR_TRANSFER_NAMES = {"pq": "smpte2084", "hlg": "arib-std-b67"}
# Where SDR white goes in an HDR signal (BT.2408 reference white, cd/m²): PQ code 58 %, HLG code 75 %.
HDR_REFERENCE_WHITE_NITS = 203
# 10-bit encoders for HDR test clips: HEVC Main10 is what phones write, H.264 High10 what some cameras do.
HDR_ENCODERS = {"hevc": ["-c:v", "libx265", "-x265-params", "log-level=error"],
                "h264": ["-c:v", "libx264", "-profile:v", "high10"]}


@dataclass(frozen=True, slots=True)
class PatternContext:
    width: int
    height: int
    fps: int
    seed: int
    rng: random.Random
    hue: float  # degrees
    tint: tuple[float, float, float]  # RGB in 0..1 for sources that come out grey

    def size(self, divisor: int = 1) -> str:
        return f"{_even(self.width // divisor)}x{_even(self.height // divisor)}"

    def upscale(self, flags: str = "bicubic") -> str:
        # setsar=1: a small render rarely has the exact aspect, and the clip must not claim odd pixels.
        return f"scale={self.width}:{self.height}:flags={flags},setsar=1"


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "0x" + "".join(f"{max(0, min(255, round(c * 255))):02x}" for c in rgb)


def _grey_to_tint(ctx: PatternContext, contrast: float = 1.0) -> str:
    """Fix the chroma planes to the tint's: grey levels become shades of one colour, at the cost of a LUT."""
    red, green, blue = ctx.tint
    u = 128 + 255 * (-0.1687 * red - 0.3313 * green + 0.5 * blue)
    v = 128 + 255 * (0.5 * red - 0.4187 * green - 0.0813 * blue)
    luma = f":y='clip((val-128)*{contrast:.2f}+128,16,235)'" if contrast != 1.0 else ""
    return f"format=yuv420p,lutyuv=u={round(u)}:v={round(v)}{luma}"


def _testsrc2(ctx: PatternContext) -> str:
    return f"testsrc2=s={ctx.size()}:r={ctx.fps}"


def _mandelbrot(ctx: PatternContext) -> str:
    x, y = ctx.rng.choice(MANDELBROT_TARGETS)
    end_pts = ctx.rng.randint(200, 500)
    return (f"mandelbrot=s={ctx.size(3)}:r={ctx.fps}:maxiter=96:start_x={x}:start_y={y}"
            f":start_scale=3:end_scale=0.05:end_pts={end_pts},{ctx.upscale()}")


def _life(ctx: PatternContext) -> str:
    life = _hex(ctx.tint)
    mold = _hex(tuple(c * 0.35 for c in ctx.tint))  # type: ignore[arg-type]
    ratio = ctx.rng.uniform(0.08, 0.3)
    return (f"life=s={ctx.size(6)}:r={ctx.fps}:seed={ctx.seed % 2**31}:ratio={ratio:.3f}:mold=12"
            f":life_color={life}:death_color=0x101018:mold_color={mold},{ctx.upscale('neighbor')}")


def _cellauto(ctx: PatternContext) -> str:
    rule = ctx.rng.choice(CELLAUTO_RULES)
    return (f"cellauto=s={ctx.size(4)}:r={ctx.fps}:rule={rule}:seed={ctx.seed % 2**31}:ratio=0.5:scroll=1"
            f":start_full=1,{_grey_to_tint(ctx)},{ctx.upscale('neighbor')}")


def _gradients(ctx: PatternContext) -> str:
    # The filter draws random colours whatever its seed, so pick them here: neighbours of the tint's hue.
    kind = ctx.rng.choice(GRADIENT_TYPES)
    speed = ctx.rng.uniform(0.01, 0.04)
    colours = [
        _hex(tint_rgb(ctx.hue + ctx.rng.uniform(-70.0, 70.0), ctx.rng.uniform(0.45, 1.0), ctx.rng.uniform(0.55, 1.0)))
        for _ in range(ctx.rng.randint(2, 5))
    ]
    colour_options = "".join(f":c{i}={colour}" for i, colour in enumerate(colours))
    return (f"gradients=s={ctx.size(4)}:r={ctx.fps}:seed={ctx.seed % 2**31}:n={len(colours)}{colour_options}"
            f":speed={speed:.4f}:type={kind},{ctx.upscale()}")


def _smptebars(ctx: PatternContext) -> str:
    speed = ctx.rng.uniform(0.002, 0.01) * ctx.rng.choice((-1, 1))
    return f"smptehdbars=s={ctx.size()}:r={ctx.fps},scroll=h={speed:.4f}"


def _rgbtestsrc(ctx: PatternContext) -> str:
    speed = ctx.rng.uniform(0.003, 0.012) * ctx.rng.choice((-1, 1))
    return f"rgbtestsrc=s={ctx.size()}:r={ctx.fps},scroll=v={speed:.4f}"


def _colorspectrum(ctx: PatternContext) -> str:
    kind = ctx.rng.choice(("black", "white", "all"))
    speed = ctx.rng.uniform(0.003, 0.01)
    return (f"colorspectrum=s={ctx.size(2)}:r={ctx.fps}:type={kind},scroll=h={speed:.4f}:v={speed / 2:.4f},"
            f"{ctx.upscale()}")


def _plasma(ctx: PatternContext) -> str:
    # geq evaluates three expressions per pixel, so the plasma is drawn tiny; it is smooth enough to upscale.
    a, b, c = (ctx.rng.uniform(2.5, 7.0) for _ in range(3))
    p, q, r = (ctx.rng.uniform(0.5, 2.0) for _ in range(3))
    return (f"nullsrc=s={ctx.size(8)}:r={ctx.fps},"
            f"geq=r='128+127*sin(X/{a:.2f}+T*{p:.2f})'"
            f":g='128+127*sin(Y/{b:.2f}-T*{q:.2f})'"
            f":b='128+127*sin((X+Y)/{c:.2f}+T*{r:.2f})',{ctx.upscale()}")


def _zoneplate(ctx: PatternContext) -> str:
    kx, ky = ctx.rng.randint(64, 400), ctx.rng.randint(64, 400)
    kt = ctx.rng.randint(4, 16)
    return (f"zoneplate=s={ctx.size()}:r={ctx.fps}:kx2={kx}:ky2={ky}:kt={kt}:ku=256:kv=128,"
            f"{_grey_to_tint(ctx)}")


def _sierpinski(ctx: PatternContext) -> str:
    kind = ctx.rng.choice(("carpet", "triangle"))
    return (f"sierpinski=s={ctx.size(2)}:r={ctx.fps}:seed={ctx.seed % 2**31}:type={kind}:jump=1,"
            f"{_grey_to_tint(ctx)},{ctx.upscale('neighbor')}")


def _perlin(ctx: PatternContext) -> str:
    scale = ctx.rng.uniform(1.5, 2.5)
    return (f"perlin=s={ctx.size(6)}:r={ctx.fps}:octaves=2:persistence=0.6:tscale=0.6"
            f":xscale={scale:.2f}:yscale={scale:.2f}:random_mode=seed:random_seed={ctx.seed % 2**31},"
            f"{_grey_to_tint(ctx, contrast=2.2)},{ctx.upscale()}")


# name -> (required lavfi source filter, builder)
_BUILDERS: dict[str, tuple[str, Callable[[PatternContext], str]]] = {
    "testsrc2": ("testsrc2", _testsrc2),
    "mandelbrot": ("mandelbrot", _mandelbrot),
    "life": ("life", _life),
    "cellauto": ("cellauto", _cellauto),
    "gradients": ("gradients", _gradients),
    "smptebars": ("smptehdbars", _smptebars),
    "rgbtestsrc": ("rgbtestsrc", _rgbtestsrc),
    "colorspectrum": ("colorspectrum", _colorspectrum),
    "plasma": ("geq", _plasma),
    "zoneplate": ("zoneplate", _zoneplate),
    "sierpinski": ("sierpinski", _sierpinski),
    "perlin": ("perlin", _perlin),
}

# Grey generators get the tint's chroma, life and gradients draw in tint-derived colours; the rest turn on the
# hue wheel.
TINTED_AT_SOURCE = frozenset({"life", "cellauto", "zoneplate", "sierpinski", "perlin", "gradients"})


def _available_patterns() -> list[str]:
    try:
        return [name for name, (needed, _) in _BUILDERS.items() if has_filter(needed)]
    except (MediaError, OSError, subprocess.SubprocessError):  # no ffmpeg yet: generate_clip will say why
        return list(_BUILDERS)


PATTERNS: list[str] = _available_patterns()


def hue_degrees(hue: float) -> float:
    """``hue`` in degrees, wrapped onto 0–360."""
    return hue % 360.0


def tint_rgb(hue_deg: float, saturation: float = 0.75, value: float = 1.0) -> tuple[float, float, float]:
    return colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, saturation, value)


def melody(seconds: float, tone_hz: float, seed: int, rate: int = AUDIO_RATE) -> np.ndarray:
    """A plucked pentatonic tune around ``tone_hz`` over a soft drone, as float samples in -1..1."""
    rng = random.Random(seed)
    scale = (1.0, 9 / 8, 5 / 4, 3 / 2, 5 / 3, 2.0)
    phrase = [rng.choice(scale) for _ in range(rng.choice((4, 6, 8)))]
    note_s = 60.0 / rng.uniform(90, 160) / 2
    total = max(1, int(round(seconds * rate)))
    t = np.arange(total, dtype=np.float64) / rate
    note_index = (t // note_s).astype(np.int64)
    ratios = np.asarray(phrase)[note_index % len(phrase)]
    since_onset = t - note_index * note_s
    frequency = tone_hz * ratios
    # Each note restarts its phase at its onset, so frequency changes do not click.
    phase = 2 * np.pi * frequency * since_onset
    envelope = np.exp(-since_onset * 5.0) * np.minimum(1.0, since_onset * 200.0)
    lead = (np.sin(phase) + 0.3 * np.sin(2 * phase)) * envelope
    drone = 0.25 * np.sin(2 * np.pi * (tone_hz / 2) * t)
    signal = 0.45 * lead + drone
    fade = min(total, int(0.05 * rate))
    if fade:
        signal[:fade] *= np.linspace(0, 1, fade)
        signal[-fade:] *= np.linspace(1, 0, fade)
    return np.clip(signal / max(1.0, np.abs(signal).max() / 0.9), -1.0, 1.0)


def write_wav(path: Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> None:
    pcm = (samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def label_font() -> Path | None:
    """A bold TTF for labels: matplotlib's bundled DejaVu (a PyPI wheel, so always present), else a system font."""
    spec = importlib.util.find_spec("matplotlib")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "mpl-data" / "fonts" / "ttf" / LABEL_FONT_NAME
        if candidate.is_file():
            return candidate
    return next((Path(p) for p in SYSTEM_FONT_CANDIDATES if Path(p).is_file()), None)


def labels_supported() -> bool:
    return has_filter("drawtext") and label_font() is not None


def _label_filter(label: str, workdir: Path, width: int) -> str | None:
    font = label_font()
    if not label.strip() or font is None or not has_filter("drawtext"):
        return None
    # Files referenced by plain relative names keep ffmpeg's two levels of filter escaping out of play.
    try:
        os.symlink(font, workdir / "font.ttf")
    except OSError:
        shutil.copyfile(font, workdir / "font.ttf")
    lines = textwrap.wrap(label, width=14, break_long_words=True)[:4]
    (workdir / "label.txt").write_text("\n".join(lines), encoding="utf-8")
    fontsize = max(16, width // 9)
    return (f"drawtext=fontfile=font.ttf:textfile=label.txt:expansion=none:fontsize={fontsize}"
            f":fontcolor=white:line_spacing={fontsize // 4}:box=1:boxcolor=black@0.5:boxborderw={fontsize // 3}"
            f":x=(w-text_w)/2:y=(h-text_h)/2")


def video_graph(pattern: str, *, width: int, height: int, fps: int, hue: float, seed: int,
                label_filter: str | None = None) -> str:
    if pattern not in _BUILDERS:
        raise ValueError(f"unknown pattern {pattern!r}; choose one of {', '.join(PATTERNS)}")
    needed, build = _BUILDERS[pattern]
    if not has_filter(needed):
        raise ValueError(f"this ffmpeg build lacks the {needed!r} filter needed by pattern {pattern!r}")
    degrees = hue_degrees(hue)
    ctx = PatternContext(width, height, fps, seed, random.Random(f"{pattern}:{seed}"), degrees, tint_rgb(degrees))
    steps = [build(ctx)]
    if pattern not in TINTED_AT_SOURCE:
        steps.append(f"hue=h={degrees:.1f}")  # coloured sources turn around the wheel
    if label_filter:
        steps.append(label_filter)
    steps.append("format=yuv420p")
    return ",".join(steps)


def generate_clip(
    dst: str | Path,
    *,
    seconds: float,
    width: int = 540,
    height: int = 960,
    pattern: str,
    hue: float,
    tone_hz: float,
    seed: int,
    fps: int = 24,
    with_audio: bool = True,
    label: str | None = None,
    preset: str = "ultrafast",
    crf: int = 26,
    max_kbps: int | None = None,
) -> Path:
    """Render a synthetic H.264/AAC MP4 clip.

    ``hue`` tints it (degrees, or turns when below 1: see :func:`hue_degrees`), ``tone_hz`` roots the
    melody, ``seed`` decides everything random, so equal arguments give equal pictures.
    """
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    if width < 16 or height < 16:
        raise ValueError("width and height must be at least 16 pixels")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="openfyp-synth-") as scratch:
        workdir = Path(scratch)
        label_step = _label_filter(label, workdir, width) if label else None
        graph = video_graph(pattern, width=width, height=height, fps=fps, hue=hue, seed=seed,
                            label_filter=label_step)
        inputs = ["-f", "lavfi", "-i", graph]
        maps = ["-map", "0:v:0"]
        audio_args: list[str] = ["-an"]
        if with_audio:
            write_wav(workdir / "melody.wav", melody(seconds, tone_hz, seed))
            inputs += ["-i", "melody.wav"]
            maps += ["-map", "1:a:0"]
            audio_args = ["-c:a", "aac", "-b:a", "96k", "-ac", "2"]
        staged = workdir / "clip.mp4"
        # Noisy generators (life, zone plates) would otherwise take 5+ Mbit/s; 300 demo clips must stay small.
        cap = max_kbps or max(300, round(width * height * fps / 8000))
        run_ffmpeg(
            ["-y", *inputs, *maps, "-t", f"{seconds:.3f}",
             "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
             "-g", str(max(1, fps * 2)), "-maxrate", f"{cap}k", "-bufsize", f"{cap * 2}k",
             *audio_args, "-movflags", "+faststart", "-f", "mp4", staged.name],
            timeout_s=120.0 + 10.0 * seconds, what=f"generating a {pattern} clip", cwd=workdir,
        )
        shutil.move(staged, dst)
    return dst


def generate_hdr_clip(
    dst: str | Path,
    *,
    seconds: float,
    transfer: Literal["pq", "hlg"],
    width: int = 320,
    height: int = 180,
    pattern: str = "smptebars",
    hue: float = 0.0,
    seed: int = 0,
    fps: int = 24,
    codec: Literal["hevc", "h264"] = "hevc",
) -> Path:
    """A silent 10-bit BT.2020 HDR clip (``transfer`` "pq" or "hlg"), tagged the way phones tag theirs.

    The picture is :func:`video_graph`'s SDR one for the same arguments, properly converted with SDR
    white at HDR reference white, so ``generate_clip`` with equal ``pattern``/``hue``/``seed``/size/fps
    draws its SDR counterpart: what a correct HDR → SDR conversion should come back to.
    """
    if transfer not in HDR_TRANSFER_NAMES:
        raise ValueError(f"transfer must be one of {', '.join(HDR_TRANSFER_NAMES)}, not {transfer!r}")
    if codec not in HDR_ENCODERS:
        raise ValueError(f"codec must be one of {', '.join(HDR_ENCODERS)}, not {codec!r}")
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    if not has_filter("zscale"):
        raise ValueError("this ffmpeg build lacks the 'zscale' filter needed to draw HDR clips")
    trc = HDR_TRANSFER_NAMES[transfer]
    sdr = video_graph(pattern, width=width, height=height, fps=fps, hue=hue, seed=seed)
    # generate_clip's x264 leaves its SDR pictures untagged, which players read as BT.709, so say so here.
    to_hdr = (f"zscale=tin=bt709:pin=bt709:min=bt709:rin=tv:t={trc}:p=bt2020:m=bt2020nc:r=tv"
              f":npl={HDR_REFERENCE_WHITE_NITS},format=yuv420p10le")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", f"{sdr},{to_hdr}", "-t", f"{seconds:.3f}", "-an",
         *HDR_ENCODERS[codec], "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p10le",
         "-color_primaries", "bt2020", "-color_trc", trc, "-colorspace", "bt2020nc", "-color_range", "tv",
         "-g", str(max(1, fps * 2)), "-movflags", "+faststart", "-f", "mp4", dst],
        timeout_s=120.0 + 10.0 * seconds, what=f"generating an {transfer.upper()} HDR clip",
    )
    return dst


# ---- odd and broken inputs for tests -------------------------------------------------------------


def make_truncated_copy(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """Copy only the first ``fraction`` of ``src``'s bytes, as an interrupted upload would leave it."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: max(1, int(len(data) * fraction))])
    return Path(dst)


def make_corrupt_file(dst: str | Path, size: int = 64 * 1024, seed: int = 7, mp4_header: bool = False) -> Path:
    """Random bytes; with ``mp4_header`` they follow a valid-looking ``ftyp`` box (a damaged MP4)."""
    noise = random.Random(seed).randbytes(size)
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" if mp4_header else b""
    if not mp4_header:
        noise = b"\x00\x01" + noise[2:]  # never mistaken for text or a known magic number
    Path(dst).write_bytes(head + noise)
    return Path(dst)


def make_rotated_copy(src: str | Path, dst: str | Path, degrees: int) -> Path:
    """Stream-copy ``src`` with a display-matrix rotation, as phones store portrait video.

    ``degrees`` is clockwise, matching :attr:`MediaInfo.rotation`.
    """
    run_ffmpeg(["-y", "-display_rotation:v:0", str(-degrees % 360), "-i", src, "-c", "copy", dst],
               timeout_s=60, what="rotating")
    return Path(dst)


def make_audio_file(dst: str | Path, *, seconds: float, tone_hz: float = 440.0, seed: int = 0) -> Path:
    """An audio-only file; the container follows the suffix (``.mp3``, ``.m4a``, ``.wav``, ``.mp4``...)."""
    dst = Path(dst)
    with tempfile.TemporaryDirectory(prefix="openfyp-synth-") as scratch:
        wav = Path(scratch) / "tone.wav"
        write_wav(wav, melody(seconds, tone_hz, seed))
        codec = {".mp3": ["-c:a", "libmp3lame"], ".wav": ["-c:a", "pcm_s16le"]}.get(dst.suffix, ["-c:a", "aac"])
        run_ffmpeg(["-y", "-i", wav, *codec, dst], timeout_s=60, what="making an audio file")
    return dst


def make_still_image(dst: str | Path, *, width: int = 320, height: int = 240, hue: float = 0.0) -> Path:
    """A single picture (PNG or JPEG by suffix)."""
    graph = video_graph("testsrc2", width=width, height=height, fps=1, hue=hue, seed=0)
    run_ffmpeg(["-y", "-f", "lavfi", "-i", graph, "-frames:v", "1", "-update", "1", dst],
               timeout_s=60, what="making an image")
    return Path(dst)
