"""Benchmark `mlspec compile` on generated projects of 100, 1,000 and 10,000 models.

For each size, a realistic valid project (`tests/spec_factory.generate_project`) is written to a
temporary folder, in two layouts: split into files of at most 100 models, and all in one file (as
the performance notes measured PyYAML: its garbage-collector cost grows with the size of a file).
Each run measures, every contender in a fresh process and the contenders
alternated so that machine noise hits them alike:

1. `mlspec compile` in-process (what the command does after imports) into an empty tree, split into
   phases: load+validate (`validate_project`: read, parse, schema, semantics), resolve+graph (the rest
   of `api.load`), pins (the CI-state check and `generated/constraints.txt` from the installed packages'
   metadata), emit/render (`emit.tree.emit`: scripts, workflows, manifest, all in memory) and
   write (`sync.compare` + `sync.apply`: staged, fsynced, swapped in). Then a no-change recompile
   through the real command (`mlspec compile` in-process), which must print "Nothing to do" and leave
   every file's mtime alone; its time is reported too.
2. the floors, in another fresh process: PyYAML `CSafeLoader` parse of the same spec texts (read
   beforehand; garbage collector on, as a user runs it); a jinja2 render of the same output: every
   file compile generated, rendered by one compiled template that writes its lines (so the floor
   produces the same files and bytes; for reference, also the render of one trivial three-line
   template per model, which produces about 0.1% of those bytes); and writing as many files of the
   same sizes as compile generated with plain `open().write` into an empty folder (and, for reference
   only, the same with an fsync each).

The goal: `mlspec compile` (in-process total) at most 1.5 x the parse + render + write floors: the
ratio of the medians; also shown, the ratio without the writes and the median of the per-run ratios
(each compile run against the floors measured right after it).
Medians of --runs runs (default 3; --big-runs, default 1, for 10,000 models and more). Prints a
markdown table and writes benchmarks/out/compile.json.

    .venv/bin/python benchmarks/bench_compile.py [--sizes 100,1000,10000] [--layouts split,single] [--runs 3]

`--part goals` measures issue #16's goals instead, whole processes side by side (A B A B ..., the ratio
pair by pair, user+sys CPU from the operating system's accounting and wall time, the load average before
and after), at --sizes (default 1,000 here):

1. `mlspec compile` of the generated project into an empty tree, with an empty compile cache, against
   `dbt parse --no-partial-parse` of a dbt project of as many trivial models (generated here: `select 1`
   every tenth model, `select ... from {{ ref(previous) }}` the others; dbt-duckdb, no server), goal >= 8x
   faster. dbt runs from its own venv (--dbt-venv, default benchmarks/out/dbt-venv, git-ignored); without
   it that row is skipped with how to make one.
2. a no-change `mlspec compile` (the cache warm) against the full compile, goal <= 0.3x; and, for
   reference, the no-change compile with the cache off.
3. `mlspec plan` against `mlspec validate` (goal <= 2x), in a git repository whose last commit holds the
   specs and the compiled tree, with one model's parameter edited in the work tree: with an empty cache
   (as on a fresh CI runner) and with the cache a compile of the base and of the head filled.

`--before SRC` (a source tree of mlspec, e.g. `git archive` of an older commit unpacked) adds each mlspec
command run from there, alternated with the current one, so the table holds before and after side by side.

    .venv/bin/python benchmarks/bench_compile.py --part goals [--sizes 1000] [--runs 5] [--before DIR/src]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out" / "compile.json"
RATIO_GOAL = 1.5
BIG = 10_000
PHASES = ("load_validate", "resolve_graph", "pins", "emit_render", "write")
FLOORS = ("parse", "render", "write")
SINGLE_FILE_MAX_MODELS = 2_500  # about 1.5 KB of YAML per model: more would pass the 4 MB limit of one spec file

# ------------------------------------------------------------------------------------------------
# workers: each runs in a fresh interpreter and prints one JSON object
# ------------------------------------------------------------------------------------------------


def _spec_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "specs").rglob("*") if p.suffix in (".yaml", ".yml"))


def _outputs(root: Path) -> list[Path]:
    return sorted(p for folder in ("generated", ".github") for p in (root / folder).rglob("*") if p.is_file())


def _clear_outputs(root: Path) -> None:
    """Move the last run's outputs aside (deleted with the project at the end), never delete them now.

    ext4 does not reuse an inode deleted in the last few seconds: creating files just after deleting
    thousands nearby scans past them all (perf: find_inode_bit -> recently_deleted), which made the
    timed writes 5-15x slower than the floor's, written to a fresh folder. No run deletes anything
    before a timed write, so compile and floor write under the same conditions.
    """
    trash = Path(tempfile.mkdtemp(prefix="old-outputs-", dir=root))
    for folder in ("generated", ".github"):
        if (root / folder).exists():
            (root / folder).rename(trash / folder)


def worker_compile(root: Path) -> dict:
    """One first compile into an empty tree, phase by phase, then a no-change recompile by the CLI."""
    # what api.load imports lazily, imported now so that no phase pays for imports (nor do the floors)
    import mlspec.graph.build
    import mlspec.resolve
    import mlspec.yamlpos.sourcemap  # noqa: F401
    from mlspec import api
    from mlspec.cli.main import cli
    from mlspec.emit.tree import emit
    from mlspec.write.sync import apply, compare

    _clear_outputs(root)
    timings: dict[str, float] = {}
    real_validate = api.validate_project

    def timed_validate(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real_validate(*args, **kwargs)
        finally:
            timings["load_validate"] = time.perf_counter() - start

    api.validate_project = timed_validate
    gc.disable()  # as `mlspec compile` runs (mlspec.cli.main.collector_off), for the whole command
    cpu = time.process_time()
    start = time.perf_counter()
    project = api.load(root)
    loaded = time.perf_counter()
    api.validate_project = real_validate
    if not project.ok:
        raise SystemExit(f"the generated project does not validate: {project.diagnostics[:3]}")
    timings["resolve_graph"] = (loaded - start) - timings["load_validate"]
    assert not api.ci_problems(project), "the generated project keeps its state where CI loses it"
    pins = api.pins(project)  # generated/constraints.txt: from the installed packages (none committed here)
    pinned = time.perf_counter()
    timings["pins"] = pinned - loaded
    files = emit(project.manifest, constraints=pins.text if pins is not None else None)
    emitted = time.perf_counter()
    timings["emit_render"] = emitted - pinned
    changes = compare(root, files)
    apply(root, files, changes)
    timings["write"] = time.perf_counter() - emitted
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    gc.enable()

    written = _outputs(root)
    assert len(written) == len(files) == len(changes.created), (len(written), len(files))
    mtimes = {p: p.stat().st_mtime_ns for p in written}
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli.main(["-C", str(root), "compile"], prog_name="mlspec", standalone_mode=False)
    recompile = time.perf_counter() - start
    rewritten = [p for p in _outputs(root) if mtimes.get(p) != p.stat().st_mtime_ns]
    return {"phases": timings, "total": total, "cpu": cpu, "files": len(files),
            "bytes": sum(len(b) for b in files.values()), "sizes": sorted(len(b) for b in files.values()),
            "recompile": recompile, "recompile_ok": code in (None, 0) and out.getvalue().startswith("Nothing to do")
            and not rewritten and len(_outputs(root)) == len(files), "recompile_output": out.getvalue().strip()}


def worker_floor(root: Path, models: int, sizes: list[int]) -> dict:
    """The floors: parse the spec texts, render the same output with jinja2, write the same files."""
    import jinja2
    import yaml

    texts = [p.read_text(encoding="utf-8") for p in _spec_files(root)]
    start = time.perf_counter()
    data = [yaml.load(text, Loader=yaml.CSafeLoader) for text in texts]
    parse = time.perf_counter() - start
    assert all(isinstance(d, dict) for d in data)

    template = jinja2.Environment(autoescape=False).from_string(
        "# Generated.\nNODE_ID = {{ node_id }}\nDESCRIPTION = {{ description }}\n")
    start = time.perf_counter()
    rendered = [template.render(node_id=repr(f"model.m{i:05d}"), description=repr(f"Model {i}."))
                for i in range(models)]
    render_trivial = time.perf_counter() - start
    assert len(rendered) == models

    outputs = [p.read_text(encoding="utf-8").splitlines() for p in _outputs(root)]
    template = jinja2.Environment(autoescape=False, keep_trailing_newline=True).from_string(
        "{% for line in lines %}{{ line }}\n{% endfor %}")
    start = time.perf_counter()
    rendered = [template.render(lines=lines) for lines in outputs]
    render = time.perf_counter() - start
    assert len(rendered) == len(sizes)

    results = {}
    for label, sync in (("write", False), ("write_fsync", True)):
        folder = Path(tempfile.mkdtemp(prefix="floor-", dir=root))
        payloads = [b"x" * size for size in sizes]
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            with open(folder / f"f{i:06d}.txt", "wb") as handle:
                handle.write(payload)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
        results[label] = time.perf_counter() - start  # the folder stays until the end (see _clear_outputs)
    return {"parse": parse, "render": render, "render_trivial": render_trivial, **results}


# ------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------


def _worker(args: list[str]) -> dict:
    # Each contender starts with nothing left to write back: compile's one sync(2) would otherwise also
    # flush what the previous contender wrote (the write floor leaves thousands of files unsynced).
    os.sync()
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False,
                            cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.splitlines()[-1])


def _make_project(folder: Path, models: int, seed: int, layout: str) -> Path:
    """The generated project, in its files of at most 100 models ("split") or all in one file ("single")."""
    sys.path.insert(0, str(REPO))
    from tests.spec_factory import build_documents, dump, generate_project

    root = folder / f"project_{models}_{layout}"
    texts = generate_project(seed, models)
    if layout == "single":
        merged: dict = {}
        for document in build_documents(seed, models).values():
            for key, value in document.items():
                if isinstance(value, dict):
                    merged.setdefault(key, {}).update(value)
                else:
                    merged[key] = value
        texts = {"specs/project.yaml": f"# Generated by tests/spec_factory.py ({models} models, one file).\n"
                                       + dump(merged)}
    for path, text in texts.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def measure(models: int, runs: int, seed: int, folder: Path, layout: str) -> dict:
    root = _make_project(folder, models, seed, layout)
    spec_files = _spec_files(root)
    spec_bytes = sum(p.stat().st_size for p in spec_files)
    compiles, floors = [], []
    for run in range(runs):
        print(f"  {models} models: run {run + 1}/{runs}", file=sys.stderr, flush=True)
        compiles.append(_worker(["--worker", "compile", str(root)]))
        sizes_file = root / "sizes.json"
        sizes_file.write_text(json.dumps(compiles[-1]["sizes"]), encoding="utf-8")
        floors.append(_worker(["--worker", "floor", str(root), str(models), str(sizes_file)]))
    median = statistics.median
    phases = {p: median(c["phases"][p] for c in compiles) for p in PHASES}
    floor = {k: median(f[k] for f in floors) for k in (*FLOORS, "write_fsync", "render_trivial")}
    total = median(c["total"] for c in compiles)
    cpu = median(c["cpu"] for c in compiles)
    floor_sum = sum(floor[k] for k in FLOORS)
    return {
        "models": models, "layout": layout, "spec_files": len(spec_files), "runs": runs,
        "files": compiles[0]["files"], "bytes": compiles[0]["bytes"], "spec_bytes": spec_bytes,
        "phases": phases, "total": total, "compile_cpu": cpu, "floors": floor,
        "floor_sum": floor_sum,
        "ratio": total / floor_sum,
        # writes swing 10x with the filesystem's state (ext4 after mass deletes), the floor's as much
        "ratio_without_writes": (total - phases["write"]) / (floor["parse"] + floor["render"]),
        # each compile run against the floors measured right after it: disk and machine states that
        # last minutes (file creation here swings between 0.1 s and 2 s for the same files) hit both
        "paired_ratio": median(c["total"] / sum(f[k] for k in FLOORS) for c, f in zip(compiles, floors, strict=True)),
        "goal": RATIO_GOAL, "meets_goal": total / floor_sum <= RATIO_GOAL,
        "recompile": median(c["recompile"] for c in compiles),
        "recompile_rewrites_nothing": all(c["recompile_ok"] for c in compiles),
        "recompile_output": compiles[0]["recompile_output"],
        "raw": {"compile": [{k: v for k, v in c.items() if k != "sizes"} for c in compiles], "floor": floors},
    }  # the project is deleted with the temporary folder, after every size (see _clear_outputs)


def _table(results: list[dict]) -> str:
    head = ("| models | spec files (MB) | files | load+validate | resolve+graph | pins | emit/render | write | "
            "**compile total** | parse floor | render floor (same output) | write floor | **floor sum** | "
            "**ratio** (goal <= 1.5) | ratio without the writes | paired ratio | no-change recompile | rewrites none | "
            "(write+fsync) | (trivial render) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        p, f = r["phases"], r["floors"]
        lines.append(
            f"| {r['models']:,} | {r['spec_files']:,} ({r['spec_bytes'] / 1e6:.1f}) | {r['files']:,} | "
            f"{p['load_validate']:.2f} s | {p['resolve_graph']:.2f} s | {p['pins']:.2f} s | "
            f"{p['emit_render']:.2f} s | {p['write']:.2f} s | **{r['total']:.2f} s** | {f['parse']:.2f} s | "
            f"{f['render']:.3f} s | {f['write']:.2f} s | **{r['floor_sum']:.2f} s** | **{r['ratio']:.1f}x** | "
            f"{r['ratio_without_writes']:.1f}x | {r['paired_ratio']:.1f}x | "
            f"{r['recompile']:.2f} s | {'yes' if r['recompile_rewrites_nothing'] else 'NO'} | "
            f"{f['write_fsync']:.2f} s | {f['render_trivial']:.3f} s |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# --part goals: whole processes, side by side
# ------------------------------------------------------------------------------------------------

DBT_VENV = REPO / "benchmarks" / "out" / "dbt-venv"
DBT_INSTALL = "python3 -m venv {venv} && {venv}/bin/pip install 'dbt-core~=1.11.0' 'dbt-duckdb~=1.11.0'"
DBT_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_VERSION_CHECK": "false", "DO_NOT_TRACK": "1"}
GOALS = {"compile_vs_dbt": 1 / 8, "recompile_vs_compile": 0.3, "plan_vs_validate": 2.0}


def timed(argv: list[str], cwd: Path, env: dict[str, str], expect: int | tuple[int, ...] = 0) -> dict:
    """Run one process; its wall time, its (and its children's) user+sys CPU and peak RSS, from wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # cumulative: the caller subtracts
    codes = expect if isinstance(expect, tuple) else (expect,)
    if process.returncode not in codes:
        raise SystemExit(f"{' '.join(argv)} in {cwd} exited {process.returncode}:\n{out.decode()[-2000:]}\n"
                         f"{err.decode()[-2000:]}")
    return {"wall": wall, "cpu_total": usage.ru_utime + usage.ru_stime, "out": out.decode(errors="replace")}


def _pairs(label: str, a, b, runs: int) -> dict:
    """Run the callables a and b alternately `runs` times (after one warm-up each): medians and ratios a/b."""
    a(), b()
    rows = []
    for run in range(runs):
        pair = []
        for side in (a, b):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = side()
            result["cpu"] = result["cpu_total"] - (before.ru_utime + before.ru_stime)
            pair.append(result)
        rows.append(pair)
        print(f"  {label} {run + 1}/{runs}: {pair[0]['wall']:.2f} s vs {pair[1]['wall']:.2f} s", file=sys.stderr)
    median = statistics.median
    return {"label": label, "runs": runs,
            "a_wall": median(p[0]["wall"] for p in rows), "b_wall": median(p[1]["wall"] for p in rows),
            "a_cpu": median(p[0]["cpu"] for p in rows), "b_cpu": median(p[1]["cpu"] for p in rows),
            "wall_ratio": median(p[0]["wall"] / p[1]["wall"] for p in rows),
            "cpu_ratio": median(p[0]["cpu"] / p[1]["cpu"] for p in rows),
            "wall_ratio_range": [min(p[0]["wall"] / p[1]["wall"] for p in rows),
                                 max(p[0]["wall"] / p[1]["wall"] for p in rows)]}


def _dbt_project(folder: Path, models: int) -> Path:
    root = folder / f"dbt_{models}"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text('name: bench\nversion: "1.0.0"\nprofile: bench\nmodel-paths: ["models"]\n')
    (root / "profiles.yml").write_text("bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                                       "      path: bench.duckdb\n")
    for i in range(models):
        body = ("select 1 as id" if i % 10 == 0
                else f"select id + 1 as id from {{{{ ref('model_{i - 1:05d}') }}}}")
        (root / "models" / f"model_{i:05d}.sql").write_text(body + "\n")
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
                        "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com",
                        "GIT_CONFIG_GLOBAL": "/dev/null"})


