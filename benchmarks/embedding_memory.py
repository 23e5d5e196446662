"""Memory of the real-time embedding tables at 1M ids, and how fast they take batches.

Two tables of 1M ids each, built the way the online learner fills them (batches of 10k occurrences):

* ``all_admitted``: every id passes the frequency filter and owns a vector (the worst case);
* ``long_tail``: Zipf-distributed traffic over 1M ids with ``min_count = 3``: most ids are tracked
  (count, last seen) but never earn a vector, as on a real platform.

Memory is measured three ways: the table's own account of its slabs (``memory_bytes``), the numpy
allocations seen by ``tracemalloc`` while building, and the process RSS growth. Throughput: occurrences
recorded per second and ids looked up per second.

    .venv/bin/python benchmarks/embedding_memory.py           # 1M ids, writes results/embedding_memory.json
    .venv/bin/python benchmarks/embedding_memory.py --quick   # 100k ids, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from openfyp.realtime.embedding_table import EmbeddingTable, EmbeddingTableConfig

RESULTS = Path(__file__).resolve().parent / "results"


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build(ids_stream: np.ndarray, config: EmbeddingTableConfig, batch: int = 10_000) -> tuple[EmbeddingTable, dict]:
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    table = EmbeddingTable(config, name="bench")
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for start in range(0, len(ids_stream), batch):
        chunk = ids_stream[start:start + batch]
        table.record(chunk, 1.7e9 + start / 1000.0,
                     init=lambda new: rng.normal(0, 0.1, size=(len(new), config.dim)).astype(np.float32))
    elapsed = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    stats = table.stats()
    return table, {
        "occurrences": len(ids_stream), "seconds": round(elapsed, 3),
        "occurrences_per_s": round(len(ids_stream) / elapsed),
        "tracked_ids": stats["tracked_ids"], "admitted_ids": stats["admitted_ids"],
        "table_bytes": stats["bytes"], "table_mib": round(stats["bytes"] / 2**20, 1),
        "bytes_per_tracked_id": stats["bytes_per_tracked_id"],
        "bytes_per_admitted_id": round(stats["bytes"] / max(stats["admitted_ids"], 1), 1),
        "tracemalloc_current_mib": round(current / 2**20, 1), "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "rss_growth_mib": round((rss_bytes() - rss_before) / 2**20, 1),
    }


def lookup_rate(table: EmbeddingTable, ids: np.ndarray, batch: int = 10_000) -> float:
    rng = np.random.default_rng(1)
    queries = rng.choice(ids, size=min(len(ids), 500_000))
    started = time.perf_counter()
    for start in range(0, len(queries), batch):
        table.vectors_for(queries[start:start + batch])
    return round(len(queries) / (time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k ids instead of 1M")
    parser.add_argument("--ids", type=int, default=None)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    n = args.ids or (100_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(42)
    # Real ids are sparse 64-bit numbers, not 0..n.
    universe = rng.choice(np.int64(2) ** 62, size=n, replace=False).astype(np.int64)

    results: dict = {"ids": n, "dim": args.dim, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                           "load_average": os.getloadavg()}}
    # Worst case: every id admitted (three occurrences each, in shuffled order).
    stream = np.repeat(universe, 3)
    rng.shuffle(stream)
    table, figures = build(stream, EmbeddingTableConfig(dim=args.dim, min_count=3, max_ids=2 * n))
    figures["lookups_per_s"] = lookup_rate(table, universe)
    results["all_admitted"] = figures
    print("all admitted:", json.dumps(figures))
    del table
    gc.collect()

    # Long tail: Zipf(1.1) popularity over the same ids; most are seen once or twice.
    ranks = rng.zipf(1.1, size=6 * n)
    ranks = ranks[ranks <= n] - 1
    stream = universe[ranks]
    stream = np.concatenate([universe, stream])  # every id at least once, so all n are tracked
    rng.shuffle(stream)
    table, figures = build(stream, EmbeddingTableConfig(dim=args.dim, min_count=3, max_ids=2 * n))
    figures["lookups_per_s"] = lookup_rate(table, universe)
    results["long_tail"] = figures
    print("long tail:   ", json.dumps(figures))

    # The ceiling: the same traffic into a table capped at half the ids stays under its cap.
    capped, figures = build(stream, EmbeddingTableConfig(dim=args.dim, min_count=3, max_ids=n // 2))
    results["capped_at_half"] = {key: figures[key] for key in ("tracked_ids", "admitted_ids", "table_mib",
                                                               "occurrences_per_s")}
    results["capped_at_half"]["evicted"] = capped.evicted
    print("capped:      ", json.dumps(results["capped_at_half"]))

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("embedding_memory-quick.json" if args.quick else "embedding_memory.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
