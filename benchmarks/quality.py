"""Offline quality benchmark: openfyp's engine against five baselines on MovieLens latest-small.

Protocol: RecBole's per-user random split 80/10/10, full ranking over all items, configs chosen on
validation, test read once, seeds 2020–2022. Writes ``benchmarks/results/quality.json`` and
``quality.html`` beside it and prints the table and the wall-clock time.

    .venv/bin/python benchmarks/quality.py [--seeds 2020,2021,2022] [--models ...] [--k 10,20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-latest-small"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="2020,2021,2022")
    parser.add_argument("--models", default="popularity,als,bpr,itemknn,ease,openfyp")
    parser.add_argument("--k", default="10,20")
    parser.add_argument("--protocol", default="random")
    parser.add_argument("--name", default="quality", help="Result file stem under benchmarks/results/.")
    args = parser.parse_args()

    from rich.console import Console

    from openfyp.recsys.datasets import load_movielens
    from openfyp.recsys.eval_command import print_table
    from openfyp.recsys.evaluation.harness import EvalConfig, count_steps, run_evaluation
    from openfyp.recsys.evaluation.report import write_html_report

    config = EvalConfig(protocol=args.protocol, seeds=[int(s) for s in args.seeds.split(",")],
                        ks=[int(k) for k in args.k.split(",")], models=args.models.split(","))
    interactions = load_movielens(DATA)
    total = count_steps(config)
    done = 0
    started = time.perf_counter()

    def progress(advance: int, label: str) -> None:
        nonlocal done
        done += advance
        print(f"[{time.perf_counter() - started:7.1f}s] {done}/{total} {label}", flush=True)

    result = run_evaluation(interactions, config, progress)
    seconds = time.perf_counter() - started
    document = result.to_json()
    document["run"]["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                                  "load_average_at_end": os.getloadavg()[0]}
    document["run"]["wall_seconds"] = seconds
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    write_html_report(result, RESULTS / f"{args.name}.html")
    print_table(result, Console(width=200))
    k = config.ks[0]
    summary = result.summary("test")
    if "openfyp" in summary:
        baselines = {n: v for n, v in summary.items() if n != "openfyp"}
        for metric in (f"ndcg@{k}", f"recall@{k}"):
            best_name = max(baselines, key=lambda n: baselines[n][metric]["mean"])
            best = baselines[best_name][metric]["mean"]
            ours = summary["openfyp"][metric]["mean"]
            print(f"{metric}: openfyp {ours:.4f} vs best baseline {best_name} {best:.4f} "
                  f"({100 * (ours / best - 1):+.1f}%)")
    print(f"wall-clock: {seconds:.0f} s on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
