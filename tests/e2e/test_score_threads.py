"""`mlspec score` predicts on one BLAS/OpenMP thread, as `mlspec serve` does (issue #17 item 7).

A thread pool's start-up dwarfs a small batch (one-row `predict_proba` of a gradient-boosting
pipeline: 139 ms with the default threads, 7.5 ms with one), so score pins prediction. The test
reads the thread pools' limits from inside the prediction call, after raising them beforehand, so
it fails unless score itself sets the limit; it makes no timing claim.
"""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

from mlspec import api
from mlspec.runtime import score, scoring
from tests.e2e.test_run import make_project, mlspec
from tests.e2e.test_serve import serve_doc


def test_score_predicts_on_one_thread_and_restores_the_limits_after(tmp_path: Path, monkeypatch) -> None:
    doc = serve_doc()
    doc["models"]["risk_gbm"] = {"task": "classification", "source": "events", "label": "label",
                                 "features": ["signal_z", "amount_log"], "estimator": "hist_gradient_boosting",
                                 "params": {"max_iter": 5}, "metrics": ["roc_auc"]}
    doc["gates"]["risk_gbm_release"] = {"model": "risk_gbm", "require": ["roc_auc >= 0.5"]}
    root = make_project(tmp_path, doc)
    out = mlspec(root, "run")
    assert out.code == 0, out.stderr
    project = api.load(root)
    seen: list[list[dict]] = []
    real = scoring.predict

    def recording(*args, **kwargs):
        seen.append(threadpool_info())  # the pools loaded now (OpenBLAS, OpenMP) and their limits
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "predict", recording)
    for model in ("risk_lr", "risk_gbm"):
        with threadpool_limits(limits=2):  # what a 2-core machine would use; score must lower it
            before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
            scored = score.score(project.manifest, root, model, source_name="events")
            after = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
        assert scored.lineage["rows"] == 800
        # the limits are restored once predictions are made (scoring may load more pools: compare the ones before)
        assert {path: after[path] for path in before} == before
    assert len(seen) == 2
    for pools in seen:
        assert {p["user_api"] for p in pools} >= {"blas", "openmp"}  # both kinds are loaded and limited
        assert {p["num_threads"] for p in pools} == {1}, pools
