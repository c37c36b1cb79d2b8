"""Benchmark how `mlspec run` uses the cores: many models at `-j 1, 2, ... cores` (issue #19 item 3).

One project of `--models` histogram gradient-boosting models (they differ in their learning rate) on one
generated CSV. Each contender is `mlspec run --force -j J` in a fresh process, alternated round by round so
machine noise hits all alike; the median of `--repeat` rounds is reported with the speed-up over `-j 1`
and the machine's load average. Every training gets cores / J BLAS/OpenMP threads
(`runner.training_threads`), so `-j 1` uses every core inside each fit and `-j cores` runs one
single-threaded fit per core; without that budget, J workers each starting an OpenMP pool the size of the
machine made `-j 1` 11x slower than `-j 2` here (165 s against 14 s for 20 models: issue #19).

    .venv/bin/python benchmarks/bench_jobs.py [--models 20] [--rows 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_run import SOURCE, write_events

HEAD = '''apiVersion: mlspec/v1
project: {name: bench-jobs, python: "3.11", seed: 42}
''' + SOURCE + '''features:
  amount: {source: events, column: amount}
  age: {source: events, column: age}
  visits: {source: events, column: visits}
  tenure: {source: events, column: tenure}
  segment: {source: events, column: segment, transform: one_hot}
models:
'''

MODEL = '''  m{index:02d}:
    task: classification
    source: events
    label: label
    features: [amount, age, visits, tenure, segment]
    estimator: hist_gradient_boosting
    params: {{learning_rate: {rate}, max_iter: 100}}
    split: {{method: stratified, test_fraction: 0.2}}
    metrics: [roc_auc]
'''


def make_project(root: Path, models: int, rows: int) -> None:
    """The spec of `models` models and `bench_run`'s deterministic CSV."""
    (root / "specs").mkdir(parents=True)
    spec = HEAD + "".join(MODEL.format(index=i, rate=round(0.05 + 0.01 * i, 2)) for i in range(models))
    (root / "specs" / "models.yaml").write_text(spec, encoding="utf-8")
    write_events(root, rows)


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    mlspec = str(Path(sys.executable).with_name("mlspec"))
    cores = os.cpu_count() or 1
    jobs = list(range(1, cores + 1))
    load_before = os.getloadavg()
    times: dict[int, list[float]] = {j: [] for j in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, args.models, args.rows)
        timed([mlspec, "run", "--force", "-j", str(cores)], root)  # warm the OS file cache
        for _ in range(args.repeat):
            for j in jobs:
                times[j].append(timed([mlspec, "run", "--force", "-j", str(j)], root))
    median = {j: round(statistics.median(values), 2) for j, values in times.items()}
    result = {"models": args.models, "rows": args.rows, "repeat": args.repeat, "cores": cores,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "median_s": median, "raw_s": times,
              "speedup": {j: round(median[1] / median[j], 2) for j in jobs}}
    print(f"{args.models} models, {args.rows} rows, {cores} cores\n")
    print("| `mlspec run --force` | threads per training | median wall time | speed-up over -j 1 |\n|---|---|---|---|")
    for j in jobs:
        print(f"| -j {j} | {max(1, cores // j)} | {median[j]:.2f} s | {result['speedup'][j]:.2f}x |")
    print(f"\nload average (1, 5, 15 min) before: {load_before}, after: {result['loadavg_after']}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "jobs.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
