"""The closed loop of issue #17 as one test: serve → monitor → retrain → shadow → promote → serve.

A real `mlspec serve` answers a stream of requests from three client threads for the whole test,
while the rest of the lifecycle happens beside it through the CLI only, no file copied by hand:
the stream drifts, `mlspec monitor --data predictions:MODEL` reads the prediction log and alerts,
retraining on new data (`mlspec run -s model:NAME+`, what the retrain workflow runs: the model and its
gate) registers a challenger that waits for approval, the server picks it up in shadow (challenger rows
appear in the log), and approving it (`mlspec registry promote`) swaps it in as champion. Not one
request fails along the way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.e2e.serving import Server
from tests.e2e.test_run import make_frame, make_project, mlspec
from tests.e2e.test_serve import INPUTS, serve_doc, train

SHIFTED = {"signal", "amount"}


def drifted(rows: int, seed: int) -> pd.DataFrame:
    """The training data's shape with two inputs moved: signal by +2.5 standard deviations, amounts x4."""
    frame = make_frame(rows, seed=seed)
    frame["signal"] = (frame["signal"] + 2.5).round(6)
    frame["amount"] = (frame["amount"] * 4).round(2)
    return frame


def logged_rows(root: Path) -> pd.DataFrame:
    """Every row of the prediction log of risk_lr written so far."""
    files = sorted((root / ".mlspec" / "artifacts" / "predictions" / "risk_lr").rglob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=["version", "challenger_version"])
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


@pytest.mark.slow
def test_serve_monitor_retrain_shadow_promote_with_no_failed_request(tmp_path: Path) -> None:
    doc = serve_doc(approval=True)  # the gate waits for approval: a retrained model becomes the challenger
    doc["monitors"] = {"risk_served": {"model": "risk_lr", "predictions": {"window": "1d"}, "schedule": "0 6 * * *",
                                       "drift": {"method": "psi", "min_rows": 50}}}
    root = make_project(tmp_path, doc)
    train(root, "--approve")  # v1: the champion

    with Server(root, "--poll", "0.1", "--flush-rows", "40", "--flush-seconds", "0.2", "--no-access-log") as server:
        server.wait_ready()
        stream = drifted(600, seed=21)[INPUTS]
        batches = [json.loads(stream.iloc[i:i + 5].to_json(orient="records")) for i in range(0, len(stream), 5)]
        answered: list[tuple[str, int]] = []  # (version, rows) per answer
        failures: list[str] = []
        stop = threading.Event()

        def loop(offset: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for i in range(100_000):  # bounded; stopped by the event long before
                    if stop.is_set():
                        return
                    batch = batches[(offset + i) % len(batches)]
                    try:
                        response = client.post("/v1/models/risk_lr:predict", json={"instances": batch})
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                        continue
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                        continue
                    version = response.headers["x-mlspec-version"]
                    if response.json()["version"] != int(version) or len(response.json()["predictions"]) != 5:
                        failures.append(f"mixed or short answer: header v{version}, {response.text[:200]}")
                    answered.append((version, len(batch)))

        clients = [threading.Thread(target=loop, args=(k * 40,)) for k in range(3)]
        for client in clients:
            client.start()
        try:
            # 1. the drifted stream reaches the log, and the monitor reading the log alerts on it
            server.wait_until(lambda: len(logged_rows(root)) >= 300, "300 logged rows")
            alert = mlspec(root, "monitor", "--data", "predictions:risk_lr")
            assert alert.code == 1, alert.stderr
            assert "ALERT" in alert.stderr and "monitor.risk_served" in alert.stderr
            report = json.loads((root / ".mlspec" / "reports" / "monitor.risk_served" / "report.json").read_text())
            assert report["verdict"] == "alert" and report["source"] == "predictions:risk_lr"
            assert set(report["drift"]["drifted"]) >= SHIFTED, report["drift"]
            assert report["shadow"] is None  # no challenger yet

            # 2. retrain on the new data, as the retrain workflow does: the model and its gate. The gate wants
            # approval, so v2 is registered as the challenger and v1 stays champion.
            new = drifted(800, seed=22)
            make_project(root, doc, frame=new)
            retrain = mlspec(root, "run", "-s", "model:risk_lr+")
            assert retrain.code == 0, retrain.stderr
            ls = mlspec(root, "registry", "ls", "risk_lr")
            assert ls.code == 0, ls.stderr

            # 3. the server picks the challenger up and scores it in shadow: challenger rows in the log
            server.wait_for_log(r"serving risk_lr v2 as challenger")
            server.wait_until(lambda: (logged_rows(root)["challenger_version"] == 2).sum() >= 20,
                              "challenger rows in the prediction log")
            assert {v for v, _ in answered} == {"1"}  # the challenger never answered a client

            # 4. approval: promote v2; the server swaps it in as champion under the request loop
            promoted = mlspec(root, "registry", "promote", "risk_lr", "--version", "2", "--reason",
                              "drift alert: retrained on recent data, approved")
            assert promoted.code == 0, promoted.stderr
            server.wait_for_log(r"serving risk_lr v2 as champion \(was v1\)")
            count = len(answered)
            server.wait_until(lambda: len(answered) > count + 20 and answered[-1][0] == "2", "answers from v2")
        finally:
            stop.set()
            for client in clients:
                client.join()
        assert failures == []
        versions = [v for v, _ in answered]
        assert versions.index("2") > 0 and "1" not in versions[len(versions) - 10:]
        server.stop_gracefully()

    # everything answered was logged, by the version that answered it
    logged = logged_rows(root)
    assert len(logged) == sum(rows for _, rows in answered)
    served = pd.Series([v for v, rows in answered for _ in range(rows)]).astype(int).value_counts().to_dict()
    assert logged["version"].astype(int).value_counts().to_dict() == served
    shadowed = logged[logged["challenger_version"].notna()]
    assert set(shadowed["version"]) == {1} and set(shadowed["challenger_version"]) == {2}
    assert np.isfinite(shadowed["challenger_score"].astype(float)).all()
    assert logged["signal"].mean() > 1.5  # the log holds what was sent: the drifted stream
