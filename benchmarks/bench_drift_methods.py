"""Benchmark each numeric drift method on a million live values, against a numpy floor.

The unit tests check what `mlspec.runtime.monitoring.drift.numeric` computes on a million values; how long it takes
is measured here (a time limit in a test fails on a busy machine). Same data as the unit test: a
reference profile of 100,000 standard-normal values built as training builds it, 1,000,000 live values
shifted by 0.1 with every 97th missing. Per method, the best of `--repeat` calls; the floor is the least
work any method must do, dropping the missing values and sorting the rest with numpy, timed the same way
and alternated with the methods so machine noise hits both alike.

Goal: every method within 10x of the floor (they bin or sort once, then work on the bins; a method that
loops in Python over the values would be hundreds of times slower).

    .venv/bin/python benchmarks/bench_drift_methods.py [--rows 1000000] [--repeat 5]

Prints a Markdown table and writes benchmarks/out/drift_methods.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from mlspec.runtime.monitoring import drift
from mlspec.runtime.monitoring.profile import _numeric_profile

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out" / "drift_methods.json"
METHODS = ["psi", "ks", "wasserstein", "jensen_shannon", "chi_square"]
GOAL_RATIO = 10.0


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    profile = _numeric_profile(np.random.default_rng(0).normal(0, 1, 100_000))
    live = np.random.default_rng(1).normal(0.1, 1, args.rows)
    live[::97] = np.nan

    def floor() -> None:
        np.sort(live[np.isfinite(live)])

    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform(), "load_average_at_start": os.getloadavg()},
                     "rows": args.rows, "repeat": args.repeat, "methods": {}}
    print(f"| method | best of {args.repeat} | floor | ratio | goal <= {GOAL_RATIO:.0f}x |")
    print("|---|---|---|---|---|")
    for method in METHODS:
        floor_s = best_of(args.repeat, floor)
        method_s = best_of(args.repeat, lambda m=method: drift.numeric("x", profile, live, m, 0.1, 200))
        ratio = method_s / floor_s
        results["methods"][method] = {"seconds": method_s, "floor_seconds": floor_s, "ratio": ratio,
                                      "met": ratio <= GOAL_RATIO}
        print(f"| {method} | {method_s:.3f} s | {floor_s:.3f} s | {ratio:.1f}x | "
              f"{'yes' if ratio <= GOAL_RATIO else 'no'} |")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\nWrote {OUT.relative_to(REPO)}")
    return 0 if all(r["met"] for r in results["methods"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
