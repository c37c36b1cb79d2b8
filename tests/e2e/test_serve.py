"""`mlspec serve` end to end: a real uvicorn server in a subprocess, real models, a real HTTP client.

Each test trains with `mlspec run` on a small generated dataset in tmp_path, starts the server on a
free port of 127.0.0.1 and talks to it over HTTP: readiness before and after a champion exists,
V2 answers equal to `mlspec score`, a 422 naming the field and rule for every contract rule, the
body and batch caps, version headers and pinning, a tampered artifact refused, promotion and
rollback swapped in under a request loop with no failed or mixed answer, the shadow challenger and
its counts, and the prediction log read back by `mlspec monitor --data predictions:MODEL`.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.e2e.serving import Server, v2_request
from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc

INPUTS = ["age", "amount", "channel", "hour", "signal"]  # what risk_lr reads, as the server sorts them
ROW = {"signal": 0.5, "channel": "web", "hour": 3, "age": 30, "amount": 12.5}


def serve_doc(approval: bool = False, c: float = 1.0) -> dict:
    """The test project with one quick model (risk_lr) and a gate that any sensible model passes."""
    doc = spec_doc()
    del doc["models"]["risk_gbm"], doc["gates"]["risk_gbm_release"]
    doc["models"]["risk_lr"]["params"]["C"] = c
    doc["gates"]["risk_lr_release"] = {"model": "risk_lr", "require": ["roc_auc >= 0.5"]}
    if approval:
        doc["gates"]["risk_lr_release"]["approval"] = {"environment": "production"}
    return doc


def train(root: Path, *args: str) -> None:
    out = mlspec(root, "run", *args)
    assert out.code == 0, out.stderr


def predict(server: Server, row: dict = ROW, path: str = "/v1/models/risk_lr:predict") -> httpx.Response:
    return server.client.post(path, json={"instances": [row]})


def violations(response: httpx.Response) -> set[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return {(v["field"], v["rule"]) for v in response.json()["violations"]}


@pytest.mark.slow
def test_ready_only_after_a_champion_then_answers_like_score(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc())
    with Server(root, "--poll", "0.2") as server:
        # nothing trained yet: alive, not ready, and it says why
        assert server.client.get("/v2/health/live").status_code == 200
        server.wait_for_log("risk_lr is not ready: no champion")
        not_ready = server.client.get("/v2/health/ready")
        assert not_ready.status_code == 400  # the protocol's "false": a 4xx
        assert "no champion" in not_ready.json()["reasons"][0]
        assert predict(server).status_code == 503
        assert server.client.get("/v2/models/risk_lr/ready").status_code == 400

        train(root)  # registers v1 as champion; the server's next poll loads it
        server.wait_ready()
        assert "serving risk_lr v1 as champion" in server.log

        # V2 infer on 60 rows of the training file equals `mlspec score` on the same file
        out = mlspec(root, "score", "risk_lr", "--source", "events", "-o", str(tmp_path / "scores.csv"))
        assert out.code == 0, out.stderr
        scored = pd.read_csv(tmp_path / "scores.csv", dtype={"age": "Int64"}).head(60)
        answer = server.client.post("/v2/models/risk_lr/infer", json=v2_request(scored, INPUTS, "req-1"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model_name"] == "risk_lr" and body["model_version"] == "1" and body["id"] == "req-1"
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["label"]["data"] == scored["prediction"].tolist()
        assert outputs["probabilities"]["shape"] == [60, 2]
        assert json.loads(outputs["probabilities"]["parameters"]["classes"]) == [0, 1]
        per_class = scored[["proba_0", "proba_1"]].to_numpy().ravel().tolist()  # row-major, as the V2 tensor
        assert outputs["probabilities"]["data"] == pytest.approx(per_class, abs=1e-12)

        # headers name the version that answered, and its artifact's digest
        lineage = json.loads((tmp_path / "scores.csv.json").read_text())
        assert answer.headers["x-mlspec-model"] == "risk_lr"
        assert answer.headers["x-mlspec-version"] == "1"
        assert answer.headers["x-mlspec-sha256"] == lineage["artifact_sha256"]

        # v1 predict: the label and a probability per class
        v1 = predict(server)
        assert v1.status_code == 200
        row = v1.json()["predictions"][0]
        assert set(row["probabilities"]) == {"0", "1"}
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)
        assert row["label"] == (1 if row["probabilities"]["1"] >= 0.5 else 0)

        # metadata and pinning a version by URL
        meta = server.client.get("/v2/models/risk_lr").json()
        assert [i["name"] for i in meta["inputs"]] == INPUTS and meta["versions"] == ["1"]
        pinned = predict(server, path="/v1/models/risk_lr/versions/1:predict")
        assert pinned.status_code == 200 and pinned.headers["x-mlspec-version"] == "1"
        assert server.client.post("/v2/models/risk_lr/versions/9/infer", json={"inputs": []}).status_code == 404
        assert server.client.post("/v2/models/nope/infer", json={"inputs": []}).status_code == 404
        server.stop_gracefully()


@pytest.mark.slow
def test_every_contract_rule_is_a_422_naming_field_and_rule(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc())
    train(root)
    with Server(root, "--max-body", "4000", "--max-batch", "5") as server:
        server.wait_ready()
        cases = {
            ("signal", "type"): {**ROW, "signal": "high"},
            ("hour", "type"): {**ROW, "hour": 3.5},
            ("hour", "min"): {**ROW, "hour": -1},
            ("hour", "max"): {**ROW, "hour": 24},
            ("age", "min"): {**ROW, "age": 3},
            ("amount", "min"): {**ROW, "amount": -0.01},
            ("channel", "values"): {**ROW, "channel": "fax"},
            ("channel", "nullable"): {**ROW, "channel": None},
            ("signal", "required"): {k: v for k, v in ROW.items() if k != "signal"},
            ("label", "unknown_field"): {**ROW, "label": 1},
        }
        for expected, row in cases.items():
            response = predict(server, row)
            assert violations(response) == {expected}, (expected, response.text)
            found = response.json()["violations"][0]
            assert found["row"] == 0 and found["message"].startswith(expected[0])
            assert response.headers["x-mlspec-version"] == "1"
        assert predict(server, {**ROW, "age": None}).status_code == 200  # age is nullable
        # every violation of a request at once, in every row
        many = server.client.post("/v1/models/risk_lr:predict",
                                  json={"instances": [{**ROW, "hour": 99}, {**ROW, "channel": "fax", "zz": 0}]})
        assert violations(many) == {("hour", "max"), ("channel", "values"), ("zz", "unknown_field")}
        assert {v["row"] for v in many.json()["violations"]} == {0, 1}
        # the protocol itself: bodies that are not JSON or not the expected shape
        broken = server.client.post("/v1/models/risk_lr:predict", content=b"{not json")
        assert violations(broken) == {("body", "json")}
        assert violations(server.client.post("/v1/models/risk_lr:predict", json=[ROW])) == {("body", "type")}
        assert violations(server.client.post("/v1/models/risk_lr:predict", json={"rows": [ROW]})) == \
            {("rows", "unknown_field")}
        # V2: datatype, shape, a missing input, an unknown one
        good = v2_request(pd.DataFrame([ROW]), INPUTS)
        wrong_type = json.loads(json.dumps(good))
        wrong_type["inputs"][2]["datatype"] = "FP32"  # channel is text
        assert violations(server.client.post("/v2/models/risk_lr/infer", json=wrong_type)) == \
            {("channel", "datatype")}
        wrong_shape = json.loads(json.dumps(good))
        wrong_shape["inputs"][0]["shape"] = [2]
        assert violations(server.client.post("/v2/models/risk_lr/infer", json=wrong_shape)) == {("age", "shape")}
        missing = {"inputs": [t for t in good["inputs"] if t["name"] != "hour"]}
        assert violations(server.client.post("/v2/models/risk_lr/infer", json=missing)) == {("hour", "required")}
        extra = {"inputs": [*good["inputs"], {"name": "label", "shape": [1], "datatype": "INT64", "data": [1]}]}
        assert violations(server.client.post("/v2/models/risk_lr/infer", json=extra)) == {("label", "unknown_field")}
        out_of_range = json.loads(json.dumps(good))
        out_of_range["inputs"][3]["data"] = [40]
        assert violations(server.client.post("/v2/models/risk_lr/infer", json=out_of_range)) == {("hour", "max")}
        # caps: more rows than --max-batch is a 422; a body over --max-body is refused before parsing
        assert violations(server.client.post("/v1/models/risk_lr:predict", json={"instances": [ROW] * 6})) == \
            {("instances", "max_batch")}
        big = server.client.post("/v1/models/risk_lr:predict", content=b"{" + b" " * 5000 + b"}")
        assert big.status_code == 413 and "--max-body" in big.json()["error"]

        def chunks():
            yield b'{"instances": ['
            for _ in range(200):
                yield b'{"signal": 0.1, "channel": "web", "hour": 1, "age": 30, "amount": 1.0},'

        streamed = server.client.post("/v1/models/risk_lr:predict", content=chunks())  # no Content-Length
        assert streamed.status_code == 413
        metrics = server.client.get("/metrics").text
        assert 'mlspec_validation_failures_total{model="risk_lr",rule="max"}' in metrics
        assert "Traceback" not in server.log


@pytest.mark.slow
def test_a_tampered_artifact_keeps_the_server_not_ready(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc())
    train(root)
    artifact = next((root / ".mlspec" / "artifacts" / "sha256").rglob("*.skops"))
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with Server(root, "--poll", "0.2") as server:
        server.wait_for_log("has been modified")
        response = server.client.get("/v2/health/ready")
        assert response.status_code == 400
        assert "modified" in response.json()["reasons"][0]
        assert predict(server).status_code == 503
        assert "risk_lr is not ready" in server.log


@pytest.mark.slow
def test_promotion_and_rollback_swap_under_load_without_failed_or_mixed_answers(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc(c=1.0))
    train(root)
    with Server(root, "--poll", "0.1", "--no-access-log") as server:
        server.wait_ready()
        rows = make_frame(20, seed=5)[INPUTS]
        body = v2_request(rows, INPUTS)
        expected: dict[str, list] = {}

        def answer_of(response: httpx.Response) -> list:
            return next(o for o in response.json()["outputs"] if o["name"] == "probabilities")["data"]

        expected["1"] = answer_of(server.client.post("/v2/models/risk_lr/infer", json=body))
        seen, failures, stop = [], [], threading.Event()

        def loop() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for _ in range(20000):  # bounded; stopped by the event long before
                    if stop.is_set():
                        return
                    response = client.post("/v2/models/risk_lr/infer", json=body)
                    if response.status_code != 200:
                        failures.append(response.status_code)
                        continue
                    version = response.headers["x-mlspec-version"]
                    if response.json()["model_version"] != version:
                        failures.append(f"mixed: header v{version}, body v{response.json()['model_version']}")
                    seen.append((version, answer_of(response)))

        workers = [threading.Thread(target=loop) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            make_project(root, serve_doc(c=0.01))  # a different model: promoted as v2 by its gate
            train(root)
            server.wait_for_log(r"serving risk_lr v2 as champion \(was v1\)")
            server.wait_until(lambda: any(v == "2" for v, _ in seen), "an answer from v2")
            expected["2"] = answer_of(server.client.post("/v2/models/risk_lr/versions/2/infer", json=body))
            out = mlspec(root, "registry", "rollback", "risk_lr", "--reason", "test")
            assert out.code == 0, out.stderr
            server.wait_for_log(r"serving risk_lr v1 as champion \(was v2\)")
            count = len(seen)
            server.wait_until(lambda: len(seen) > count + 10 and seen[-1][0] == "1", "answers from v1 again")
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert failures == []
        assert expected["1"] != expected["2"]
        versions = [v for v, _ in seen]
        assert {"1", "2"} <= set(versions)
        for version, probabilities in seen:  # each answer is wholly one version's
            assert probabilities == expected[version]
        server.stop_gracefully()


@pytest.mark.slow
def test_shadow_challenger_and_the_prediction_log_feed_the_monitor(tmp_path: Path) -> None:
    doc = serve_doc(approval=True)
    doc["monitors"] = {"risk_served": {"model": "risk_lr", "predictions": {"window": "1d"}, "schedule": "0 6 * * *",
                                       "drift": {"method": "psi", "min_rows": 10}}}
    root = make_project(tmp_path, doc)
    train(root, "--approve")  # v1 champion
    make_project(root, {**doc, "models": serve_doc(approval=True, c=0.01)["models"]})
    train(root)  # v2 waits for approval: the challenger
    empty = mlspec(root, "monitor", "--data", "predictions:risk_lr")
    assert empty.code == 1 and "prediction log of 'risk_lr' has no rows" in empty.stderr

    requests = 40  # two threads of ten 15-row requests at once, then the same twenty one by one
    with Server(root, "--shadow-queue", "4", "--flush-rows", "50", "--no-access-log") as server:
        server.wait_ready()
        server.wait_for_log("serving risk_lr v2 as challenger")
        frame = make_frame(300, seed=9)[INPUTS]
        errors = []

        def send(part) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for start in range(0, len(part), 15):
                    response = client.post("/v1/models/risk_lr:predict",
                                           json={"instances": json.loads(part.iloc[start:start + 15]
                                                                         .to_json(orient="records"))})
                    if response.status_code != 200 or response.headers["x-mlspec-version"] != "1":
                        errors.append(response.text)

        parts = [frame.iloc[i * 150:(i + 1) * 150] for i in range(2)]
        threads = [threading.Thread(target=send, args=(p,)) for p in parts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for part in parts:
            send(part)
        assert errors == []

        def counts() -> tuple[float, float]:
            found = {"scored": 0.0, "dropped": 0.0}
            for line in server.client.get("/metrics").text.splitlines():
                for name in found:
                    if line.startswith(f'mlspec_shadow_{name}_total{{model="risk_lr"}}'):
                        found[name] = float(line.split()[-1])
            return found["scored"], found["dropped"]

        # every request was either scored in shadow or dropped (queue full), once the queue has drained
        scored, _dropped = server.wait_until(lambda: (c := counts())[0] + c[1] == requests and c, "the shadow queue")
        assert scored > 0
        server.stop_gracefully()  # graceful: queued shadow scores finish, the log is flushed

    files = sorted((root / ".mlspec" / "artifacts" / "predictions" / "risk_lr").rglob("*.parquet"))
    assert files and all(f.parent.name.startswith("date=") for f in files)
    logged = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(logged) == 600 and set(logged["version"]) == {1}
    shadowed = logged[logged["challenger_version"].notna()]
    assert len(shadowed) == scored * 15 and set(shadowed["challenger_version"]) == {2}
    assert logged.groupby("request_id").size().eq(15).all()

    out = mlspec(root, "monitor", "--data", "predictions:risk_lr@1d")
    assert out.code in (0, 1), out.stderr
    assert "ERROR" not in out.stderr
    report = json.loads((root / ".mlspec" / "reports" / "monitor.risk_served" / "report.json").read_text())
    assert report["source"] == "predictions:risk_lr@1d" and report["rows"] == 600
    assert report["shadow"]["from"] == "prediction log" and report["shadow"]["challenger_version"] == 2
    assert report["shadow"]["rows"] == len(shadowed)
    agree = (shadowed["prediction"].astype(float) == shadowed["challenger_prediction"].astype(float)).mean()
    assert report["shadow"]["agreement"] == pytest.approx(agree)
    # the monitor of the spec names the log itself
    own = mlspec(root, "monitor", "risk_served")
    assert "ERROR" not in own.stderr, own.stderr
    summary = (root / ".mlspec" / "reports" / "monitor.risk_served" / "summary.md").read_text()
    assert "served rows where both answers were logged" in summary


@pytest.mark.slow
def test_shutdown_finishes_the_request_in_flight(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc())
    train(root)
    server = Server(root)
    server.wait_ready()
    half_sent, terminated = threading.Event(), threading.Event()

    def body():  # half a request, then (once the server is shutting down) the rest
        yield b'{"instances": [' + json.dumps(ROW).encode()
        half_sent.set()  # runs when the client asks for the next chunk: the first one is on the wire
        assert terminated.wait(60)
        yield b"]}"

    answers = []
    sender = threading.Thread(target=lambda: answers.append(
        server.client.post("/v1/models/risk_lr:predict", content=body())))
    sender.start()
    assert half_sent.wait(60)
    # one round trip through the server's event loop on another connection: the first request's head,
    # which arrived before, has been read by then
    assert server.client.get("/v2/health/live").status_code == 200
    server.process.send_signal(signal.SIGTERM)
    server.wait_for_log("Shutting down")
    terminated.set()
    sender.join()
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["predictions"][0]["label"] in (0, 1)
    server.stop_gracefully()
    logged = list((root / ".mlspec" / "artifacts" / "predictions" / "risk_lr").rglob("*.parquet"))
    assert sum(len(pd.read_parquet(f)) for f in logged) == 1  # the last flush, at shutdown, wrote it


@pytest.mark.slow
def test_workers_each_serve_and_write_their_own_log_files(tmp_path: Path) -> None:
    root = make_project(tmp_path, serve_doc())
    train(root)
    with Server(root, "--workers", "2", "--no-access-log") as server:
        server.wait_until(lambda: server.log.count("ready: risk_lr v1") == 2, "both workers ready")
        for _ in range(20):
            assert predict(server).status_code == 200
        server.stop_gracefully()
    logged = list((root / ".mlspec" / "artifacts" / "predictions" / "risk_lr").rglob("*.parquet"))
    # every row once, whichever worker answered it (each names its files by its own process)
    assert sum(len(pd.read_parquet(f)) for f in logged) == 20
