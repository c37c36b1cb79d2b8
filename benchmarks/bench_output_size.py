"""What `mlspec compile` writes for generated projects of 100, 1,000 and 10,000 models: how many files, how
many of them workflows, the manifest's bytes per model, and the largest workflow file (GitHub starts no run
of a workflow file over 500 KB).

Sizes, not timings: the same code gives the same figures on any machine. The project is
`tests.spec_factory.generate_project` (seed 7): per model 5-10 features, a gate, and a monitor on every
tenth model, each monitor on its own random daily schedule. Everything is emitted in memory (nothing is
written). Prints a markdown table and writes benchmarks/out/output_size.json.

    .venv/bin/python benchmarks/bench_output_size.py [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out" / "output_size.json"
GITHUB_WORKFLOW_LIMIT = 500 * 1024


def measure(models: int) -> dict:
    """The output of compiling a generated project of `models` models."""
    from tests.spec_factory import generate_project

    from mlspec import api
    from mlspec.emit import MANIFEST_PATH, WORKFLOW_DIR
    from mlspec.emit.tree import emit

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for path, text in generate_project(7, models).items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        project = api.load(root)
        assert project.ok, project.diagnostics[:3]
        files = emit(project.manifest)
    workflows = {path: len(data) for path, data in files.items() if path.startswith(WORKFLOW_DIR + "/")}
    largest = max(workflows, key=workflows.__getitem__)
    over = sorted(path.rsplit("/", 1)[1] for path, size in workflows.items() if size > GITHUB_WORKFLOW_LIMIT)
    return {"models": models, "files": len(files) + 1,  # + generated/constraints.txt, made from the environment
            "workflows": len(workflows), "manifest_bytes": len(files[MANIFEST_PATH]),
            "manifest_bytes_per_model": round(len(files[MANIFEST_PATH]) / models),
            "largest_workflow": largest.rsplit("/", 1)[1], "largest_workflow_bytes": workflows[largest],
            "over_githubs_limit": over}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    rows = [measure(int(size)) for size in args.sizes.split(",")]
    print("| models | files | workflows | manifest | per model | largest workflow | over 500 KB |")
    print("|---:|---:|---:|---:|---:|---|---|")
    for row in rows:
        print(f"| {row['models']:,} | {row['files']:,} | {row['workflows']:,} | {row['manifest_bytes']:,} B "
              f"| {row['manifest_bytes_per_model']:,} B | {row['largest_workflow']} "
              f"({row['largest_workflow_bytes']:,} B) | {', '.join(row['over_githubs_limit']) or 'none'} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
