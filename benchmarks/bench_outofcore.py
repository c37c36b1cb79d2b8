"""Benchmark the DuckDB engine on data larger than the memory it may use (issue #19).

Generates a reference and a live Parquet source of ROWS rows each (default 30,000,000), written in parts
of 1,000,000 rows under a folder in /tmp (never in the repository; removed afterwards unless --keep):
10 numeric columns (one with 5% missing values), 3 categorical columns and a 0/1 label; the live data has
drift in num_0 (mean + 0.5 sd), num_3 (sd x 2) and cat_1 (frequencies reversed). Then each contender, in
its own process under a memory cap (a cgroup of --cap-mib, v2 or v1, where this machine lets us make one;
else RLIMIT_AS through prlimit; else no cap and only the measured peak), does the same three things:

  1. the contract check of the reference (types, ranges, allowed values, nulls, min_rows, a row rule);
  2. the reference profile (per column: quantile bins, null rate, sketch; category frequencies);
  3. drift of the live data against that profile (the monitor's defaults: wasserstein, jensen_shannon),
     with the live data's own contract check.

Contenders:
  - mlspec, engine duckdb (`runtime.duck`: SQL aggregates, memory limit, spill folder);
  - mlspec, engine pandas (`data.load` + `contract.check` + `profile` + `monitor._drift`): expected not to
    finish under the cap, which is recorded with how far it got;
  - Polars streaming (`scan_parquet(...).collect(engine="streaming")`), a peer, in its own virtualenv
    (not a dependency of mlspec):
        python3 -m venv /tmp/mlspec-bench-polars && /tmp/mlspec-bench-polars/bin/pip install polars pyarrow numpy

Records wall time and peak RSS (the process's own ru_maxrss, and the cgroup's peak, page cache included).
That the two engines agree (the same contract findings, drift within the stated bound) is tested on real
files by tests/e2e/test_duckdb_engine.py; here only the drifted columns each contender names are compared.

    .venv/bin/python benchmarks/bench_outofcore.py [--rows 30000000] [--cap-mib 1024] [--keep]
        [--polars-python /tmp/mlspec-bench-polars/bin/python] [--only duckdb,pandas,polars]

Prints a Markdown table and writes benchmarks/out/outofcore.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench_drift import peak_mb  # this folder is the script's own

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out" / "outofcore.json"
PART_ROWS = 1_000_000
NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = {"cat_0": 5, "cat_1": 12, "cat_2": 60}
DRIFTED = ["cat_1", "num_0", "num_3"]
SEED = 20261205


# ------------------------------------------------------------------------------------------------
# data and project
# ------------------------------------------------------------------------------------------------


def make_part(path: Path, rows: int, seed: int, live: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    arrays, names = [], []
    for i, name in enumerate(NUMERIC):
        loc, scale = float(i * 3), 1.0 + i % 3
        values = rng.normal(loc, scale, rows)
        if live and name == "num_0":
            values += 0.5 * scale
        if live and name == "num_3":
            values = loc + (values - loc) * 2.0
        mask = rng.random(rows) < 0.05 if name == "num_9" else None
        arrays.append(pa.array(values, mask=mask))
        names.append(name)
    for name, k in CATEGORICAL.items():
        labels = np.array([f"{name}_v{j:03d}" for j in range(k)])
        weights = np.linspace(1.0, 3.0, k)
        if live and name == "cat_1":
            weights = weights[::-1]
        arrays.append(pa.array(labels[rng.choice(k, rows, p=weights / weights.sum())]))
        names.append(name)
    arrays.append(pa.array((rng.random(rows) < 0.3).astype(np.int64)))
    names.append("label")
    pq.write_table(pa.table(arrays, names=names), path, row_group_size=250_000)


def make_data(folder: Path, rows: int) -> dict:
    started = time.perf_counter()
    for kind in ("reference", "live"):
        (folder / "data" / kind).mkdir(parents=True, exist_ok=True)
        for part in range((rows + PART_ROWS - 1) // PART_ROWS):
            path = folder / "data" / kind / f"part-{part:03d}.parquet"
            if not path.exists():
                make_part(path, min(PART_ROWS, rows - part * PART_ROWS), SEED + part * 2 + (kind == "live"),
                          kind == "live")
    write_spec(folder)
    size = {kind: sum(p.stat().st_size for p in (folder / "data" / kind).glob("*.parquet"))
            for kind in ("reference", "live")}
    return {"seconds": time.perf_counter() - started, "bytes": size}


def write_spec(folder: Path) -> None:
    schema = "".join(f"      {n}: {{type: float{', nullable: true' if n == 'num_9' else ''}, min: -100, max: 200}}\n"
                     for n in NUMERIC)
    for name, k in CATEGORICAL.items():
        schema += f"      {name}: {{type: category, values: [{', '.join(f'{name}_v{j:03d}' for j in range(k))}]}}\n"
    schema += "      label: {type: int, values: [0, 1]}\n"
    features = "".join(f"  f_{n}: {{source: reference, column: {n}, transform: standardize}}\n" for n in NUMERIC[:9])
    features += "".join(f"  f_{n}: {{source: reference, column: {n}, transform: one_hot}}\n" for n in CATEGORICAL)
    (folder / "specs").mkdir(exist_ok=True)
    checks = ("    checks:\n      min_rows: 1000\n      rows:\n"
              "        - {name: ordered, expr: \"num_1 >= num_0 - 50\"}\n")
    (folder / "specs" / "project.yaml").write_text(f"""apiVersion: mlspec/v1
