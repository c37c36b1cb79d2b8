"""Benchmark `mlspec run` against a hand-written scikit-learn script doing the same work.

Side by side, in one run, on the same generated 100,000-row CSV:

1. the floor: a hand-written script that reads the CSV with pandas, builds the same pipeline
   (standardize + one-hot + logistic regression), splits, fits, computes the same metrics and saves
   the model with skops;
2. `mlspec run --force -s +model:bench` (the same work, plus mlspec's spec validation, data-contract
   check, fingerprinting, lineage and cache bookkeeping);
3. the no-op re-run: `mlspec run -s +model:bench` when nothing changed (goal: under 0.6 s).

Each is a fresh process, timed as wall-clock; the median of N repetitions is reported, alternating
the contenders so machine noise hits both alike. Goal for (2): within 1.15x of (1).

    .venv/bin/python benchmarks/bench_run.py [--rows 100000] [--repeat 5] [--src DIR] [--baseline DIR]

`--baseline` measures another source tree in the same rounds (before/after a change, side by side);
the machine's load average is recorded with the figures.
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

import numpy as np

HAND_WRITTEN = '''
import sys, hashlib
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

frame = pd.read_csv(sys.argv[1])
numeric = ["amount", "age", "visits", "tenure"]
x, y = frame[numeric + ["segment"]], frame["label"]
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
pipeline = Pipeline([
    ("features", ColumnTransformer([("num", StandardScaler(), numeric),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["segment"])])),
    ("model", LogisticRegression(C=1.0, max_iter=1000, random_state=42)),
])
pipeline.fit(x_train, y_train)
proba = pipeline.predict_proba(x_test)[:, 1]
print(roc_auc_score(y_test, proba), average_precision_score(y_test, proba))
data = sio.dumps(pipeline)
open(sys.argv[2], "wb").write(data)
'''

SOURCE = '''sources:
  events:
    format: csv
    path: data/events.csv
    schema:
      amount: {type: float, min: 0}
      age: {type: int, min: 18, max: 100}
      visits: {type: int, min: 0}
      tenure: {type: float, min: 0}
      segment: {type: category, values: [a, b, c, d, e]}
      label: {type: int, values: [0, 1]}
    checks: {min_rows: 1000}
'''

SPEC = '''apiVersion: mlspec/v1
project: {name: bench, python: "3.11", seed: 42}
''' + SOURCE + '''features:
  amount: {source: events, column: amount, transform: standardize}
  age: {source: events, column: age, transform: standardize}
  visits: {source: events, column: visits, transform: standardize}
  tenure: {source: events, column: tenure, transform: standardize}
  segment: {source: events, column: segment, transform: one_hot}
models:
  bench:
    task: classification
    source: events
    label: label
    features: [amount, age, visits, tenure, segment]
    estimator: logistic_regression
    params: {C: 1.0, max_iter: 1000}
    split: {method: stratified, test_fraction: 0.2}
    metrics: [roc_auc, average_precision]
'''


def make_project(root: Path, rows: int) -> Path:
    """Write the spec, a deterministic CSV with a learnable signal and the hand-written script."""
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "bench.yaml").write_text(SPEC, encoding="utf-8")
    write_events(root, rows)
    (root / "hand.py").write_text(HAND_WRITTEN, encoding="utf-8")
    return root


def write_events(root: Path, rows: int) -> None:
    """`data/events.csv`: `rows` deterministic rows whose label the other columns predict in part."""
    rng = np.random.default_rng(7)
    amount = rng.lognormal(3, 1, rows).round(2)
    age = rng.integers(18, 90, rows)
    visits = rng.poisson(4, rows)
    tenure = rng.exponential(300, rows).round(1)
    segment = rng.choice(list("abcde"), rows)
    logit = -3 + 0.8 * np.log1p(amount) / 3 - 0.02 * (age - 50) + 0.2 * visits + (segment == "e") * 1.2
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    (root / "data").mkdir()
    lines = ["amount,age,visits,tenure,segment,label"]
    lines += [f"{a},{g},{v},{t},{s},{y}" for a, g, v, t, s, y in zip(amount, age, visits, tenure, segment, label,
                                                                     strict=True)]
    (root / "data" / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(command: list[str], cwd: Path, src: str | None) -> float:
    env = {**os.environ, "PYTHONPATH": src} if src else None
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--src", default=None, help="mlspec's source folder to measure (default: the installed one)")
    parser.add_argument("--baseline", default=None,
                        help="another mlspec source folder (say, `git archive` of an older commit, its src/), "
                             "measured in the same rounds on its own copy of the project")
    args = parser.parse_args()
    mlspec = str(Path(sys.executable).with_name("mlspec"))
    trees = {"mlspec": args.src} | ({"baseline": args.baseline} if args.baseline else {})
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        roots = {name: make_project(Path(tmp) / name, args.rows) for name in trees}
        hand = [sys.executable, "hand.py", "data/events.csv", "model.skops"]
        run = [mlspec, "run", "--force", "-s", "+model:bench"]
        noop = [mlspec, "run", "-s", "+model:bench"]
        for name, src in trees.items():
            timed(run, roots[name], src)  # warm the OS file cache; the no-op runs find this model
        times: dict[str, list[float]] = {"hand": []} | {f"{n}_{w}": [] for n in trees for w in ("run", "noop")}
        for _ in range(args.repeat):
            times["hand"].append(timed(hand, roots["mlspec"], None))
            for name, src in trees.items():
                times[f"{name}_run"].append(timed(run, roots[name], src))
                times[f"{name}_noop"].append(timed(noop, roots[name], src))
    median = {key: round(statistics.median(values), 3) for key, values in times.items()}
    result = {"rows": args.rows, "repeat": args.repeat, "loadavg_before": load_before,
              "loadavg_after": os.getloadavg(), "median_s": median, "raw_s": times,
              "ratio": {name: round(median[f"{name}_run"] / median["hand"], 3) for name in trees}}
    print("| contender | median wall time |\n|---|---|")
    print(f"| hand-written scikit-learn script | {median['hand']:.2f} s |")
    for name in trees:
        print(f"| `mlspec run --force` ({name}) | {median[f'{name}_run']:.2f} s ({result['ratio'][name]:.2f}x; "
              "goal <= 1.15x) |")
        print(f"| `mlspec run`, nothing changed ({name}) | {median[f'{name}_noop']:.2f} s (goal < 0.6 s) |")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {result['loadavg_after']}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "run.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
