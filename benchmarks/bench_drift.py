"""Benchmark mlspec's drift detection: is it sound with the default settings, and is it fast?

(a) Soundness, synthetic and seeded, with the monitor's DEFAULT settings (read from
    `mlspec.spec.v1.monitors.Drift()`: wasserstein at 0.1 for numeric columns, jensen_shannon at 0.1 for
    categorical ones): a reference profile of 100,000 rows x 25 standard-normal features, built with
    `mlspec.runtime.monitoring.profile._numeric_profile` as training does; then
      - 200 clean windows of 50,000 rows: how many windows flag any feature (false-alert rate, goal <= 5%);
      - 200 windows with one feature's mean shifted by 0.25 standard deviations: how many flag that feature,
        i.e. the report names it (goal >= 95%), and how many name only it;
    and the same windows scored with psi at 0.2 for comparison.

(b) Speed, side by side in one run on the same Parquet files (1,000,000 rows x 20 numeric + 5 categorical
    columns, reference and live, drift injected in 3 live columns; generated with numpy, written with
    pyarrow). Each contender runs in its own fresh process, so its peak memory (ru_maxrss) is its own:
      - mlspec: the reference profile (what training stores), then what `mlspec monitor` does with the live
        batch: `data.load` (sha256 fingerprint, typed columns) + `monitor._drift` over all 25 columns with the
        default settings; also the bare core (pandas read + `drift.numeric`/`drift.categorical`);
      - the floor: plain numpy + pyarrow, no mlspec: per column PSI + KS with one sort per column (the
        reference sorted once, the live values once) and category counts from pyarrow;
      - the whole CLI: `mlspec monitor` in a project whose champion was trained on the reference file
        (interpreter start, imports, the data contract check, the drift report in JSON, Markdown, HTML);
      - Evidently's DataDriftPreset, in a separate virtualenv (Evidently 0.7 does not import under pandas 3):
            python3 -m venv /tmp/evvenv && /tmp/evvenv/bin/pip install evidently "pandas<3" pyarrow
        run as a subprocess with a 600 s timeout; the columns it flags are parsed from its result.
    Goals: the same drifted columns found; `mlspec monitor`, the whole command, >= 30x faster than Evidently's
    read + report (shown too: mlspec's monitoring path alone, and with the reference profile that training
    builds once); mlspec's live path within 1.5x of the floor's (Parquet read included in both).

    .venv/bin/python benchmarks/bench_drift.py [--rows 1000000] [--repeat 3] [--windows 200]
        [--evidently-python /tmp/evvenv/bin/python] [--no-cli] [--no-evidently]

Prints Markdown tables and writes benchmarks/out/drift.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out" / "drift.json"
NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
CARDINALITY = [4, 8, 16, 40, 100]
DRIFTED = {"num_00": "mean + 0.5 sd", "num_07": "sd x 2", "cat_2": "frequencies reversed"}
SEED = 20240601


# ------------------------------------------------------------------------------------------------
# (a) soundness
# ------------------------------------------------------------------------------------------------


def defaults() -> dict:
    from mlspec.lang.metrics import DRIFT_DEFAULT_THRESHOLDS
    from mlspec.runtime.monitoring.drift import CATEGORICAL_FALLBACK
    from mlspec.spec.v1.monitors import Drift

    spec = Drift()
    threshold = spec.threshold if spec.threshold is not None else DRIFT_DEFAULT_THRESHOLDS[spec.method]
    categorical = CATEGORICAL_FALLBACK.get(spec.method, spec.method)
    return {"method": spec.method, "threshold": threshold, "min_rows": spec.min_rows,
            "categorical_method": categorical, "categorical_threshold": DRIFT_DEFAULT_THRESHOLDS[categorical]}


def soundness(windows: int, features: int = 25, reference_rows: int = 100_000, window_rows: int = 50_000,
              shift: float = 0.25) -> dict:
    from mlspec.runtime.monitoring import drift
    from mlspec.runtime.monitoring.profile import _numeric_profile

    settings = defaults()
    methods = {"default": (settings["method"], settings["threshold"]), "psi": ("psi", 0.2)}
    rng = np.random.default_rng(SEED)
    reference = rng.standard_normal((reference_rows, features))
    profiles = [_numeric_profile(reference[:, j]) for j in range(features)]
    results = {name: {"method": m, "threshold": t, "clean_windows_alerting": 0, "shift_windows_alerting": 0,
                      "shift_feature_named": 0, "only_shift_feature_named": 0, "clean_max_score": 0.0,
                      "shift_scores": []} for name, (m, t) in methods.items()}
    started = time.perf_counter()
    for w in range(windows):
        clean = rng.standard_normal((window_rows, features))
        shifted = rng.standard_normal((window_rows, features))
        target = w % features  # the shifted feature rotates over the windows
        shifted[:, target] += shift
        for name, (method, threshold) in methods.items():
            r = results[name]
            verdicts = [drift.numeric(f"f{j}", profiles[j], clean[:, j], method, threshold, settings["min_rows"])
                        for j in range(features)]
            named = [v.column for v in verdicts if v.verdict == "drift"]  # the report's `drifted` list
            r["clean_windows_alerting"] += bool(named)
            r["clean_max_score"] = max(r["clean_max_score"], max(v.score for v in verdicts))
            verdicts = [drift.numeric(f"f{j}", profiles[j], shifted[:, j], method, threshold, settings["min_rows"])
                        for j in range(features)]
            named = [v.column for v in verdicts if v.verdict == "drift"]
            r["shift_windows_alerting"] += bool(named)
            r["shift_feature_named"] += f"f{target}" in named
            r["only_shift_feature_named"] += named == [f"f{target}"]
            r["shift_scores"].append(verdicts[target].score)
    for r in results.values():
        scores = r.pop("shift_scores")
        r["shift_score_median"] = float(np.median(scores))
        r["false_alert_rate"] = r["clean_windows_alerting"] / windows
        r["detection_rate"] = r["shift_feature_named"] / windows
    return {"settings": settings, "windows": windows, "features": features, "reference_rows": reference_rows,
            "window_rows": window_rows, "shift_sd": shift, "seconds": round(time.perf_counter() - started, 1),
            "results": results}


# ------------------------------------------------------------------------------------------------
# (b) speed: data
# ------------------------------------------------------------------------------------------------


def make_data(folder: Path, rows: int) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    paths = {}
    for kind in ("reference", "live"):
        arrays, names = [], []
        for i, name in enumerate(NUMERIC):
            loc, scale = (i % 5) * 10.0, 1.0 + i % 3
            values = rng.normal(loc, scale, rows)
            if kind == "live" and name == "num_00":
                values += 0.5 * scale
            if kind == "live" and name == "num_07":
                values = loc + (values - loc) * 2.0
            arrays.append(pa.array(values))
            names.append(name)
        for name, k in zip(CATEGORICAL, CARDINALITY, strict=True):
            labels = np.array([f"{name}_v{j:03d}" for j in range(k)])
            weights = np.linspace(1.0, 3.0, k)
            if kind == "live" and name == "cat_2":
                weights = weights[::-1]
            arrays.append(pa.array(labels[rng.choice(k, rows, p=weights / weights.sum())]))
            names.append(name)
        signal = np.asarray(arrays[5]) / 3.0  # num_05 ~ N(0, 3)
        arrays.append(pa.array((rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(np.int64)))
        names.append("label")
        paths[kind] = folder / "data" / f"{kind}.parquet"
        paths[kind].parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(arrays, names=names), paths[kind])
    write_spec(folder)
    return paths


def write_spec(folder: Path) -> None:
    """A project whose monitor uses the default drift settings on the live file (for mlspec's workers)."""
    schema = "".join(f"      {n}: {{type: float}}\n" for n in NUMERIC)
    for name, k in zip(CATEGORICAL, CARDINALITY, strict=True):
        schema += f"      {name}: {{type: category, values: [{', '.join(f'{name}_v{j:03d}' for j in range(k))}]}}\n"
    schema += "      label: {type: int, values: [0, 1]}\n"
    features = "".join(f"  f_{n}: {{source: reference, column: {n}, transform: standardize}}\n" for n in NUMERIC)
    features += "".join(f"  f_{n}: {{source: reference, column: {n}, transform: one_hot}}\n" for n in CATEGORICAL)
    (folder / "specs").mkdir(exist_ok=True)
    (folder / "specs" / "project.yaml").write_text(f"""apiVersion: mlspec/v1
project: {{name: bench-drift, python: "3.11", seed: 7}}
sources:
  reference:
    format: parquet
    path: data/reference.parquet
    schema:
{schema}  live:
    format: parquet
    path: data/live.parquet
    schema:
{schema}features:
{features}models:
  m:
    task: classification
    source: reference
    label: label
    features: [{", ".join(f"f_{n}" for n in NUMERIC + CATEGORICAL)}]
    estimator: logistic_regression
    params: {{max_iter: 200}}
    metrics: [roc_auc]
gates:
  m_release:
    model: m
    require: ["roc_auc >= 0.5"]
    first_run: skip_champion_checks
monitors:
  m_drift:
    model: m
    data: live
    schedule: "0 6 * * *"
    drift: {{prediction: false}}
    on_alert: [open_issue]
""", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# (b) speed: workers, each in a fresh process
# ------------------------------------------------------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_mlspec(folder: Path) -> dict:
    """Profile the reference as training does, then the monitor's path over the live file."""
    started = time.perf_counter()
    import pandas as pd
    import pyarrow.parquet  # noqa: F401 - imported before timing, as the floor's worker does

    from mlspec.api import load
    from mlspec.runtime import data
    from mlspec.runtime.monitoring import drift, monitor
    from mlspec.runtime.monitoring.profile import _categorical_profile, _numeric_profile

    project = load(folder)
    manifest = project.manifest
    node = manifest.nodes["monitor.m_drift"]
    imported = time.perf_counter()

    reference = data.load(manifest.nodes["source.reference"], folder).frame
    columns = {}
    for name in NUMERIC + CATEGORICAL:
        series = reference[name]
        columns[name] = _numeric_profile(series) if series.dtype.kind in "fiub" else _categorical_profile(series)
    profile = {"columns": columns, "prediction": None, "bins": 10}
    del reference
    profiled = time.perf_counter()

    dataset = data.load(manifest.nodes["source.live"], folder)  # reads the bytes, sha256, typed columns
    loaded = time.perf_counter()
    result = monitor._drift(node, manifest, dataset.frame, profile, None)
    done = time.perf_counter()

    # the bare core on the same file: pandas read + the drift functions, nothing else
    core_started = time.perf_counter()
    frame = pd.read_parquet(folder / "data" / "live.parquet")
    core = {}
    settings = node.drift  # each column's measure and threshold, resolved by the compiler
    for name in NUMERIC + CATEGORICAL:
        values, setting = frame[name], settings.columns[name]
        if name in NUMERIC:
            r = drift.numeric(name, columns[name], values.to_numpy(dtype=float, na_value=np.nan), setting.method,
                              setting.threshold, settings.min_rows)
        else:
            r = drift.categorical(name, columns[name], values.astype(object).where(values.notna(), None).to_numpy(),
                                  setting.method, setting.threshold, settings.min_rows)
        core[name] = r.verdict
    core_done = time.perf_counter()
    return {"import_and_load_specs_s": imported - started, "reference_profile_s": profiled - imported,
            "live_read_s": loaded - profiled, "live_drift_s": done - loaded, "live_total_s": done - profiled,
            "core_live_s": core_done - core_started,
            "flagged": sorted(result["drifted"]), "core_flagged": sorted(k for k, v in core.items() if v == "drift"),
            "scores": {c["column"]: round(c["score"], 4) for c in result["columns"]},
            "methods": sorted({f"{c['method']}@{c['threshold']}" for c in result["columns"]}),
            "peak_rss_mb": peak_mb(), "load_average": os.getloadavg()[0]}


def worker_floor(folder: Path) -> dict:
    """numpy + pyarrow only: PSI (10 reference-decile bins) and KS per numeric column, one sort per column;
    PSI over category counts. A column is flagged when PSI > 0.2 (or KS > 0.1 for numeric columns)."""
    started = time.perf_counter()
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    imported = time.perf_counter()
    eps = 1e-4

    def psi(p, q):
        p, q = np.clip(p, eps, None), np.clip(q, eps, None)
        return float(np.sum((q - p) * np.log(q / p)))

    table = pq.read_table(folder / "data" / "reference.parquet", columns=NUMERIC + CATEGORICAL)
    ref = {}
    for name in NUMERIC:
        values = np.sort(table.column(name).to_numpy())
        edges = np.quantile(values, np.linspace(0, 1, 11)[1:-1])  # values already sorted
        counts = np.diff(np.concatenate([[0], np.searchsorted(values, edges, side="right"), [len(values)]]))
        ref[name] = (values, edges, counts / len(values))
    for name in CATEGORICAL:
        counts = pc.value_counts(table.column(name))
        ref[name] = {k.as_py(): v.as_py() / len(table) for k, v in zip(counts.field("values"),
                                                                       counts.field("counts"), strict=True)}
    del table
    profiled = time.perf_counter()

    live = pq.read_table(folder / "data" / "live.parquet", columns=NUMERIC + CATEGORICAL)
    loaded = time.perf_counter()
    scores, flagged = {}, []
    for name in NUMERIC:
        sorted_ref, edges, p = ref[name]
        values = live.column(name).to_numpy()
        values = np.sort(values[~np.isnan(values)])  # the one sort of the live column
        cuts = np.searchsorted(values, edges, side="right")
        q = np.diff(np.concatenate([[0], cuts, [len(values)]])) / len(values)
        # KS: both samples sorted, so each empirical CDF is known at its own points by rank; one binary
        # search per point gives the other CDF there (exact without ties, as with continuous data)
        n, m = len(values), len(sorted_ref)
        at_live = np.arange(1, n + 1) / n - np.searchsorted(sorted_ref, values, side="right") / m
        at_ref = np.arange(1, m + 1) / m - np.searchsorted(values, sorted_ref, side="right") / n
        ks = float(max(np.abs(at_live).max(), np.abs(at_ref).max()))
        scores[name] = {"psi": round(psi(p, q), 4), "ks": round(ks, 4)}
        if scores[name]["psi"] > 0.2 or ks > 0.1:
            flagged.append(name)
    for name in CATEGORICAL:
        counts = pc.value_counts(live.column(name))
        observed = {k.as_py(): v.as_py() / len(live) for k, v in zip(counts.field("values"), counts.field("counts"),
                                                                      strict=True)}
        keys = sorted(set(ref[name]) | set(observed))
        value = psi(np.array([ref[name].get(k, 0.0) for k in keys]), np.array([observed.get(k, 0.0) for k in keys]))
        scores[name] = {"psi": round(value, 4)}
        if value > 0.2:
            flagged.append(name)
    done = time.perf_counter()
    return {"import_s": imported - started, "reference_profile_s": profiled - imported,
            "live_read_s": loaded - profiled, "live_drift_s": done - loaded, "live_total_s": done - profiled,
            "flagged": sorted(flagged), "scores": scores, "peak_rss_mb": peak_mb(), "load_average": os.getloadavg()[0]}


EVIDENTLY = r'''
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
imported = time.perf_counter()
folder, numeric, categorical = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
reference = pd.read_parquet(folder + "/data/reference.parquet", columns=numeric + categorical)
live = pd.read_parquet(folder + "/data/live.parquet", columns=numeric + categorical)
loaded = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(live, data_definition=definition),
                                           Dataset.from_pandas(reference, data_definition=definition))
done = time.perf_counter()
flagged, scores, methods = [], {}, set()
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type", "").endswith("ValueDrift"):
        value, threshold, method = metric["value"], config["threshold"], config["method"]
        scores[config["column"]] = round(float(value), 4)
        methods.add(f"{method}@{threshold}")
        is_p_value = "p_value" in method.lower() or "test" in method.lower()
        if (value < threshold) if is_p_value else (value >= threshold):
            flagged.append(config["column"])
import evidently
print(json.dumps({"version": evidently.__version__, "pandas": pd.__version__, "import_s": imported - started,
                  "read_s": loaded - imported, "report_s": done - loaded, "total_s": done - imported,
                  "flagged": sorted(flagged), "scores": scores, "methods": sorted(methods),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run_worker(name: str, folder: Path, timeout: float = 600) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", name, str(folder)], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_evidently(python: str, folder: Path) -> dict:
    if not Path(python).exists():
        return {"error": f"{python} not found (install: python3 -m venv /tmp/evvenv && /tmp/evvenv/bin/pip install "
                         "evidently 'pandas<3' pyarrow)"}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(EVIDENTLY)
    try:
        started = time.perf_counter()
        done = subprocess.run([python, handle.name, str(folder), ",".join(NUMERIC), ",".join(CATEGORICAL)],
                              capture_output=True, text=True, timeout=600, check=False)
        wall = time.perf_counter() - started
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 600 s"}
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def own_peak(argv: list[str], env: dict) -> tuple[int, int]:
    """Run a command; its exit code and the peak RSS (KB) of it and its descendants, from wait4 on that child.

    getrusage(RUSAGE_CHILDREN) keeps the largest child this process ever waited for, so after the training
    run (which peaks near 4 GB) it reported that run's peak as the monitor's."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_maxrss


def mlspec_cli(folder: Path, repeat: int) -> dict:
    """Train a champion on the reference file once (setup, not timed), then time `mlspec monitor`."""
    mlspec = str(REPO / ".venv" / "bin" / "mlspec")
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    started = time.perf_counter()
    trained = subprocess.run([mlspec, "-C", str(folder), "run", "--approve"], capture_output=True, text=True,
                             timeout=1800, check=False, env=env)
    setup = time.perf_counter() - started
    if trained.returncode != 0:
        return {"error": "mlspec run failed: " + trained.stderr[-1500:]}
    walls, peaks, code = [], [], None
    for _ in range(repeat):
        started = time.perf_counter()
        code, peak_kb = own_peak([mlspec, "-C", str(folder), "monitor"], env)
        walls.append(time.perf_counter() - started)
        peaks.append(peak_kb)
    report = json.loads((folder / ".mlspec" / "reports" / "monitor.m_drift" / "report.json").read_text())
    return {"setup_run_s": setup, "monitor_wall_s": statistics.median(walls), "runs": walls, "exit_code": code,
            "flagged": sorted(report["drift"]["drifted"]), "peak_rss_mb_max_child": max(peaks) / 1024,
            "note": "includes interpreter start, imports, spec validation, contract check (pandera), scoring the "
                    "batch with the champion and writing the reports"}


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def print_soundness(s: dict) -> None:
    st = s["settings"]
    print(f"\n### (a) Soundness: {s['windows']} windows of {s['window_rows']:,} rows x {s['features']} features, "
          f"reference {s['reference_rows']:,} rows; shift {s['shift_sd']} sd in one feature ({s['seconds']} s)\n")
    print(f"Defaults from `Drift()`: numeric {st['method']} @ {st['threshold']}, categorical "
          f"{st['categorical_method']} @ {st['categorical_threshold']}, min_rows {st['min_rows']}.\n")
    print("| method @ threshold | false-alert windows (goal <= 5%) | max clean score | windows alerting (shift) "
          "| shifted feature named (goal >= 95%) | only it named | median score of shifted feature |")
    print("|---|---|---|---|---|---|---|")
    for name, r in s["results"].items():
        label = f"{r['method']} @ {r['threshold']}" + (" (default)" if name == "default" else "")
        print(f"| {label} | {r['clean_windows_alerting']}/{s['windows']} ({pct(r['false_alert_rate'])}) | "
              f"{r['clean_max_score']:.4f} | {r['shift_windows_alerting']}/{s['windows']} | "
              f"{r['shift_feature_named']}/{s['windows']} ({pct(r['detection_rate'])}) | "
              f"{r['only_shift_feature_named']}/{s['windows']} | {r['shift_score_median']:.4f} |")


def print_speed(b: dict) -> None:
    m, f, ev, cli = b["mlspec"], b["floor"], b.get("evidently") or {}, b.get("cli") or {}
    print(f"\n### (b) Speed: {b['rows']:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical, Parquet "
          f"(reference {b['reference_mb']:.0f} MB, live {b['live_mb']:.0f} MB); drift injected in "
          f"{', '.join(sorted(DRIFTED))}; median of {b['repeat']} fresh processes\n")
    print("| contender | reference step (s) | live: read (s) | live: drift (s) | live total (s) | "
          "reference + live (s) | peak RSS (MB) | flagged columns |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| mlspec (monitor path: data.load + monitor._drift) | {m['reference_profile_s']:.2f} | "
          f"{m['live_read_s']:.2f} | {m['live_drift_s']:.2f} | {m['live_total_s']:.2f} | "
          f"{m['reference_profile_s'] + m['live_total_s']:.2f} | {m['peak_rss_mb']:.0f} | {', '.join(m['flagged'])} |")
    print(f"| mlspec core (pd.read_parquet + drift functions) | (same) | | | {m['core_live_s']:.2f} | | | "
          f"{', '.join(m['core_flagged'])} |")
    print(f"| numpy floor (pyarrow read + PSI + KS, one sort per column) | {f['reference_profile_s']:.2f} | "
          f"{f['live_read_s']:.2f} | {f['live_drift_s']:.2f} | {f['live_total_s']:.2f} | "
          f"{f['reference_profile_s'] + f['live_total_s']:.2f} | {f['peak_rss_mb']:.0f} | {', '.join(f['flagged'])} |")
    if "error" in ev:
        print(f"| Evidently DataDriftPreset | not run: {ev['error']} | | | | | | |")
    elif ev:
        print(f"| Evidently {ev['version']} DataDriftPreset (pandas {ev['pandas']}) | (needs the raw reference) | "
              f"{ev['read_s']:.2f} (both files) | {ev['report_s']:.2f} | | {ev['total_s']:.2f} | "
              f"{ev['peak_rss_mb']:.0f} | {', '.join(ev['flagged'])} |")
    if "error" in cli:
        print(f"| `mlspec monitor` (whole CLI) | not run: {cli['error'][:200]} | | | | | | |")
    elif cli:
        print(f"| `mlspec monitor` (whole CLI, see note) | (trained once: {cli['setup_run_s']:.0f} s) | | | "
              f"{cli['monitor_wall_s']:.2f} | | {cli['peak_rss_mb_max_child']:.0f} | {', '.join(cli['flagged'])} |")
    g = b["goals"]
    print("\n| goal | value | met |")
    print("|---|---|---|")
    for row in g:
        print(f"| {row['goal']} | {row['value']} | {'yes' if row['met'] else 'NO'} |")


def goals(b: dict) -> list[dict]:
    m, f, ev = b["mlspec"], b["floor"], b.get("evidently") or {}
    expected = sorted(DRIFTED)
    rows = [{"goal": "mlspec flags exactly the drifted columns", "value": ", ".join(m["flagged"]),
             "met": m["flagged"] == expected},
            {"goal": "the floor flags exactly the drifted columns", "value": ", ".join(f["flagged"]),
             "met": f["flagged"] == expected}]
    if "flagged" in ev:
        rows.append({"goal": "Evidently flags the same columns", "value": ", ".join(ev["flagged"]),
                     "met": ev["flagged"] == expected})
        cli = b.get("cli") or {}
        if "monitor_wall_s" in cli:
            # the goal's contender: the whole command (interpreter start, imports, contract check, reports)
            # against Evidently's read + report (its imports and interpreter start not counted)
            wall = cli["monitor_wall_s"]
            rows.append({"goal": "`mlspec monitor` (whole command) >= 30x faster than Evidently (read + report)",
                         "value": f"{ev['total_s'] / wall:.1f}x ({ev['total_s']:.2f} s vs {wall:.2f} s)",
                         "met": ev["total_s"] / wall >= 30})
        rows.append({"goal": "(monitoring path only: mlspec's live read + drift vs Evidently's read + report)",
                     "value": f"{ev['total_s'] / m['live_total_s']:.1f}x",
                     "met": ev["total_s"] / m["live_total_s"] >= 30})
        ours = m["reference_profile_s"] + m["live_total_s"]
        rows.append({"goal": "(also counting the reference profile, which mlspec builds once at training)",
                     "value": f"{ev['total_s'] / ours:.1f}x ({ev['total_s']:.2f} s vs {ours:.2f} s)",
                     "met": ev["total_s"] / ours >= 30})
    ratio = m["live_total_s"] / f["live_total_s"]
    rows.append({"goal": "mlspec live path within 1.5x of the floor (Parquet read + drift)",
                 "value": f"{ratio:.2f}x ({m['live_total_s']:.2f} s vs {f['live_total_s']:.2f} s)",
                 "met": ratio <= 1.5})
    core = m["core_live_s"] / f["live_total_s"]
    rows.append({"goal": "(mlspec core without data.load's sha256 + type conversion, vs the floor)",
                 "value": f"{core:.2f}x", "met": core <= 1.5})
    return rows


def median_runs(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            out[key] = statistics.median(r[key] for r in runs)
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--evidently-python", default="/tmp/evvenv/bin/python")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--part", choices=["all", "soundness", "speed"], default="all",
                        help="Run one part only; the other part's figures are kept from an earlier drift.json.")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, folder = args.worker
        print(json.dumps((worker_mlspec if name == "mlspec" else worker_floor)(Path(folder))))
        return 0

    results: dict = json.loads(OUT.read_text(encoding="utf-8")) if args.part != "all" and OUT.exists() else {}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform(), "load_average_at_start": os.getloadavg()}
    if args.part in ("all", "soundness"):
        results["soundness"] = soundness(args.windows)
    if "soundness" in results:
        print_soundness(results["soundness"])
    if args.part == "soundness":
        return write(results)

    with tempfile.TemporaryDirectory(prefix="mlspec-bench-drift-") as tmp:
        folder = Path(tmp)
        paths = make_data(folder, args.rows)
        speed = {"rows": args.rows, "repeat": args.repeat, "drifted": DRIFTED,
                 "reference_mb": paths["reference"].stat().st_size / 1e6, "live_mb": paths["live"].stat().st_size / 1e6}
        runs = {"mlspec": [], "floor": []}
        for _ in range(args.repeat):  # alternate, so machine noise hits both alike
            for name in runs:
                runs[name].append(run_worker(name, folder))
        speed["mlspec"], speed["floor"] = median_runs(runs["mlspec"]), median_runs(runs["floor"])
        speed["mlspec_runs"] = [r["live_total_s"] for r in runs["mlspec"]]
        speed["floor_runs"] = [r["live_total_s"] for r in runs["floor"]]
        if not args.no_evidently:
            speed["evidently"] = run_evidently(args.evidently_python, folder)
        if not args.no_cli:
            speed["cli"] = mlspec_cli(folder, repeat=min(args.repeat, 2))
        speed["goals"] = goals(speed)
        results["speed"] = speed
        print_speed(speed)
    return write(results)


def write(results: dict) -> int:
    results["machine"]["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"\nWrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