project: {{name: bench-outofcore, python: "3.11", seed: 7}}
sources:
  reference:
    format: parquet
    path: data/reference/*.parquet
    engine: duckdb
    training: {{sample_rows: 200000}}
    schema:
{schema}{checks}  live:
    format: parquet
    path: data/live/*.parquet
    engine: duckdb
    schema:
{schema}{checks}features:
{features}models:
  m:
    task: classification
    source: reference
    label: label
    features: [{", ".join(f"f_{n}" for n in NUMERIC[:9] + list(CATEGORICAL))}]
    estimator: logistic_regression
    metrics: [roc_auc]
monitors:
  m_drift:
    model: m
    data: live
    schedule: "0 6 * * *"
    drift: {{prediction: false}}
    on_alert: [open_issue]
""", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# workers (each in a fresh process under the cap)
# ------------------------------------------------------------------------------------------------


def worker_duckdb(folder: Path) -> dict:
    from mlspec.api import load
    from mlspec.runtime.duck import contract, stats
    from mlspec.runtime.duck.scan import Scan, memory_limit

    manifest = load(folder).manifest
    node = manifest.nodes["monitor.m_drift"]
    reference, live = manifest.nodes["source.reference"], manifest.nodes["source.live"]
    times, out = {}, {"memory_limit": memory_limit()}
    started = time.perf_counter()
    with Scan(reference, folder) as scan:
        rows, failures = contract.check(reference, scan)
        times["contract_s"] = time.perf_counter() - started
        out["rows"], out["reference_findings"] = rows, [f.__dict__ for f in failures]
        mark = time.perf_counter()
        columns, approximation = stats.profile(scan, sorted(node.drift.columns), manifest.project.seed)
        times["profile_s"] = time.perf_counter() - mark
    profile = {"columns": columns}
    mark = time.perf_counter()
    with Scan(live, folder) as scan:
        _rows, live_failures = contract.check(live, scan)
        drifted, approximation = stats.drift(scan, node.drift, profile, manifest.project.seed)
    times["drift_s"] = time.perf_counter() - mark
    times["total_s"] = time.perf_counter() - started
    out.update(times)
    out["live_findings"] = [f.__dict__ for f in live_failures]
    out["flagged"] = sorted(d.column for d in drifted if d.verdict == "drift")
    out["scores"] = {d.column: d.score for d in drifted}
    out["approximation"] = approximation
    out["peak_rss_mb"] = peak_mb()
    return out


def worker_pandas(folder: Path) -> dict:
    from mlspec.api import load
    from mlspec.runtime import contract, data
    from mlspec.runtime.monitoring import monitor
    from mlspec.runtime.monitoring.profile import _categorical_profile, _numeric_profile

    manifest = load(folder).manifest
    node = manifest.nodes["monitor.m_drift"]
    started = time.perf_counter()
    progress = Path(os.environ["BENCH_PROGRESS"])
    progress.write_text("loading the reference")
    reference = data.load(_single(manifest.nodes["source.reference"], folder), folder)
    progress.write_text("checking the reference")
    failures = contract.check(manifest.nodes["source.reference"], reference)
    contract_s = time.perf_counter() - started
    progress.write_text("profiling the reference")
    columns = {n: (_numeric_profile(reference.frame[n]) if reference.frame[n].dtype.kind in "fiub"
                   else _categorical_profile(reference.frame[n])) for n in sorted(node.drift.columns)}
    profile_s = time.perf_counter() - started - contract_s
    del reference
    progress.write_text("loading the live data")
    live = data.load(_single(manifest.nodes["source.live"], folder), folder)
    live_failures = contract.check(manifest.nodes["source.live"], live)
    result = monitor._drift(node, manifest, live.frame, {"columns": columns}, None)
    total = time.perf_counter() - started
    return {"contract_s": contract_s, "profile_s": profile_s, "drift_s": total - contract_s - profile_s,
            "total_s": total, "rows": live.rows, "reference_findings": [f.__dict__ for f in failures],
            "live_findings": [f.__dict__ for f in live_failures], "flagged": sorted(result["drifted"]),
            "scores": {c["column"]: c["score"] for c in result["columns"]}, "peak_rss_mb": peak_mb()}


def _single(node, folder: Path):
    """The pandas engine reads one file: the parts concatenated into one Parquet file beforehand (not timed)."""
    name = Path(node.path).parent.name
    return node.model_copy(update={"path": f"data/{name}.parquet", "engine": "pandas"})


def concat_parts(folder: Path) -> None:
    """One Parquet file per source for the pandas engine, written part by part (a streaming writer)."""
    import pyarrow.parquet as pq

    for kind in ("reference", "live"):
        target = folder / "data" / f"{kind}.parquet"
        if target.exists():
            continue
        parts = sorted((folder / "data" / kind).glob("*.parquet"))
        with pq.ParquetWriter(target, pq.read_schema(parts[0])) as writer:
            for part in parts:
                writer.write_table(pq.read_table(part))


POLARS = r'''
import json, resource, sys, time
import numpy as np
import polars as pl
folder, numeric, categorical = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
started = time.perf_counter()
def scan(kind):
    return pl.scan_parquet(f"{folder}/data/{kind}/*.parquet")
def contract(kind):
    checks = [pl.len().alias("rows")]
    for n in numeric:
        checks += [pl.col(n).is_null().sum().alias(f"{n}:nulls"), (pl.col(n) < -100).sum().alias(f"{n}:min"),
                   (pl.col(n) > 200).sum().alias(f"{n}:max"), pl.col(n).is_infinite().sum().alias(f"{n}:inf")]
    for n in categorical:
        checks.append(pl.col(n).is_null().sum().alias(f"{n}:nulls"))
    checks.append((~(pl.col("num_1") >= pl.col("num_0") - 50)).sum().alias("rule:ordered"))
    return scan(kind).select(checks).collect(engine="streaming").row(0, named=True)
ref_contract = contract("reference")
contract_s = time.perf_counter() - started
mark = time.perf_counter()
# the profile: deciles (streaming quantiles where polars offers them), mean, std, category counts
aggs = []
for n in numeric:
    aggs += [pl.col(n).quantile(q / 10, "linear").alias(f"{n}:q{q}") for q in range(1, 10)]
    aggs += [pl.col(n).mean().alias(f"{n}:mean"), pl.col(n).std(ddof=0).alias(f"{n}:std")]
stats = scan("reference").select(aggs).collect(engine="streaming").row(0, named=True)
freq = {n: dict(scan("reference").group_by(n).len().collect(engine="streaming").iter_rows()) for n in categorical}
profile_s = time.perf_counter() - mark
mark = time.perf_counter()
live_contract = contract("live")
psi, flagged = {}, []
for n in numeric:
    edges = sorted({stats[f"{n}:q{q}"] for q in range(1, 10)})
    ref_q = np.full(len(edges) + 1, 0.1)
    cuts = [(pl.col(n) < e).sum().alias(f"b{i}") for i, e in enumerate(edges)] + [pl.col(n).count().alias("n")]
    row = scan("live").select(cuts).collect(engine="streaming").row(0, named=True)
    below = np.array([row[f"b{i}"] for i in range(len(edges))] + [row["n"]], float)
    live_q = np.diff(below, prepend=0) / row["n"]
    p, q = np.clip(ref_q, 1e-4, None), np.clip(live_q, 1e-4, None)
    psi[n] = float(np.sum((q - p) * np.log(q / p)))
for n in categorical:
    live = dict(scan("live").group_by(n).len().collect(engine="streaming").iter_rows())
    keys = sorted(set(freq[n]) | set(live))
    p = np.array([freq[n].get(k, 0) for k in keys], float); q = np.array([live.get(k, 0) for k in keys], float)
    p, q = np.clip(p / p.sum(), 1e-4, None), np.clip(q / q.sum(), 1e-4, None)
    psi[n] = float(np.sum((q - p) * np.log(q / p)))
flagged = sorted(n for n, v in psi.items() if v > 0.1)
drift_s = time.perf_counter() - mark
print(json.dumps({"version": pl.__version__, "contract_s": contract_s, "profile_s": profile_s, "drift_s": drift_s,
                  "total_s": time.perf_counter() - started, "rows": ref_contract["rows"], "flagged": flagged,
                  "scores": psi, "method": "psi over the reference deciles (0.1)",
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


# ------------------------------------------------------------------------------------------------
# running under a cap
# ------------------------------------------------------------------------------------------------


class Cap:
    """A memory cap for one child process: a fresh cgroup (v2 or v1) below this process's own when this
    machine lets us make one, else RLIMIT_AS through prlimit, else none (the peak is only measured)."""

    def __init__(self, mib: int) -> None:
        self.mib, self.folder, self.kind = mib, None, "none"
        limit = str(mib << 20)
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _id, controllers, path = line.split(":", 2)
            if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
                base, files = Path("/sys/fs/cgroup") / path.lstrip("/"), ("memory.max", "memory.swap.max")
            elif "memory" in controllers.split(","):
                base, files = Path("/sys/fs/cgroup/memory") / path.lstrip("/"), ("memory.limit_in_bytes",)
            else:
                continue
            folder = base / f"mlspec-bench-{os.getpid()}"
            try:
                folder.mkdir()
                for name in files:
                    (folder / name).write_text(limit if name != "memory.swap.max" else "0")
            except OSError:
                shutil.rmtree(folder, ignore_errors=True) if folder.exists() else None
                continue
            self.folder, self.kind = folder, "cgroup v2" if files[0] == "memory.max" else "cgroup v1"
            return
        if shutil.which("prlimit"):
            self.kind = "RLIMIT_AS (prlimit)"

    def command(self, argv: list[str]) -> list[str]:
        if self.folder is not None:  # join the cgroup, then become the contender
            return ["sh", "-c", f'echo $$ > "{self.folder}/cgroup.procs" && exec "$@"', "sh", *argv]
        if self.kind.startswith("RLIMIT"):
            return ["prlimit", f"--as={self.mib << 20}", *argv]
        return argv

    def peak_mb(self) -> float | None:
        if self.folder is None:
            return None
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            if (self.folder / name).exists():
                return int((self.folder / name).read_text()) / 2**20
        return None

    def reset(self) -> None:
        if self.folder is not None and (self.folder / "memory.max_usage_in_bytes").exists():
            (self.folder / "memory.max_usage_in_bytes").write_text("0")

    def close(self) -> None:
        if self.folder is not None:
            self.folder.rmdir()


def run(cap: Cap, argv: list[str], env: dict | None = None, timeout: float = 3600) -> dict:
    cap.reset()
    progress = Path(f"/tmp/mlspec-bench-progress-{os.getpid()}")
    progress.write_text("starting")
    started = time.perf_counter()
    child = subprocess.Popen(cap.command(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {}), "BENCH_PROGRESS": str(progress)}, cwd=REPO)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    wall = time.perf_counter() - started
    got = {"wall_s": wall, "exit": child.returncode, "cgroup_peak_mb": cap.peak_mb(),
           "reached": progress.read_text()}
    progress.unlink(missing_ok=True)
    if child.returncode == 0:
        got.update(json.loads(out.strip().splitlines()[-1]))
    else:
        tail = err.strip().splitlines()[-1:] if err.strip() else []
        got["error"] = ("killed (SIGKILL: the memory cap)" if child.returncode in (-9, 137)
                        else (tail[0] if tail else f"exit {child.returncode}"))
    return got


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=30_000_000)
    parser.add_argument("--cap-mib", type=int, default=1024)
    parser.add_argument("--folder", default="/tmp/mlspec-bench-outofcore")
    parser.add_argument("--polars-python", default="/tmp/mlspec-bench-polars/bin/python")
    parser.add_argument("--only", default="duckdb,pandas,polars")
    parser.add_argument("--keep", action="store_true", help="keep the generated data for another run")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, folder = args.worker
        print(json.dumps({"duckdb": worker_duckdb, "pandas": worker_pandas}[name](Path(folder)), default=str))
        return 0
    folder = Path(args.folder)
    earlier = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                           "load_average_at_start": os.getloadavg()},
               "rows": args.rows, "cap_mib": args.cap_mib}
    print(f"generating {args.rows:,} rows x 2 in parts of {PART_ROWS:,} under {folder} ...", flush=True)
    results["data"] = make_data(folder, args.rows)
    cap = Cap(args.cap_mib)
    results["cap"] = cap.kind
    chosen = args.only.split(",")
    try:
        if "duckdb" in chosen:
            print("duckdb ...", flush=True)
            results["duckdb"] = run(cap, [sys.executable, __file__, "--worker", "duckdb", str(folder)])
        if "pandas" in chosen:
            concat_parts(folder)
            print("pandas ...", flush=True)
            results["pandas"] = run(cap, [sys.executable, __file__, "--worker", "pandas", str(folder)])
        if "polars" in chosen:
            print("polars ...", flush=True)
            if Path(args.polars_python).exists():
                script = folder / "polars_peer.py"
                script.write_text(POLARS)
                results["polars"] = run(cap, [args.polars_python, str(script), str(folder), ",".join(NUMERIC),
                                              ",".join(CATEGORICAL)])
            else:
                results["polars"] = {"error": f"{args.polars_python} not found (see the docstring)"}
    finally:
        cap.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    for name in ("duckdb", "pandas", "polars"):  # contenders not run now keep an earlier run's figures
        if name not in chosen and name in earlier and earlier.get("rows") == args.rows:
            results[name] = {**earlier[name], "from_an_earlier_run": True}
    report(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    print(f"\nWrote {OUT.relative_to(REPO)}")
    return 0


def report(results: dict) -> None:
    print(f"\n### {results['rows']:,} rows x 14 columns, Parquet in parts; cap {results['cap_mib']} MiB "
          f"({results['cap']})\n")
    print("| contender | contract (s) | profile (s) | drift (s) | total (s) | peak RSS (MB) | cgroup peak (MB) | "
          "flagged |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("duckdb", "pandas", "polars"):
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            print(f"| {name} | did not finish: {r['error']} (at: {r.get('reached', '?')}, after "
                  f"{r.get('wall_s', 0):.0f} s) | | | | | {r.get('cgroup_peak_mb') or 0:.0f} | |")
            continue
        print(f"| {name} | {r['contract_s']:.1f} | {r['profile_s']:.1f} | {r['drift_s']:.1f} | {r['total_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} | {r.get('cgroup_peak_mb') or 0:.0f} | {', '.join(r['flagged'])} |")


if __name__ == "__main__":
    sys.exit(main())
