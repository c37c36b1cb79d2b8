"""Benchmark `mlspec validate` on generated projects of 100, 1,000 and 10,000 models.

For each size, a realistic valid project (`tests/spec_factory.generate_project`) is written to a
temporary folder, then measured, each contender in a fresh process and the contenders alternated
so that machine noise hits them alike:

1. the floor: PyYAML `yaml.load(text, Loader=yaml.CSafeLoader)` of every spec file (texts read
   beforehand), with the garbage collector on (as a user would run it) and off;
2. `mlspec.api.load` in-process (what `mlspec validate` does after imports), split into phases by
   timing wrappers around mlspec's own functions: read (discover + read + decode), parse (strict
   YAML loading), schema+semantics (the rest of `validate_texts`: pydantic, merge, cross-file
   checks, placing diagnostics), resolve (manifest), graph (build + cycles + order); plus the peak
   resident memory of that process (`ru_maxrss`);
3. the CLI `mlspec -C DIR validate` as a subprocess: wall time including interpreter start and imports.

Medians of --runs runs (default 3; --big-runs, default 1, for 10,000 models and more). Prints
markdown tables and writes benchmarks/out/validate.json.

    .venv/bin/python benchmarks/bench_validate.py [--sizes 100,1000,10000] [--runs 3] [--profile 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out" / "validate.json"
RATIO_GOAL = 1.3
MEMORY_GOAL_MB = 500
PHASES = ("read", "parse", "schema_semantics", "resolve", "graph")
DETAIL = ("schema", "merge", "semantics", "locate")


# ------------------------------------------------------------------------------------------------
# workers: each runs in a fresh interpreter and prints one JSON object
# ------------------------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _spec_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "specs").rglob("*") if p.suffix in (".yaml", ".yml"))


def worker_floor(root: Path, gc_on: bool) -> dict:
    """PyYAML's C loader over every spec file, keeping every result (as a validator must)."""
    import gc

    import yaml

    texts = [p.read_text(encoding="utf-8") for p in _spec_files(root)]
    loaded = []
    if not gc_on:
        gc.disable()
    cpu, start = time.process_time(), time.perf_counter()
    for text in texts:
        loaded.append(yaml.load(text, Loader=yaml.CSafeLoader))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    gc.enable()
    return {"seconds": elapsed, "cpu_seconds": cpu, "documents": len(loaded), "maxrss_mb": _maxrss_mb()}


