"""Do the demo's simulated viewers get For You pages that match their hidden tastes better than trending?

For every simulated viewer of a built demo, the engine ranks one page (10 items) twice from the same state:
personalised, and in non-personalised mode (regional popularity, i.e. trending). A third page is drawn at
random from what the viewer has not seen. Each page is scored with the viewer's hidden tastes, which the
platform never saw: taste match (mean affinity of the page's topics; a random page scores about 1.0) and the
expected watch seconds under the demo's watch-time model.

    python benchmarks/demo_personalisation.py                 # builds a demo in a temp dir first
    python benchmarks/demo_personalisation.py --data-dir openfyp-data   # an already built demo
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def build_demo(data_dir: Path, clips: int, viewers: int) -> None:
    env = {**os.environ, "OPENFYP_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "openfyp.cli", "demo", "--clips", str(clips), "--viewers", str(viewers),
                    "--creators", str(min(50, max(12, clips // 6)))], env=env, check=True)


def mean_ci(values: list[float]) -> dict[str, float]:
    if not values:
        raise SystemExit("no page had unseen videos left: build a demo with more clips than each viewer saw")
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return {"mean": round(mean, 4), "ci95": round(half, 4), "n": len(values)}


def measure(data_dir: Path) -> dict:
    os.environ["OPENFYP_DATA_DIR"] = str(data_dir)
    from sqlalchemy import select

    from openfyp.demo.audience import SimulatedViewer, page_taste_match
    from openfyp.demo.build import load_hidden_traits
    from openfyp.demo.catalog import TOPICS
    from openfyp.recsys.contracts import FeedContext
    from openfyp.services import build_services
    from openfyp.settings import Settings
    from openfyp.store.tables import Impression, User

    summary = json.loads((data_dir / "demo.json").read_text())
    seed = summary["options"]["seed"]
    traits = load_hidden_traits(data_dir)
    services = build_services(Settings(data_dir=data_dir, job_workers=0))
    engine = services.feed
    engine.reload()
    rng = random.Random(seed)
    scores: dict[str, dict[str, list[float]]] = {name: {"taste_match": [], "expected_watch_s": []}
                                                 for name in ("openfyp", "trending", "random")}
    with services.session_factory() as db:
        users = {u.username: u for u in db.scalars(select(User).where(User.username.like("viewer%")))}
        for username, user in sorted(users.items()):
            index = int(username.removeprefix("viewer"))
            viewer = SimulatedViewer.sample(index, len(TOPICS), seed)
            seen = frozenset(db.scalars(select(Impression.video_id).where(Impression.user_id == user.id)))
            now = datetime.now(UTC)
            pages = {}
            for name, personalised in (("openfyp", True), ("trending", False)):
                context = FeedContext(region=services.region, user_id=user.id, request_id=str(uuid.uuid4()),
                                      now=now, limit=10, personalised=personalised, seen_video_ids=seen)
                pages[name] = [item.video_id for item in engine.recommend(context).items]
            unseen = [v for v in traits if v not in seen]
            pages["random"] = rng.sample(unseen, min(10, len(unseen)))
            for name, page in pages.items():
                known = [traits[v] for v in page if v in traits]
                if not known:
                    continue
                scores[name]["taste_match"].append(page_taste_match(viewer, [t.topic for t in known]))
                scores[name]["expected_watch_s"].append(
                    statistics.fmean(viewer.expected_watch_seconds(t) for t in known))
    services.close()
    summary_scores = {name: {metric: mean_ci(values) for metric, values in metrics.items()}
                      for name, metrics in scores.items()}
    lift = {metric: round(summary_scores["openfyp"][metric]["mean"] / summary_scores["trending"][metric]["mean"] - 1, 4)
            for metric in ("taste_match", "expected_watch_s")}
    return {"demo": {k: summary[k] for k in ("videos_ready", "viewers", "events", "options")},
            "scores": summary_scores, "lift_over_trending": lift}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an already built demo; default builds one in a temp dir")
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--viewers", type=int, default=300)
    args = parser.parse_args()
    if args.data_dir:
        result = measure(args.data_dir.resolve())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            build_demo(data_dir, args.clips, args.viewers)
            result = measure(data_dir)
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "load_average": os.getloadavg()}
    result["measured_at"] = datetime.now(UTC).isoformat()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "demo_personalisation.json").write_text(json.dumps(result, indent=2))
    print(f"{'feed':<10} {'taste match':>18} {'expected watch s':>20}")
    for name, metrics in result["scores"].items():
        tm, ws = metrics["taste_match"], metrics["expected_watch_s"]
        print(f"{name:<10} {tm['mean']:>10.3f} ± {tm['ci95']:<5.3f} {ws['mean']:>12.2f} ± {ws['ci95']:<5.2f}")
    print(f"openfyp vs trending: taste match {result['lift_over_trending']['taste_match']:+.1%}, "
          f"expected watch time {result['lift_over_trending']['expected_watch_s']:+.1%}")


if __name__ == "__main__":
    main()
