"""Benchmark registry operations on each backend: register, promote, resolve the champion, list.

Backends: SQLite (the laptop default), a file:// log, PostgreSQL (when MLSPEC_TEST_PG_URL is set, as
`eval "$(bash scripts/ci_postgres.sh)"` does), S3 through a local moto server on 127.0.0.1 (an
upper bound on a real bucket's speed: no network between here and the server, but moto is slower per
request than S3), and MLflow's registry: a real `mlflow server` on 127.0.0.1 with its artifacts on that
moto server (when MLSPEC_TEST_MLFLOW names its command, as `eval "$(bash scripts/ci_mlflow.sh)"` does)
and MLflow's server-less store in a SQLite file (mlflow+sqlite). Each operation is timed in this process
after the registry is opened (imports and opening are reported apart), over --ops operations; artifacts
are 200 KB random blobs, about a small scikit-learn pipeline's size. An MLflow registration of a real model
also writes MLflow's scikit-learn flavour; `--model` times that too (a fitted pipeline of the size above).
The added import time of MLflow's client is measured in fresh interpreters, before and after the runtime
(pandas, scikit-learn, skops) is loaded.

    .venv/bin/python benchmarks/bench_registry.py [--ops 30]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(name: str, registry_uri: str, artifacts_uri: str, root: Path, ops: int) -> dict:
    from mlspec.runtime.registry import open_registry

    started = time.perf_counter()
    registry = open_registry(registry_uri, artifacts_uri, root, cache=root / "cache", project="bench")
    registry.versions("bench")
    opened = time.perf_counter() - started
    rng = random.Random(1)
    register = [_timed(lambda: registry.register_once("bench", rng.randbytes(200_000), metrics={"auc": 0.9}, params={},
                                                      lineage={}, profile={}, alias="challenger", reason="bench")[0])
                for _ in range(ops)]
    promote = [_timed(lambda n=n: registry.set_alias("bench", "champion", n, "bench"))
               for n in range(1, ops + 1)]
    resolve = [_timed(lambda: registry.champion("bench")) for _ in range(ops)]
    listing = [_timed(lambda: registry.versions("bench")) for _ in range(5)]
    registry.close()
    return {"backend": name, "open": opened, "register": statistics.median(register),
            "promote": statistics.median(promote), "champion": statistics.median(resolve),
            "list": statistics.median(listing)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=30)
    parser.add_argument("--model", action="store_true", help="also time registering real models (MLflow server)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rows.append(measure("sqlite", "sqlite:///.mlspec/registry.db", ".mlspec/artifacts", base / "sqlite",
                            args.ops))
        rows.append(measure("file:// log", f"file://{base}/log/registry", f"file://{base}/log/artifacts",
                            base / "file", args.ops))
        pg = os.environ.get("MLSPEC_TEST_PG_URL")
        if pg:
            import sqlalchemy as sa

            from mlspec.runtime.data import expand_env

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            engine = sa.create_engine(expand_env(pg, "MLSPEC_TEST_PG_URL"))
            with engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
                rows.append(measure("postgresql", url, ".mlspec/artifacts", base / "pg", args.ops))
            finally:
                with engine.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
                              AWS_ENDPOINT_URL=f"http://{host}:{port}")
            import boto3

            boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="mlspec-bench")
            rows.append(measure("s3 (moto, loopback)", "s3://mlspec-bench/state", "s3://mlspec-bench/state/artifacts",
                                base / "s3", args.ops))
        finally:
            server.stop()
        command = os.environ.get("MLSPEC_TEST_MLFLOW")
        if command:
            rows.append(measure_mlflow_server(Path(command), base, args.ops, args.model))
        rows.append(measure("mlflow+sqlite (no server)", "mlflow+sqlite:///.mlspec/mlflow.db", ".mlspec/artifacts",
                            base / "mlflow-sqlite", args.ops))
    print(f"\nRegistry operations, medians of {args.ops} (list: of 5, over {args.ops} versions), milliseconds\n")
    print("| backend | open + first read | register (200 KB) | promote | resolve champion | list versions |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['open'] * 1000:.0f} | {r['register'] * 1000:.1f} | {r['promote'] * 1000:.1f} "
              f"| {r['champion'] * 1000:.1f} | {r['list'] * 1000:.1f} |")
    for r in rows:
        if "extra" in r:
            print(f"\n{r['backend']}: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r["extra"].items()))
    print("\nImporting MLflow's client (mlflow.tracking), fresh interpreters, medians of 3:")
    for label, before in (("alone", ""), ("after the runtime (pandas, scikit-learn, skops)",
                                          "import pandas, sklearn.pipeline, skops.io; ")):
        print(f"  {label}: {statistics.median(import_seconds(before) for _ in range(3)) * 1000:.0f} ms")


def import_seconds(before: str) -> float:
    """Seconds `import mlflow.tracking` takes in a fresh interpreter that ran `before` first."""
    import subprocess

    code = (f"{before}import time; t = time.perf_counter(); import mlflow.tracking; "
            "print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split()[-1])


def measure_mlflow_server(command: Path, base: Path, ops: int, model: bool) -> dict:
    """A real `mlflow server` (its own virtualenv), artifacts on a moto server, as the tests run it."""
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(REPO))
    from tests.e2e.conftest import S3Server
    from tests.e2e.mlflow_harness import CLIENT_ENV, start

    os.environ.update(CLIENT_ENV)
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
    folder = base / "mlflow-server"
    folder.mkdir()
    server = start(command, S3Server(endpoint, env), folder)
    try:
        row = measure("mlflow server (artifacts on moto)", server.registry_uri, ".mlspec/artifacts",
                      base / "mlflow", ops)
        row["extra"] = {"server start (to /health)": server.started_in, **window(server.registry_uri, base, ops)}
        if model:
            row["extra"].update(model_registration(server.registry_uri, base, max(3, ops // 5)))
        return row
    finally:
        server.stop()
        s3.stop()


def window(uri: str, base: Path, ops: int) -> dict:
    """The race MLflow's API leaves open: from reading the alias (under mlspec's lock) to MLflow moving it, a
    request's round trip; and the write lock's own cost, uncontended."""
    from mlspec.runtime.mlflow_lock import WriteLock
    from mlspec.runtime.registry import open_registry

    registry = open_registry(uri, ".mlspec/artifacts", base / "mlflow", project="bench")
    conn = registry.conn
    spans, locks = [], []
    for _ in range(ops):
        started = time.perf_counter()
        with WriteLock(conn):
            locks.append(time.perf_counter() - started)
            current = conn.client.get_registered_model("bench").aliases["champion"]
            read = time.perf_counter()
            conn.client.set_registered_model_alias("bench", "champion", current)
            spans.append(time.perf_counter() - read)
    return {"write lock taken (uncontended)": statistics.median(locks),
            "window from alias read to alias moved": statistics.median(spans)}


def model_registration(uri: str, base: Path, count: int) -> dict:
    """Registering a real pipeline: the canonical artifact plus MLflow's scikit-learn flavour."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from mlspec.runtime import artifacts
    from mlspec.runtime.registry import open_registry

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2_000, 8)), rng.integers(0, 2, 2_000)
    registry = open_registry(uri, ".mlspec/artifacts", base / "mlflow", project="bench")
    times, size = [], 0
    for i in range(count):
        blob = artifacts.dumps(RandomForestClassifier(n_estimators=20, max_depth=6, random_state=i).fit(x, y))
        size = len(blob)
        times.append(_timed(lambda b=blob: registry.register_once(
            "bench_model", b, metrics={"auc": 0.9}, params={}, profile={}, alias="champion", reason="bench",
            lineage={"task": "classification", "decision_threshold": 0.5})[0]))
    return {f"register a real model with its flavour ({size // 1000} KB)": statistics.median(times)}


if __name__ == "__main__":
    main()
