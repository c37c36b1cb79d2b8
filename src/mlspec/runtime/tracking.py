"""Training runs mirrored to MLflow (`project.tracking: mlflow`), whatever the registry backend.

Every model that trains gets a run in the experiment `mlspec/<project>`: the estimator's parameters (the
search's best ones included) and the split's settings as parameters; metrics on the test split (`test_*`)
and the train split (`train_*`), cross-validation means and deviations (`cv_*_mean`, `cv_*_std`) and the
search's best score; tags for the model's config hash, the data's sha256, the git commit (also as MLflow's
`mlflow.source.git.commit`), the candidate's artifact sha256 and the libraries' versions; the candidate's
record (slices included, profile left out) as `mlspec/candidate.json`. Each trial of a hyperparameter
search is a child run with its parameters and cross-validated score.

The server is the registry's when the registry is MLflow's, else the one MLFLOW_TRACKING_URI names. The
mirror is a copy, not the record: a run that cannot be mirrored (no server named, the server down, a
read-only token in a pull request) says why and still succeeds.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from mlspec.manifest import Manifest, ModelNode
from mlspec.runtime.errors import RegistryError

_PARAM_LIMIT = 6_000
_BATCH = 100  # MLflow takes at most 100 parameters (1,000 metrics) per log_batch


def mirror(manifest: Manifest, model: ModelNode, record: dict, root: Path) -> dict:
    """Mirror one trained candidate; returns {"run_id", "experiment", "trials"} or {"error": why not}."""
    from mlspec.runtime.mlflow_server import Connection, experiment_id, experiment_name, no_stdout, tracking_target

    try:
        where = tracking_target(manifest.project.registry_uri, root)
        if where is None:
            return {"error": "no MLflow server is named: set MLFLOW_TRACKING_URI (in CI, the repository secret of "
                             "that name), or use an MLflow registry"}
        conn = Connection(where)
        name = experiment_name(manifest.project.name, where.databricks)
        experiment = experiment_id(conn, name, create=True)
        assert experiment is not None  # made when missing
        run_id = _run(conn, experiment, manifest, model, record)
        with no_stdout():  # MLflow prints each finished run's link on standard output, which is mlspec's data
            trials = _trials(conn, experiment, run_id, model, record.get("search") or {})
            conn.call("write", "set_terminated", run_id)
        return {"run_id": run_id, "experiment": name, "trials": trials, "server": where.shown}
    except RegistryError as exc:
        return {"error": exc.message.replace("the MLflow registry", "MLflow")}


def _run(conn, experiment: str, manifest: Manifest, model: ModelNode, record: dict) -> str:
    lineage = record["lineage"]
    tags = {"mlspec.kind": "training", "mlspec.project": manifest.project.name, "mlspec.model": model.name,
            "mlspec.sha256": record["sha256"], "mlspec.config_hash": model.config_hash,
            "mlspec.estimator": model.estimator, "mlspec.seed": str(manifest.project.seed)}
    for key, field in (("data_sha256", "data_fingerprint"), ("git_commit", "git_commit"),
                       ("mlspec_version", "mlspec_version")):
        if lineage.get(field):
            tags[f"mlspec.{key}"] = str(lineage[field])
    if lineage.get("git_commit"):
        tags["mlflow.source.git.commit"] = str(lineage["git_commit"])
    tags.update({f"mlspec.library.{name}": str(v) for name, v in (lineage.get("libraries") or {}).items()})
    run = conn.retry("write", "create_run", experiment, run_name=f"{model.name} {record['sha256'][:12]}", tags=tags)
    params = {**{str(k): v for k, v in record["params"].items()},
              "mlspec.features": ",".join(model.features), "mlspec.split.method": model.split.method,
              "mlspec.split.test_fraction": model.split.test_fraction}
    if model.cv_folds:
        params["mlspec.cv_folds"] = model.cv_folds
    if model.search is not None:
        params.update({"mlspec.search.method": model.search.method, "mlspec.search.n_iter": model.search.n_iter,
                       "mlspec.search.folds": model.search.folds, "mlspec.search.metric": model.search.metric})
    metrics = {f"test_{k}": v for k, v in record["metrics"].items()}
    metrics.update({f"train_{k}": v for k, v in (record.get("metrics_train") or {}).items()})
    for name, stats in (record.get("cv") or {}).items():
        metrics.update({f"cv_{name}_mean": stats["mean"], f"cv_{name}_std": stats["std"]})
    search = record.get("search") or {}
    if "best_score" in search:
        metrics[f"search_best_{search['metric']}"] = search["best_score"]
    metrics.update({"rows_train": record["rows_train"], "rows_test": record["rows_test"]})
    log(conn, run.info.run_id, params, metrics)
    shown = {k: v for k, v in record.items() if k != "profile"}
    with tempfile.TemporaryDirectory(prefix="mlspec-tracking-") as folder:
        (Path(folder) / "candidate.json").write_text(json.dumps(shown, indent=2, sort_keys=True, default=str))
        conn.call("write", "log_artifacts", run.info.run_id, folder, "mlspec")
    return run.info.run_id


def _trials(conn, experiment: str, parent: str, model: ModelNode, search: dict) -> int:
    """One child run per search trial: its parameters, its cross-validated score, its rank."""
    metric = search.get("metric", "score")
    for i, trial in enumerate(search.get("trials") or [], 1):
        tags = {"mlflow.parentRunId": parent, "mlspec.kind": "search-trial", "mlspec.model": model.name}
        run = conn.retry("write", "create_run", experiment, run_name=f"{model.name} trial {i}", tags=tags)
        log(conn, run.info.run_id, trial["params"], {f"cv_{metric}_mean": trial["mean"],
                                                     f"cv_{metric}_std": trial["std"], "rank": trial["rank"]})
        conn.call("write", "set_terminated", run.info.run_id)
    return len(search.get("trials") or [])


def log(conn, run_id: str, params: dict, metrics: dict) -> None:
    """Parameters (as text, cut to MLflow's limit) and finite metrics of a run, in batches."""
    from mlflow.entities import Metric, Param

    stamp = int(time.time() * 1000)
    plist = [Param(str(k)[:250], (v if isinstance(v, str) else json.dumps(v, default=str))[:_PARAM_LIMIT])
             for k, v in sorted(params.items())]
    mlist = [Metric(str(k)[:250], float(v), stamp, 0) for k, v in sorted(metrics.items())
             if isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")]
    for start in range(0, max(len(plist), len(mlist), 1), _BATCH):
        conn.retry("write", "log_batch", run_id, metrics=mlist[start:start + _BATCH],
                   params=plist[start:start + _BATCH])
