"""Benchmark `mlspec compile` when every generated file changes (a new mlspec version changing each header).

A generated project (`tests/spec_factory.generate_project`, 600 models: 1,949 generated files and a
237,000-line manifest) is compiled once. Each run then edits one line of every generated file and
times, in fresh processes, `mlspec compile --check` (which shows diffs) and `mlspec compile` (which
must update every file). In-process, it also times `sync.compare` three ways: without diffs (what
`compile` does), with `--check`'s bounded diffs, and with every file diffed whatever its length
(what `compile` computed before it asked for no diffs: the manifest's diff was most of it).

    .venv/bin/python benchmarks/bench_compile_update.py [--models 600] [--runs 3]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _outputs(root: Path) -> list[Path]:
    return sorted(p for folder in ("generated", ".github") for p in (root / folder).rglob("*") if p.is_file())


def _edit_every_file(root: Path) -> None:
    for path in _outputs(root):
        lines = path.read_text(encoding="utf-8").split("\n")
        lines[1 if path.suffix == ".json" else 0] += " "
        path.write_text("\n".join(lines), encoding="utf-8")
    os.sync()


def _compile(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), "compile", *args], capture_output=True,
                          text=True, check=False)
    return time.perf_counter() - started, done


def _compare(root: Path) -> dict[str, float]:
    """Median seconds of sync.compare: no diffs, --check's diffs, every diff unbounded (the old compile)."""
    import gc

    from mlspec import api
    from mlspec.cli.compile import SHOWN_DIFFS
    from mlspec.emit.tree import emit
    from mlspec.write import sync
    from mlspec.write.outputs import user_owned

    gc.disable()  # as `mlspec compile --check` runs (mlspec.cli.main.collector_off)
    project = api.load(root)
    files = emit(project.manifest, user_owned(root))
    times = {}
    ways = (("compile", 0, sync.DIFF_MAX_LINES), ("check", SHOWN_DIFFS, sync.DIFF_MAX_LINES),
            ("every_diff_unbounded", len(files), 10**9))
    for label, diffs, max_lines in ways:
        limit, sync.DIFF_MAX_LINES = sync.DIFF_MAX_LINES, max_lines
        try:
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                sync.compare(root, files, diffs=diffs)
                runs.append(time.perf_counter() - started)
        finally:
            sync.DIFF_MAX_LINES = limit
        times[label] = statistics.median(runs)
    gc.enable()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from tests.spec_factory import generate_project

    with tempfile.TemporaryDirectory(prefix="bench-compile-update-") as folder:
        root = Path(folder) / "project"
        for path, text in generate_project(1, args.models).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        seconds, done = _compile(root)
        assert done.returncode == 0, done.stderr
        files = len(_outputs(root))
        check, update = [], []
        for run in range(args.runs):
            _edit_every_file(root)
            seconds, done = _compile(root, "--check")
            assert done.returncode == 1, done.stderr
            check.append(seconds)
            seconds, done = _compile(root)
            assert done.returncode == 0 and f"{files} updated" in done.stdout, done.stdout + done.stderr
            update.append(seconds)
            print(f"  run {run + 1}: --check {check[-1]:.2f} s, compile {update[-1]:.2f} s", file=sys.stderr)
        _edit_every_file(root)
        compare = _compare(root)
    result = {"models": args.models, "files": files, "check": statistics.median(check),
              "compile": statistics.median(update), "compare": compare}
    print(f"| {args.models} models, {files} files updated | `compile` {result['compile']:.2f} s | `compile --check` "
          f"{result['check']:.2f} s | compare: no diffs {compare['compile']:.2f} s, --check's "
          f"{compare['check']:.2f} s, every diff {compare['every_diff_unbounded']:.2f} s |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
