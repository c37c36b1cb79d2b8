"""Benchmark a model's grid search on a Dask cluster of 1 and of 2 worker processes, against a local run.

mlspec's own training (`mlspec.runtime.train.train`: split, grid search, cross-validation, the final fit
in this process, scoring, the artifact) on a generated classification table, three ways, alternating
rounds so machine noise hits each alike:

1. local: `compute` left out (one process, as every run without a cluster);
2. a `LocalCluster` of 1 worker process (one thread each), reached through `compute.address`;
3. the same with 2 worker processes.

The clusters are started before the rounds (a user's cluster is already running), and one round that
is not counted warms each way up (imports, the first data sent), so the times are the training's alone.
The artifact's sha256 must be the same in all three. Reported: the median time of each, and the speed-up
of 2 workers over 1 (issue #19 asks for it recorded, not a threshold), with the machine's load average.

    .venv/bin/python benchmarks/bench_dask.py [--rows 10000] [--trees 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlspec import api
from mlspec.manifest import ComputeSettings
from mlspec.runtime import steps
from mlspec.runtime.train import train


def make_project(root: Path, rows: int, trees: int) -> None:
    """A source of `rows` rows (8 numeric columns, a binary label) and a random forest with an 8-candidate grid."""
    rng = np.random.default_rng(0)
    columns = {f"x{i}": rng.normal(size=rows) for i in range(8)}
    logit = columns["x0"] - 0.5 * columns["x1"] + 0.8 * columns["x2"] * columns["x3"]
    frame = pd.DataFrame({**columns, "label": (logit + rng.normal(size=rows) > 0).astype(int)})
    (root / "data").mkdir(parents=True)
    frame.to_csv(root / "data" / "table.csv", index=False)
    features = {name: {"source": "table", "column": name, "transform": "passthrough"} for name in columns}
    spec = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "bench-dask", "seed": 3},
        "sources": {"table": {"format": "csv", "path": "data/table.csv",
                              "schema": {**{name: {"type": "float"} for name in columns},
                                         "label": {"type": "int", "values": [0, 1]}}}},
        "features": features,
        "models": {"forest": {
            "task": "classification", "source": "table", "label": "label", "features": list(features),
            "estimator": "random_forest", "params": {"n_estimators": trees},
            "search": {"method": "grid", "folds": 3,
                       "space": {"max_depth": [6, 12], "min_samples_leaf": [1, 5], "max_features": ["sqrt", None]}},
            "metrics": ["roc_auc"]}},
    }
    (root / "specs").mkdir()
    (root / "specs" / "main.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


def timed(model, manifest, frame) -> tuple[float, str]:
    """Seconds one training takes, and its artifact's sha256."""
    started = time.perf_counter()
    candidate = train(model, manifest, frame)
    return time.perf_counter() - started, candidate.sha256


def main() -> None:
    """Measure, print and write benchmarks/out/dask.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--trees", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from dask.distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # the clusters' own start and stop messages

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_project(root, args.rows, args.trees)
        project = api.load(root)
        assert project.ok, project.diagnostics
        manifest = project.manifest
        local = manifest.nodes["model.forest"]
        frame = steps.check_source(manifest.nodes["source.table"], root).frame
        clusters = {n: LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    dashboard_address=":0", silence_logs=logging.ERROR) for n in (1, 2)}
        try:
            ways = {"local": local, **{f"dask {n} worker{'s' if n > 1 else ''}": local.model_copy(update={
                "compute": ComputeSettings(backend="dask", address=c.scheduler_address)})
                for n, c in clusters.items()}}
            for model in ways.values():  # warm up: imports, and each cluster's workers receiving the data first
                timed(model, manifest, frame)
            load_before = os.getloadavg()
            times: dict[str, list[float]] = {name: [] for name in ways}
            digests: set[str] = set()
            for _ in range(args.repeat):
                for name, model in ways.items():
                    seconds, digest = timed(model, manifest, frame)
                    times[name].append(seconds)
                    digests.add(digest)
            load_after = os.getloadavg()
        finally:
            for c in clusters.values():
                c.close()
    assert len(digests) == 1, f"the artifacts differ: {digests}"
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {"rows": args.rows, "trees": args.trees, "fits": 8 * 3 + 1, "repeat": args.repeat, "times": times,
              "median_seconds": medians, "speedup_2_over_1": medians["dask 1 worker"] / medians["dask 2 workers"],
              "speedup_2_over_local": medians["local"] / medians["dask 2 workers"], "artifact_sha256": digests.pop(),
              "cores": os.cpu_count(), "load_average_before": load_before, "load_average_after": load_after}
    for name, seconds in medians.items():
        print(f"{name:16} {seconds:7.2f} s (median of {args.repeat}: {', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"2 workers vs 1: {result['speedup_2_over_1']:.2f}x; 2 workers vs local: "
          f"{result['speedup_2_over_local']:.2f}x; load {load_before[0]:.2f} -> {load_after[0]:.2f}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "dask.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
