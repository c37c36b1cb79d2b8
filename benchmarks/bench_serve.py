"""Benchmark `mlspec serve`: latency and throughput of one-row and 100-row requests against two floors.

A project with a HistGradientBoosting pipeline (the test project's `risk_gbm`) is trained with
`mlspec run` in a temporary folder. Then, one after another on this machine's loopback:

1. the in-process floor: the same skops pipeline, loaded from the registry, called directly
   (`predict_proba` on a one-row or 100-row frame built beforehand), one BLAS/OpenMP thread;
2. the HTTP floor: a hand-written FastAPI endpoint on uvicorn serving the same pipeline with the same
   thread pinning (`{"instances": [...]}` -> DataFrame -> predict_proba -> JSON), no validation;
3. `mlspec serve` (shadow scoring and the prediction log on, as deployed; the access log off, as
   behind a proxy that logs), through `POST /v2/models/risk_gbm/infer` and `/v1/models/risk_gbm:predict`.

The client keeps one HTTP/1.1 connection open and sends a fixed number of requests one at a time
(--requests per case, in --rounds rounds that alternate the cases, each after --warmup requests), so
latency is per request and throughput is requests per second at concurrency 1. Prints a markdown
table and writes benchmarks/out/serve.json.

    .venv/bin/python benchmarks/bench_serve.py [--requests 2000] [--rounds 5] [--warmup 50]
"""

from __future__ import annotations

import argparse
import http.client
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
OUT = REPO / "benchmarks" / "out" / "serve.json"
sys.path.insert(0, str(REPO))

FLOOR_APP = '''
import json, os, sys
from pathlib import Path
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response
from threadpoolctl import threadpool_limits
import uvicorn
from mlspec.runtime.artifacts import loads_verified

threadpool_limits(1)
data, sha = Path(sys.argv[1]).read_bytes(), sys.argv[2]
pipeline = loads_verified(data, sha)
columns = sys.argv[3].split(",")
app = FastAPI()

@app.post("/predict")
async def predict(request: Request):
    rows = json.loads(await request.body())["instances"]
    proba = pipeline.predict_proba(pd.DataFrame.from_records(rows, columns=columns))
    labels = pipeline.classes_[proba.argmax(axis=1)].tolist()
    return Response(json.dumps({"predictions": [{"label": l, "probabilities": p}
                                                for l, p in zip(labels, proba.tolist())]}),
                    media_type="application/json")

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[4]), log_level="warning")
'''


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": pick(0.50) * 1000, "p99_ms": pick(0.99) * 1000, "mean_ms": statistics.fmean(ordered) * 1000,
            "throughput_rps": len(ordered) / sum(ordered)}


def local_times(pipeline, frame, requests: int, warmup: int) -> list[float]:
    times = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        pipeline.predict_proba(frame)
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return times


def http_times(port: int, path: str, body: bytes, requests: int, warmup: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/json"}
    times = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {payload[:300]!r}")
        if i >= warmup:
            times.append(elapsed)
    connection.close()
    return times


def wait_port(port: int, path: str = "/", deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=50, help="requests before each round's timing starts")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from tests.conftest import run_cli
    from tests.e2e.serving import Server, v2_request
    from tests.e2e.test_run import make_frame, make_project, spec_doc
    from threadpoolctl import threadpool_limits

    from mlspec import api
    from mlspec.runtime.steps import Paths, open_registry

    inputs = ["age", "amount", "channel", "hour", "signal"]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        root = Path(folder)
        doc = spec_doc()
        del doc["models"]["risk_lr"], doc["gates"]["risk_lr_release"]
        make_project(root, doc, make_frame(4000))
        out = run_cli("-C", str(root), "run")
        assert out.code == 0, out.stderr
        manifest = api.load(root).manifest
        registry = open_registry(manifest, Paths.of(manifest, root))
        champion = registry.champion("risk_gbm")
        pipeline = registry.load_model(champion.artifact_sha256)
        artifact = root / "model.skops"
        artifact.write_bytes(registry.artifact(champion.artifact_sha256))
        registry.close()

        rows = make_frame(100, seed=3)[inputs]
        one, hundred = rows.head(1), rows
        records = {1: json.loads(one.to_json(orient="records")), 100: json.loads(hundred.to_json(orient="records"))}
        frames = {1: one.astype({"age": "float64"}), 100: hundred.astype({"age": "float64"})}

        port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        floor = subprocess.Popen([sys.executable, "-c", FLOOR_APP, str(artifact), champion.artifact_sha256,
                                  ",".join(inputs), str(port)], env=env)
        server = Server(root, "--no-access-log")
        try:
            wait_port(port)
            server.wait_ready()
            served = int(server.url.rsplit(":", 1)[1])
            cases = {}
            for size in (1, 100):
                v1 = json.dumps({"instances": records[size]}).encode()
                v2 = json.dumps(v2_request(rows.head(size).astype({"age": "Int64"}), inputs)).encode()
                cases[f"in-process predict_proba, {size} row(s)"] = ("local", size)
                cases[f"hand-written FastAPI, {size} row(s)"] = (port, "/predict", v1)
                cases[f"mlspec serve V2 infer, {size} row(s)"] = (served, "/v2/models/risk_gbm/infer", v2)
                cases[f"mlspec serve v1 predict, {size} row(s)"] = (served, "/v1/models/risk_gbm:predict", v1)
            # rounds alternate the cases, so that the shared machine's load hits them alike
            times: dict[str, list[float]] = {name: [] for name in cases}
            per_round = max(args.requests // args.rounds, 1)
            with threadpool_limits(1):
                for _ in range(args.rounds):
                    for name, case in cases.items():
                        if case[0] == "local":
                            times[name] += local_times(pipeline, frames[case[1]], per_round, args.warmup)
                        else:
                            times[name] += http_times(*case, per_round, args.warmup)
            results = {name: percentiles(found) for name, found in times.items()}
        finally:
            server.stop()
            floor.terminate()
            floor.wait()

    lines = ["| case | p50 ms | p99 ms | requests/s (concurrency 1) |", "|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['throughput_rps']:.0f} |")
    ratios = []
    for size in (1, 100):
        floor = results[f"hand-written FastAPI, {size} row(s)"]
        for kind in ("V2 infer", "v1 predict"):
            mine = results[f"mlspec serve {kind}, {size} row(s)"]
            ratios.append(f"| {kind}, {size} row(s) | {mine['throughput_rps'] / floor['throughput_rps']:.2f}x | "
                          f"{mine['p99_ms'] / floor['p99_ms']:.2f}x |")
    text = "\n".join(lines) + "\n\nvs the hand-written FastAPI floor:\n\n| mlspec serve | throughput | p99 |\n" \
        "|---|---|---|\n" + "\n".join(ratios) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"at": datetime.now(UTC).isoformat(), "python": platform.python_version(),
                               "requests": args.requests, "warmup": args.warmup, "rounds": args.rounds,
                               "load_average": os.getloadavg(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
