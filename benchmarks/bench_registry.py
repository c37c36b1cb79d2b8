"""Benchmark registry operations on each backend: register, promote, resolve the champion, list.

Backends: SQLite (the laptop default), a file:// log, PostgreSQL (when MLSPEC_TEST_PG_URL is set, as
`eval "$(bash scripts/ci_postgres.sh)"` does) and S3 through a local moto server on 127.0.0.1 (an
upper bound on a real bucket's speed: no network between here and the server, but moto is slower per
request than S3). Each operation is timed in this process after the registry is opened (imports and
opening are reported apart), over --ops operations; artifacts are 200 KB random blobs, about a small
scikit-learn pipeline's size.

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
    registry = open_registry(registry_uri, artifacts_uri, root, cache=root / "cache")
    registry.versions("bench")
    opened = time.perf_counter() - started
    rng = random.Random(1)
    register = [_timed(lambda: registry.register("bench", rng.randbytes(200_000), metrics={"auc": 0.9}, params={},
                                                 lineage={}, profile={}, alias="challenger", reason="bench"))
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
    print(f"\nRegistry operations, medians of {args.ops} (list: of 5, over {args.ops} versions), milliseconds\n")
    print("| backend | open + first read | register (200 KB) | promote | resolve champion | list versions |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['open'] * 1000:.0f} | {r['register'] * 1000:.1f} | {r['promote'] * 1000:.1f} "
              f"| {r['champion'] * 1000:.1f} | {r['list'] * 1000:.1f} |")


if __name__ == "__main__":
    main()
