"""What the cyclic garbage collector costs while mlspec reads and builds a large project, in-process.

Times `api.load`'s body (specs to manifest, without its own pause), `emit` and reading the manifest's file
form, each with the collector on (Python's default thresholds) and off, alternated run by run; prints the
medians. The figures justify `mlspec.cli.main.collector_off` and `mlspec.gcpause` (benchmarks/README.md §
Figures behind code comments).

    .venv/bin/python benchmarks/bench_gc.py [--models 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import orjson
    from tests.spec_factory import generate_project

    import mlspec.graph.build
    import mlspec.resolve
    import mlspec.yamlpos.sourcemap  # noqa: F401 - imported up front: no phase pays for imports
    from mlspec import api
    from mlspec.emit.tree import emit
    from mlspec.manifest import OLDEST_READABLE, Manifest

    root = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    for rel, text in generate_project(0, args.models).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    seconds: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for on in (True, False):
            state = "on" if on else "off"
            gc.collect()
            gc.enable() if on else gc.disable()
            started = time.perf_counter()
            project = api._load(root, None)
            loaded = time.perf_counter()
            files = emit(project.manifest)
            emitted = time.perf_counter()
            text = files["generated/manifest.json"]
            started_reading = time.perf_counter()
            Manifest._from_data(orjson.loads(text), OLDEST_READABLE)  # read_json's body, without its pause
            read = time.perf_counter()
            gc.enable()
            for phase, took in (("load", loaded - started), ("emit", emitted - loaded),
                                ("read manifest", read - started_reading)):
                seconds.setdefault(f"{phase}, collector {state}", []).append(took)
            del project, files, text
    print(f"{args.models:,} models, medians of {args.runs}:")
    for name, runs in seconds.items():
        print(f"  {name}: {statistics.median(runs):.3f} s  ({', '.join(f'{r:.2f}' for r in runs)})")


if __name__ == "__main__":
    main()