def _edit_one_model(root: Path) -> None:
    """One model's parameter changed in the work tree: a typical pull request's spec change."""
    path = sorted((root / "specs").glob("*.yaml"))[len(list((root / "specs").glob("*.yaml"))) // 2]
    text = path.read_text(encoding="utf-8")
    for old, new in (("learning_rate: 0.05", "learning_rate: 0.07"), ("max_iter: 300", "max_iter: 301"),
                     ("n_estimators: 200", "n_estimators: 201"), ("C: 1.0", "C: 2.0")):
        if old in text:
            path.write_text(text.replace(old, new, 1), encoding="utf-8")
            return
    raise SystemExit(f"no parameter to edit in {path}")


class Mlspec:
    """How one mlspec (this checkout's, or the source tree --before names) is run, with a compile cache of its own."""

    def __init__(self, name: str, src: Path | None, cache: Path) -> None:
        self.name, self.cache = name, cache
        self.env = {**os.environ, "MLSPEC_CACHE_DIR": str(cache)}
        if src is not None:
            self.env["PYTHONPATH"] = str(src)

    def run(self, root: Path, *args: str, cache: str | None = None, expect=0) -> dict:
        env = self.env if cache is None else {**self.env, "MLSPEC_CACHE_DIR": cache}
        return timed([sys.executable, "-m", "mlspec", "-C", str(root), *args], root, env, expect)

    def empty_cache(self) -> str:
        return tempfile.mkdtemp(prefix="cache-", dir=self.cache.parent)


def measure_goals(models: int, runs: int, seed: int, folder: Path, dbt_venv: Path, before: Path | None) -> dict:
    """Every goal's pairs at one size (see the module's docstring), for this mlspec and the one --before names."""
    project = _make_project(folder, models, seed, "split")
    # this checkout's mlspec, copied: an edit to its source while the benchmark runs is a new compile cache key
    frozen = folder / "src-after"
    shutil.copytree(REPO / "src" / "mlspec", frozen / "mlspec", ignore=shutil.ignore_patterns("__pycache__"))
    contenders = [Mlspec("after", frozen, folder / "cache-after")]
    if before is not None:
        contenders.append(Mlspec("before", before, folder / "cache-before"))
    pairs = []
    counter = iter(range(10**6))

    def fresh_tree(tool: Mlspec):
        def run():  # a new empty tree (and an empty cache) each time: never deleting what the last run wrote
            root = folder / f"fresh-{next(counter)}"
            shutil.copytree(project / "specs", root / "specs")
            return tool.run(root, "compile", cache=tool.empty_cache())
        return run

    dbt = dbt_venv / "bin" / "dbt"
    if dbt.exists():
        dbt_root = _dbt_project(folder, models)
        parse = [str(dbt), "parse", "--no-partial-parse", "--profiles-dir", str(dbt_root)]
        for tool in contenders:
            pairs.append(_pairs(f"compile ({tool.name}) vs dbt parse --no-partial-parse", fresh_tree(tool),
                                lambda: timed(parse, dbt_root, {**os.environ, **DBT_ENV}), runs))
    else:
        print(f"  dbt: skipped, no dbt at {dbt}; make its venv with: {DBT_INSTALL.format(venv=dbt_venv)}",
              file=sys.stderr)
    for tool in contenders:
        compiled = folder / f"compiled-{tool.name}"
        shutil.copytree(project / "specs", compiled / "specs")
        tool.run(compiled, "compile")
        pairs.append(_pairs(f"no-change compile ({tool.name}) vs compile",
                            lambda t=tool, r=compiled: t.run(r, "compile"), fresh_tree(tool), runs))
        if tool.name == "after":
            pairs.append(_pairs("no-change compile, cache off vs compile",
                                lambda t=tool, r=compiled: t.run(r, "compile", cache=""), fresh_tree(tool), runs))
        repo = folder / f"repo-{tool.name}"
        shutil.copytree(compiled, repo)
        _git(repo, "init", "--quiet", "--initial-branch=main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "--quiet", "-m", "base")
        _edit_one_model(repo)
        validate = lambda t=tool, r=repo: t.run(r, "validate", "--output-format", "concise")  # noqa: E731
        pairs.append(_pairs(f"plan ({tool.name}), empty cache vs validate",
                            lambda t=tool, r=repo: t.run(r, "plan", cache=t.empty_cache()), validate, runs))
        tool.run(repo, "compile")  # the head's entry (the base's came from the compile before the commit)
        pairs.append(_pairs(f"plan ({tool.name}), cache of a compile vs validate",
                            lambda t=tool, r=repo: t.run(r, "plan"), validate, runs))
    return {"models": models, "pairs": pairs}


def _goals_table(results: list[dict]) -> str:
    lines = ["| models | A vs B | A wall (CPU) | B wall (CPU) | A/B wall, median of pairs (range) | A/B CPU |",
             "|---|---|---|---|---|---|"]
    for result in results:
        for p in result["pairs"]:
            low, high = p["wall_ratio_range"]
            lines.append(f"| {result['models']:,} | {p['label']} | {p['a_wall']:.2f} s ({p['a_cpu']:.2f} s) | "
                         f"{p['b_wall']:.2f} s ({p['b_cpu']:.2f} s) | {p['wall_ratio']:.2f} ({low:.2f}-{high:.2f}) | "
                         f"{p['cpu_ratio']:.2f} |")
    return "\n".join(lines)


def main_goals(args: argparse.Namespace) -> None:
    sizes = [int(s.replace("_", "").replace(",", "")) for s in (args.sizes or "1000").split(",") if s.strip()]
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-goals-") as tmp:
        for models in sizes:
            results.append(measure_goals(models, args.runs, args.seed, Path(tmp) / str(models), args.dbt_venv,
                                         args.before))
        load_after = os.getloadavg()
        table = _goals_table(results)
        print(table, flush=True)  # before the thousands of files are deleted, which takes long on a busy disk
        print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}; goals (A/B): dbt <= 0.125, "
              "no-change compile <= 0.3, plan <= 2.0", flush=True)
    out = args.out if args.out != OUT else OUT.with_name("compile_goals.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "mlspec compile goals (#16)", "date": datetime.now(UTC).isoformat(
        timespec="seconds"), "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
        "load_before": load_before, "load_after": load_after, "goals": GOALS, "results": results, "table": table},
        indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("floors", "goals"), default="floors",
                        help="floors: in-process phases against parse/render/write floors; goals: #16's goals")
    parser.add_argument("--sizes", default=None, help="comma-separated model counts (100,1000,10000; goals: 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median)")
    parser.add_argument("--big-runs", type=int, default=1, help=f"runs for sizes >= {BIG:,}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layouts", default="split,single",
                        help="spec layouts: split (files of at most 100 models), single (one file)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dbt-venv", type=Path, default=DBT_VENV, help="the venv holding dbt-core and dbt-duckdb")
    parser.add_argument("--before", type=Path, default=None, help="an older mlspec's source folder, run beside")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, rest = args.worker[0], args.worker[1:]
        if kind == "compile":
            result = worker_compile(Path(rest[0]))
        else:
            sizes = json.loads(Path(rest[2]).read_text(encoding="utf-8"))
            result = worker_floor(Path(rest[0]), int(rest[1]), sizes)
        print(json.dumps(result))
        return
    if args.part == "goals":
        main_goals(args)
        return

    sizes = [int(s.replace("_", "").replace(",", "")) for s in (args.sizes or "100,1000,10000").split(",")
             if s.strip()]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        for layout in [s.strip() for s in args.layouts.split(",") if s.strip()]:
            for models in sizes:
                if layout == "single" and models > SINGLE_FILE_MAX_MODELS:
                    print(f"  {models} models in one file: skipped, over the 4 MB limit of a spec file (MLS002)",
                          file=sys.stderr)
                    continue
                runs = args.big_runs if models >= BIG else args.runs
                results.append(measure(models, runs, args.seed, Path(tmp), layout))
                print(_table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    table = _table(results)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": "mlspec compile", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
                "ratio_goal": RATIO_GOAL, "results": results, "table": table}
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
