"""Keyword filter speed: compiling a region's rules, and checking a comment against them.

Compares the trie-compiled single regular expression (what ``openfyp.moderation.text`` builds) with a
plain alternation of the same patterns, so the benefit of factoring shared prefixes is measured, not assumed.

Run: ``.venv/bin/python benchmarks/moderation_filters.py [--rules 100 1000 5000] [--texts 2000]``.
Prints a summary and writes ``benchmarks/results/moderation_filters.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import string
import time
from pathlib import Path
from typing import Any

from openfyp.moderation.text import WordMatcher, compile_patterns, normalise

RESULTS = Path(__file__).resolve().parent / "results" / "moderation_filters.json"
COMMENT_WORDS = 40  # a long comment; most are a handful of words


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))


def _rules(rng: random.Random, count: int) -> list[str]:
    rules: set[str] = set()
    while len(rules) < count:
        rules.add(_word(rng) if rng.random() < 0.7 else f"{_word(rng)} {_word(rng)}")
    return sorted(rules)


def _plain_alternation(patterns: list[str]) -> re.Pattern[str]:
    alternatives = sorted(patterns, key=len, reverse=True)
    return re.compile("|".join(rf"(?<!\w){re.escape(p)}(?!\w)" for p in alternatives))


def _time_per_call(fn, items, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best


def run(rule_counts: list[int], text_count: int) -> dict[str, Any]:
    rng = random.Random(42)
    texts = [normalise(" ".join(_word(rng) for _ in range(COMMENT_WORDS))) for _ in range(text_count)]
    results = []
    for count in rule_counts:
        patterns = _rules(rng, count)
        start = time.perf_counter()
        trie = compile_patterns(patterns)
        compile_trie = time.perf_counter() - start
        start = time.perf_counter()
        plain = _plain_alternation(patterns)
        compile_plain = time.perf_counter() - start
        trie_hits = sum(trie.search(t) is not None for t in texts)
        plain_hits = sum(plain.search(t) is not None for t in texts)
        assert trie_hits == plain_hits, "the two matchers disagree"
        matcher = WordMatcher(patterns=frozenset(patterns), regex=trie)  # .first() normalises the text too
        row = {
            "rules": count,
            "compile_ms": round(compile_trie * 1000, 2),
            "compile_plain_ms": round(compile_plain * 1000, 2),
            "check_us": round(_time_per_call(matcher.first, texts) * 1e6, 2),
            # The plain alternation gets slow enough with many rules that a sample of texts is plenty.
            "check_plain_us": round(_time_per_call(plain.search, texts[:200], repeats=1) * 1e6, 2),
            "texts_with_a_hit": trie_hits,
        }
        row["speedup"] = round(row["check_plain_us"] / row["check_us"], 2) if row["check_us"] else None
        results.append(row)
        print(f"{count:>6} rules: compile {row['compile_ms']:>8.2f} ms, check {row['check_us']:>8.2f} µs/comment "
              f"(plain alternation {row['check_plain_us']:>8.2f} µs, ×{row['speedup']})")
    return {"benchmark": "moderation_filters", "python": platform.python_version(), "machine": platform.machine(),
            "comment_words": COMMENT_WORDS, "texts": text_count, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    report = run(args.rules, args.texts)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