def _rss_mb() -> float | None:
    """Current resident memory (Linux), to see which phase holds on to how much."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _Timers:
    """Accumulated wall time per phase, from wrappers around mlspec's own functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.rss_after: dict[str, float | None] = {}

    def wrap(self, owner: object, attribute: str, phase: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start
                self.rss_after[phase] = _rss_mb()

        setattr(owner, attribute, timed)


def _instrument() -> _Timers:
    import mlspec.resolve
    from mlspec.graph import build as graph_build
    from mlspec.spec import loader, validate
    from mlspec.yamlpos import sourcemap

    timers = _Timers()
    timers.wrap(validate, "discover", "read")
    timers.wrap(validate, "load_texts", "read")
    timers.wrap(validate, "validate_texts", "validate_texts")
    timers.wrap(loader, "parse", "parse")
    timers.wrap(validate, "_schema", "schema")
    timers.wrap(validate, "merge", "merge")
    timers.wrap(validate, "check", "semantics")
    timers.wrap(sourcemap.SourceMap, "locate", "locate")
    timers.wrap(mlspec.resolve, "resolve", "resolve")
    for name in ("build", "cycles", "order"):
        timers.wrap(graph_build, name, "graph")
    return timers


class _GcClock:
    """Time spent in the cyclic garbage collector, from `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1


def worker_check(root: Path) -> dict:
    """`api.check`: exactly what `mlspec validate` runs after its imports (no manifest), with peak memory, with
    the garbage collector off as the command runs it (`mlspec.cli.main.collector_off`)."""
    import gc

    import networkx  # noqa: F401 - import time belongs to the CLI column

    from mlspec import api

    gc.disable()
    cpu, start = time.process_time(), time.perf_counter()
    validated, diags = api.check(root)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    gc.enable()
    if validated.spec is None:
        raise SystemExit(f"generated project is invalid: {diags[:3]}")
    return {"total": total, "cpu_seconds": cpu, "maxrss_mb": _maxrss_mb()}


def worker_mlspec(root: Path, gc_on: bool = True, instrument: bool = True) -> dict:
    """`api.load` (validate + resolve + graph), timed by phase, with the process's peak memory."""
    import gc

    import networkx  # noqa: F401 - imported up front: import time belongs to the CLI column, not here

    import mlspec.resolve  # noqa: F401
    from mlspec import api
    from mlspec.graph import build  # noqa: F401

    rss_imports = _maxrss_mb()
    timers = _instrument() if instrument else _Timers()
    clock = _GcClock()
    gc.callbacks.append(clock)
    if not gc_on:
        gc.disable()
    cpu, start = time.process_time(), time.perf_counter()
    project = api.load(root)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    gc.enable()
    gc.callbacks.remove(clock)
    if not project.ok:
        raise SystemExit(f"generated project is invalid: {project.diagnostics[:3]}")
    s = timers.seconds
    phases = {"read": s.get("read", 0.0), "parse": s.get("parse", 0.0),
              "schema_semantics": s.get("validate_texts", 0.0) - s.get("parse", 0.0),
              "resolve": s.get("resolve", 0.0), "graph": s.get("graph", 0.0)}
    detail = {name: s.get(name, 0.0) for name in DETAIL}
    return {"total": total, "cpu_seconds": cpu, "phases": phases, "detail": detail,
            "other": total - sum(phases.values()), "nodes": len(project.manifest.nodes),
            "maxrss_mb": _maxrss_mb(), "rss_after_imports_mb": rss_imports, "gc_seconds": clock.seconds,
            "gc_collections": clock.collections, "rss_after_phase_mb": timers.rss_after}


def worker_profile(root: Path, top: int, gc_on: bool) -> None:
    """cProfile of `api.load`: the top functions by own time and by cumulative time.

    With the garbage collector on, collections are charged to whatever function happens to allocate
    when one starts (a tuple in a sort key, say), so by default it is off here; the benchmark's
    'in GC' column says how much the collector adds.
    """
    import cProfile
    import gc
    import pstats

    import networkx  # noqa: F401

    import mlspec.resolve  # noqa: F401
    from mlspec import api

    profiler = cProfile.Profile()
    if not gc_on:
        gc.disable()
    profiler.enable()
    project = api.load(root)
    profiler.disable()
    gc.enable()
    assert project.ok
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# ------------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------------


def _run_worker(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True,
                          check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def _cli(root: Path) -> float:
    script = Path(sys.executable).with_name("mlspec")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mlspec"]
    start = time.perf_counter()
    done = subprocess.run([*command, "-C", str(root), "validate", "--output-format", "concise"],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mlspec validate failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def write_project(n_models: int, seed: int, root: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from tests.spec_factory import generate_project

    start = time.perf_counter()
    texts = generate_project(seed, n_models)
    generated = time.perf_counter() - start
    for display, text in texts.items():
        path = root / display
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return {"files": len(texts), "bytes": sum(len(t.encode()) for t in texts.values()),
            "generate_seconds": generated}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(n_models: int, runs: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"mlspec-bench-{n_models}-") as tmp:
        root = Path(tmp)
        # generated in a worker: a child inherits its parent's peak RSS, so the driver stays small
        info = _run_worker("generate", str(root), str(n_models), str(seed))
        print(f"# {n_models} models: {info['files']} files, {info['bytes'] / 1e6:.2f} MB, "
              f"{runs} run(s)", file=sys.stderr, flush=True)
        samples: dict[str, list] = {"floor_gc": [], "floor_nogc": [], "mlspec": [], "mlspec_nogc": [], "cli": [],
                                    "check": []}
        for _ in range(runs):  # alternate the contenders so that noise hits them alike
            samples["floor_gc"].append(_run_worker("floor", str(root), "gc"))
            samples["floor_nogc"].append(_run_worker("floor", str(root), "nogc"))
            samples["mlspec"].append(_run_worker("mlspec", str(root), "gc"))
            samples["mlspec_nogc"].append(_run_worker("mlspec", str(root), "nogc"))
            samples["cli"].append(_cli(root))
            samples["check"].append(_run_worker("check", str(root)))
    mlspec_runs = samples["mlspec"]
    result = {
        "models": n_models, **info, "runs": runs, "nodes": mlspec_runs[0]["nodes"],
        "floor_gc_seconds": _median([s["seconds"] for s in samples["floor_gc"]]),
        "floor_nogc_seconds": _median([s["seconds"] for s in samples["floor_nogc"]]),
        "floor_maxrss_mb": _median([s["maxrss_mb"] for s in samples["floor_gc"]]),
        "phases": {p: _median([s["phases"][p] for s in mlspec_runs]) for p in PHASES},
        "detail": {p: _median([s["detail"][p] for s in mlspec_runs]) for p in DETAIL},
        "other_seconds": _median([s["other"] for s in mlspec_runs]),
        "total_seconds": _median([s["total"] for s in mlspec_runs]),
        "maxrss_mb": max(s["maxrss_mb"] for s in mlspec_runs),
        "gc_seconds": _median([s["gc_seconds"] for s in mlspec_runs]),
        "total_nogc_seconds": _median([s["total"] for s in samples["mlspec_nogc"]]),
        "maxrss_nogc_mb": max(s["maxrss_mb"] for s in samples["mlspec_nogc"]),
        "rss_after_imports_mb": _median([s["rss_after_imports_mb"] for s in mlspec_runs]),
        "cli_seconds": _median(samples["cli"]),
        "raw": samples,
    }
    result["ratio"] = result["total_seconds"] / result["floor_gc_seconds"]
    result["ratio_cpu"] = (_median([s["cpu_seconds"] for s in mlspec_runs])
                           / _median([s["cpu_seconds"] for s in samples["floor_gc"]]))
    result["ratio_nogc"] = result["total_seconds"] / result["floor_nogc_seconds"]
    result["validate_seconds"] = _median([s["total"] for s in samples["check"]])
    result["validate_maxrss_mb"] = max(s["maxrss_mb"] for s in samples["check"])
    result["validate_ratio"] = result["validate_seconds"] / result["floor_gc_seconds"]
    return result


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def table(results: list[dict]) -> str:
    head = ("| models | files | MB | floor GC on (s) | floor GC off (s) | read | parse | schema+semantics | resolve "
            "| graph | total (s) | total / floor | peak RSS (MB) | CLI wall (s) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        p = r["phases"]
        lines.append(
            f"| {r['models']:,} | {r['files']} | {r['bytes'] / 1e6:.2f} | {_s(r['floor_gc_seconds'])} "
            f"| {_s(r['floor_nogc_seconds'])} | {_s(p['read'])} | {_s(p['parse'])} | {_s(p['schema_semantics'])} "
            f"| {_s(p['resolve'])} | {_s(p['graph'])} | {_s(r['total_seconds'])} "
            f"| {r['ratio']:.2f} ({r['ratio_nogc']:.2f} vs GC off) | {r['maxrss_mb']:.0f} | {_s(r['cli_seconds'])} |")
    detail_head = ("| models | nodes | schema | merge | semantics | locate | other | in GC (s) | total, GC off (s) "
                   "| total GC off / floor GC off | CPU-time ratio (GC on) | peak RSS GC off (MB) "
                   "| floor peak RSS (MB) | RSS after imports (MB) |")
    lines += ["", detail_head, "|" + "---|" * (detail_head.count("|") - 1)]
    for r in results:
        d = r["detail"]
        lines.append(f"| {r['models']:,} | {r['nodes']:,} | {_s(d['schema'])} | {_s(d['merge'])} "
                     f"| {_s(d['semantics'])} | {_s(d['locate'])} | {_s(r['other_seconds'])} "
                     f"| {_s(r['gc_seconds'])} | {_s(r['total_nogc_seconds'])} "
                     f"| {r['total_nogc_seconds'] / r['floor_nogc_seconds']:.2f} | {r['ratio_cpu']:.2f} "
                     f"| {r['maxrss_nogc_mb']:.0f} | {r['floor_maxrss_mb']:.0f} | {r['rss_after_imports_mb']:.0f} |")
    validate_head = ("| models | floor GC on (s) | `mlspec validate` in-process (s) | ratio (goal <= 1.3) "
                     "| peak RSS (MB, goal < 500 at 10,000) |")
    lines += ["", validate_head, "|" + "---|" * (validate_head.count("|") - 1)]
    lines += [f"| {r['models']:,} | {_s(r['floor_gc_seconds'])} | {_s(r['validate_seconds'])} "
              f"| {r['validate_ratio']:.2f} | {r['validate_maxrss_mb']:.0f} |" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated model counts")
    parser.add_argument("--runs", type=int, default=3, help="runs per size below 10,000 models (median)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs per size of 10,000 models or more")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, metavar="MODELS", help="print a cProfile of api.load and exit")
    parser.add_argument("--profile-gc", action="store_true", help="profile with the garbage collector on")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, root = args.worker[0], Path(args.worker[1])
        if kind == "generate":
            print(json.dumps(write_project(int(args.worker[2]), int(args.worker[3]), root)))
        elif kind == "floor":
            print(json.dumps(worker_floor(root, gc_on=args.worker[2] == "gc")))
        elif kind == "mlspec":
            print(json.dumps(worker_mlspec(root, gc_on=args.worker[2] == "gc")))
        elif kind == "check":
            print(json.dumps(worker_check(root)))
        else:
            worker_profile(root, int(args.worker[2]), gc_on=args.worker[3] == "gc")
        return 0
    if args.profile:
        with tempfile.TemporaryDirectory() as tmp:
            write_project(args.profile, args.seed, Path(tmp))
            subprocess.run([sys.executable, __file__, "--worker", "profile", tmp, "30",
                            "gc" if args.profile_gc else "nogc"], check=True)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    load_before = os.getloadavg()
    results = [measure(n, args.big_runs if n >= 10_000 else args.runs, args.seed) for n in sizes]
    import yaml

    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": platform.machine(), "system": platform.platform(), "cpus": os.cpu_count(),
            "pyyaml": yaml.__version__, "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "seed": args.seed, "goals": {"ratio": RATIO_GOAL, "peak_rss_mb_10k": MEMORY_GOAL_MB}}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nload average (1, 5, 15 min) before: {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}; "
          f"after: {meta['load_average_after'][0]:.1f} {meta['load_average_after'][1]:.1f} "
          f"{meta['load_average_after'][2]:.1f} on {os.cpu_count()} CPUs")
    print(f"\nratio goal: total / floor (GC on) <= {RATIO_GOAL}; peak RSS goal: < {MEMORY_GOAL_MB} MB at 10,000 "
          f"models. JSON: {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
