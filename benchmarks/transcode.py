"""Media pipeline speed on this machine: upload checks, 1080p→720p transcoding, synthetic demo clips.

Run: ``.venv/bin/python benchmarks/transcode.py [--repeats 3] [--source-seconds 30]``.
Prints a summary and writes ``benchmarks/results/transcode.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from openfyp.media.ffmpeg import ffmpeg_exe
from openfyp.media.synth import PATTERNS, generate_clip
from openfyp.media.transcode import transcode
from openfyp.media.validate import validate_upload

RESULTS = Path(__file__).resolve().parent / "results" / "transcode.json"
DEMO_CLIP_SECONDS = 12.0  # the demo draws 3–30 s clips; 12 s is about their mean
DEMO_CLIP_COUNT = 300
T = TypeVar("T")


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (the ffmpeg runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU_LOG: list[float] = []


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Wall seconds of ``action``; its CPU seconds go to ``CPU_LOG`` (wall time suffers on a shared box, CPU less)."""
    start, cpu_start = time.perf_counter(), cpu_seconds()
    value = action()
    CPU_LOG.append(cpu_seconds() - cpu_start)
    return time.perf_counter() - start, value


def ffmpeg_version() -> str:
    first = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False).stdout
    return first.splitlines()[0] if first else "unknown"


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(samples), 3), "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3)}


def bench_upload_pipeline(workdir: Path, source_seconds: float, repeats: int) -> dict[str, Any]:
    source = workdir / "source_1080x1920.mp4"
    # Rendered with a slower preset than the demo clips so the source resembles a phone upload's bitrate.
    generate_s, _ = timed(partial(
        generate_clip, source, seconds=source_seconds, width=1080, height=1920, pattern="testsrc2", hue=30.0,
        tone_hz=262.0, seed=1, fps=30, label="benchmark", preset="veryfast", crf=20, max_kbps=12_000))
    validate_runs, transcode_runs, transcode_cpu = [], [], []
    result = None
    for index in range(repeats):
        seconds, info = timed(partial(validate_upload, source, max_bytes=1 << 30, max_seconds=600))
        validate_runs.append(seconds)
        seconds, result = timed(partial(
            transcode, source, workdir / f"out{index}.mp4", workdir / f"poster{index}.jpg", short_edge=720))
        transcode_runs.append(seconds)
        transcode_cpu.append(CPU_LOG[-1])
    assert result is not None
    return {
        "source": {"seconds": source_seconds, "width": info.width, "height": info.height, "fps": info.fps,
                   "size_bytes": info.size_bytes, "render_s": round(generate_s, 2)},
        "validate": summary(validate_runs),
        "transcode_720_with_poster": summary(transcode_runs),
        "transcode_cpu_s": round(statistics.median(transcode_cpu), 2),
        "transcode_speed_x_realtime": round(source_seconds / statistics.median(transcode_runs), 2),
        "output": {"width": result.width, "height": result.height, "size_bytes": result.size_bytes,
                   "poster_bytes": result.poster_size_bytes, "duration_s": result.duration_s},
    }


def bench_demo_clips(workdir: Path) -> dict[str, Any]:
    per_pattern: dict[str, dict[str, float]] = {}
    for index, pattern in enumerate(PATTERNS):
        target = workdir / f"demo_{pattern}.mp4"
        seconds, _ = timed(partial(
            generate_clip, target, seconds=DEMO_CLIP_SECONDS, pattern=pattern, hue=index * 30.0,
            tone_hz=196.0 + 20 * index, seed=index, label=f"{pattern} #{index}"))
        per_pattern[pattern] = {"render_s": round(seconds, 3), "cpu_s": round(CPU_LOG[-1], 3),
                                "size_bytes": target.stat().st_size}
    renders = [entry["render_s"] for entry in per_pattern.values()]
    mean_s = statistics.mean(renders)
    mean_cpu_s = statistics.mean(entry["cpu_s"] for entry in per_pattern.values())
    # The demo seeds its catalogue through the real upload pipeline, so each clip is also transcoded once.
    pipeline_s, _ = timed(partial(transcode, workdir / f"demo_{PATTERNS[0]}.mp4", workdir / "demo_out.mp4",
                                  workdir / "demo_poster.jpg"))
    return {
        "clip": {"seconds": DEMO_CLIP_SECONDS, "width": 540, "height": 960, "fps": 24, "audio": True,
                 "label": True},
        "per_pattern": per_pattern,
        "mean_render_s": round(mean_s, 3),
        "mean_cpu_s": round(mean_cpu_s, 3),
        "render_s_per_video_second": round(mean_s / DEMO_CLIP_SECONDS, 4),
        "estimated_minutes_for_demo": {"clips": DEMO_CLIP_COUNT,
                                       "minutes_at_measured_wall_time": round(mean_s * DEMO_CLIP_COUNT / 60, 1),
                                       "minutes_if_both_cores_free": round(mean_cpu_s * DEMO_CLIP_COUNT / 2 / 60, 1)},
        "mean_size_bytes": round(statistics.mean(e["size_bytes"] for e in per_pattern.values())),
        "transcode_one_clip_s": round(pipeline_s, 3),
        "transcode_one_clip_cpu_s": round(CPU_LOG[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source-seconds", type=float, default=30.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="openfyp-bench-") as scratch:
        workdir = Path(scratch)
        upload = bench_upload_pipeline(workdir, args.source_seconds, args.repeats)
        demo = bench_demo_clips(workdir)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "ffmpeg": ffmpeg_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "upload_pipeline": upload,
        "demo_clips": demo,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    estimate = demo["estimated_minutes_for_demo"]
    print(f"load average before/after: {report['machine']['load_average_before'][0]} / "
          f"{report['machine']['load_average_after'][0]} on {os.cpu_count()} CPUs")
    print(f"source {args.source_seconds:.0f} s 1080x1920: validate {upload['validate']['median_s']} s, "
          f"transcode+poster {upload['transcode_720_with_poster']['median_s']} s wall / "
          f"{upload['transcode_cpu_s']} s CPU ({upload['transcode_speed_x_realtime']}x real time), "
          f"median of {args.repeats}")
    print(f"demo clip {DEMO_CLIP_SECONDS:.0f} s 540x960: {demo['mean_render_s']} s wall / {demo['mean_cpu_s']} s CPU "
          f"mean over {len(PATTERNS)} patterns → {DEMO_CLIP_COUNT} clips: ~{estimate['minutes_at_measured_wall_time']}"
          f" min as measured, ~{estimate['minutes_if_both_cores_free']} min with both cores free; transcoding one "
          f"such clip {demo['transcode_one_clip_s']} s wall / {demo['transcode_one_clip_cpu_s']} s CPU")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
