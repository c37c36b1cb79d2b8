"""Benchmark the generated jobs' install step: a cold pip cache against a warm one.

What a training job runs after setup-python: `pip install -c generated/constraints.txt
'mlspec-gitops[runtime]==VERSION'` into a fresh environment. Cold: an empty cache (every wheel
downloaded). Warm: the cache that a first install filled, as setup-python's `cache: pip` restores it
(keyed by the constraints file). The wheel of this checkout is served from a local folder
(`--find-links`), its dependencies come from the machine's package index. Each contender runs in a
new `python -m venv`; the two alternate, --runs times.

    .venv/bin/python benchmarks/bench_install.py [--runs 2] [--extras runtime]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _install(base: Path, wheels: Path, cache: Path | None, extras: str, version: str) -> float:
    venv = base / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--find-links", str(wheels), "-c", str(REPO / "generated" / "constraints.txt"),
               f"mlspec-gitops[{extras}]=={version}"]
    command += ["--cache-dir", str(cache)] if cache is not None else ["--no-cache-dir"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--extras", default="runtime")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from mlspec import __version__

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        wheels = base / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(REPO)],
                       check=True)
        cache = base / "cache"
        _install(base, wheels, cache, args.extras, __version__)  # fills the cache, as a first CI run would
        cold, warm = [], []
        for _ in range(args.runs):
            cold.append(_install(base, wheels, None, args.extras, __version__))
            warm.append(_install(base, wheels, cache, args.extras, __version__))
    print(f"\nInstall step of a job, mlspec-gitops[{args.extras}] with -c generated/constraints.txt, "
          f"medians of {args.runs}\n")
    print("| pip cache | time | ratio |")
    print("|---|---|---|")
    print(f"| cold (nothing cached) | {statistics.median(cold):.1f} s | 1.00 |")
    print(f"| warm (restored by setup-python) | {statistics.median(warm):.1f} s | "
          f"{statistics.median(warm) / statistics.median(cold):.2f} |")


if __name__ == "__main__":
    main()
