"""Evaluate a monitor: drift, quality and performance of a live batch against the champion.

The champion's reference profile (stored in the registry at training time) is the baseline, so
monitoring never re-reads the training data. When a challenger exists it scores the same batch in
shadow, and the report shows how often the two agree and, with labels, both models' metrics.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlspec.lang.metrics import METRICS
from mlspec.manifest import DriftSettings, Manifest, MonitorNode
from mlspec.runtime import batch, contract, data, duck, machine, scoring
from mlspec.runtime.errors import RunError
from mlspec.runtime.features import raw_columns
from mlspec.runtime.monitoring import drift, predictions

SCORED_SAMPLE_ROWS = 200_000  # with the DuckDB engine, the model scores a seeded sample of this many rows


@dataclass
class MonitorReport:
    """Everything a monitor found, and its verdict: ok, alert or insufficient_data."""

    monitor: str
    model: str
    version: int
    source: str
    rows: int
    data_fingerprint: str
    verdict: str = "ok"
    reasons: list[str] = field(default_factory=list)
    drift: dict | None = None
    quality: dict | None = None
    performance: dict | None = None
    shadow: dict | None = None
    contract: dict | None = None  # the batch's contract checks, always run: {"passed": bool, "checks": [...]}

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def _drift(settings: DriftSettings, frame, profile: dict, predictions, training_data: bool = False,
           measured: list | None = None) -> dict:
    """Drift of every input column and of the predictions. `share` is the drifted share of the columns
    that could be judged (`evaluated`), not of all columns: the others had too little data. `measured` are
    the columns' results computed already (by the DuckDB engine, over all rows rather than `frame`)."""
    import numpy as np

    # `settings`: every column's measure and threshold, resolved by the compiler
    def one(column: str) -> dict:
        measure, reference, values = settings.columns[column], profile["columns"][column], frame[column]
        if reference["kind"] == "numeric":
            result = drift.numeric(column, reference, values.to_numpy(dtype=float, na_value=np.nan),
                                   measure.method, measure.threshold, settings.min_rows, settings.bins)
        else:
            result = drift.categorical(column, reference, values, measure.method, measure.threshold,
                                       settings.min_rows)
        return asdict(result)

    # a missing column is a schema change, reported by _verdict
    names = [c for c in sorted(settings.columns) if c in profile["columns"] and c in frame.columns]
    if measured is not None:
        columns = [asdict(c) for c in measured]
    else:  # columns are independent and numpy's sorts release the GIL: use every core; map keeps the order
        with ThreadPoolExecutor(max_workers=min(len(names), machine.usable_cores()) or 1) as pool:
            columns = list(pool.map(one, names))
    decided = [c for c in columns if c["verdict"] != "insufficient_data"]
    drifted = [c["column"] for c in columns if c["verdict"] == "drift"]
    share = len(drifted) / len(decided) if decided else 0.0
    prediction = None
    if settings.predictions is not None and predictions is not None:
        # the reference is held-out predictions, as live rows are new to the model; a batch that is the
        # training data itself holds rows the model was fitted on, so it meets their predictions instead
        on_training = training_data and "prediction_on_training_data" in profile
        reference = profile["prediction_on_training_data" if on_training else "prediction"]
        prediction = asdict(drift.numeric("prediction", reference, np.asarray(predictions, dtype=float),
                                          settings.predictions.method, settings.predictions.threshold,
                                          settings.min_rows))
        if on_training and not prediction["note"]:
            prediction["note"] = "this batch is the model's training data: compared with its predictions on it"
    verdict = "insufficient_data" if not decided else ("drift" if drifted or share >= settings.share else "ok")
    if prediction is not None and prediction["verdict"] == "drift":
        verdict = "drift"
    ranked = sorted(columns, key=lambda c: -(c["score"] or 0.0))
    return {"verdict": verdict, "drifted": drifted, "share": share, "evaluated": len(decided),
            "dataset_drift": share >= settings.share, "columns": ranked, "prediction": prediction,
            "new_categories": {c["column"]: c["new_categories"] for c in columns if c["new_categories"]}}


def _checks(failures: list) -> list[dict]:
    return [{"column": f.column, "check": f.check, "rows": f.count, "samples": f.samples} for f in failures]


def _quality(settings: dict[str, Any], failures: list, rows: int) -> dict:
    worst = max((f.count for f in failures), default=0)
    share = worst / rows if rows else 1.0
    checks = _checks(failures)
    schema_changes = [f.column for f in failures if f.check in (data.MISSING_COLUMN, data.DUPLICATE_COLUMN)]
    alert = bool(schema_changes) or share > settings["max_failed_rows"]
    return {"verdict": "alert" if alert else "ok", "failed_share": share, "checks": checks,
            "schema_changes": schema_changes}


def _scores(pipeline, frame, model):
    predicted, proba = scoring.predict(pipeline, frame, model.task, model.decision_threshold)
    if model.task == "classification" and proba is not None:
        continuous = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    else:
        continuous = predicted
    return predicted, proba, continuous


def _performance(settings: dict[str, Any], model, frame, predicted, proba, classes, trained: dict) -> dict:
    labelled = frame[model.label].notna().to_numpy()
    if labelled.sum() < settings["min_rows"]:
        return {"verdict": "insufficient_data", "rows": int(labelled.sum()), "metrics": {}}
    live = scoring.compute(settings["metrics"], model.task, frame[model.label][labelled], predicted[labelled],
                           proba[labelled] if proba is not None else None, classes)
    rows, alert = [], False
    for name in settings["metrics"]:
        before, now = trained.get(name), live.get(name)
        if before is None or now is None or now != now:
            rows.append({"metric": name, "training": before, "live": now, "drop": None, "alert": True})
            alert = True
            continue
        drop = (before - now) if METRICS[name].higher_is_better else (now - before)
        flagged = drop > settings["max_drop"]
        alert = alert or flagged
        rows.append({"metric": name, "training": before, "live": now, "drop": drop, "alert": flagged})
    return {"verdict": "alert" if alert else "ok", "rows": int(labelled.sum()), "metrics": rows}


def _shadow(challenger, frame, model, champion_pred, labels_ok) -> dict:
    import numpy as np

    predicted, proba, _ = _scores(challenger["pipeline"], frame, model)
    if model.task == "classification":
        agreement = float(np.mean(np.asarray(predicted) == np.asarray(champion_pred)))
    else:
        agreement = float(np.corrcoef(np.asarray(predicted, float), np.asarray(champion_pred, float))[0, 1])
    out = {"challenger_version": challenger["version"], "agreement": agreement,
           "agreement_kind": "share of equal predictions" if model.task == "classification" else "correlation"}
    if labels_ok:
        y = frame[model.label]
        mask = y.notna().to_numpy()
        classes = getattr(challenger["pipeline"], "classes_", None)
        out["challenger_metrics"] = scoring.compute(model.metrics, model.task, y[mask], predicted[mask],
                                                    proba[mask] if proba is not None else None, classes)
    return out


def evaluate(manifest: Manifest, node: MonitorNode, root: Path, registry, store: Path,
             data_source: str | None = None, file: str | None = None) -> MonitorReport:
    """Run every check the monitor asks for on its live source (or `data_source`, or a data `file` checked
    against the champion's own inputs and the label); return the report. Contract breaks of the batch
    are findings in the report, whatever checks the monitor asks for."""
    model = manifest.model(node.model)
    champion = registry.champion(node.model)
    if champion is None:
        raise RunError(f"monitor '{node.name}': model '{node.model}' has no champion to monitor",
                       hint=f"run: mlspec run -s +model:{node.model}")
    duck_failures = duck_drift = approximation = None
    if file is not None:
        # the champion's own inputs are the columns its reference profile describes
        source = batch.file_source(manifest, model, sorted(champion.profile["columns"]), file, label=True)
        source_name, dataset = file, data.load(source, root, file=batch.local_file(file))
    else:
        source_name = data_source or node.data
        if predictions.is_log(source_name):  # what `mlspec serve` logged: the model's inputs and answers
            if predictions.parse(source_name)[0] != node.model:
                raise RunError(f"'{source_name}' is another model's prediction log; monitor '{node.name}' "
                               f"watches '{node.model}'", hint=f"use predictions:{node.model}")
            source, dataset = predictions.read(manifest, root, source_name)
        elif f"source.{source_name}" not in manifest.nodes:
            raise RunError(f"unknown source '{source_name}'",
                           hint="name a source of the spec, or the prediction log: predictions:MODEL[@WINDOW]")
        else:
            source = manifest.source(source_name)
            if duck.chosen(source, root):  # contract and drift over all rows in SQL; the model scores a sample
                from mlspec.runtime.duck import frames

                dataset, duck_failures, duck_drift, approximation = frames.monitor_batch(
                    source, root, node.drift, champion.profile, manifest.project.seed, SCORED_SAMPLE_ROWS)
            else:
                dataset = data.load(source, root)
    frame = dataset.frame
    report = MonitorReport(node.name, node.model, champion.version, source_name, dataset.rows, dataset.fingerprint)
    columns = [c for c in raw_columns(model, manifest) if c in frame.columns]
    challenger_version = registry.alias(node.model, "challenger")
    # the model is loaded and run only for what needs predictions: scoring a large batch costs more
    # than every drift and quality check together
    wants_scores = (node.drift is not None and node.drift.predictions is not None) or node.performance is not None \
        or (challenger_version is not None and challenger_version != champion.version)
    scored = wants_scores and len(columns) == len(raw_columns(model, manifest)) and len(frame) > 0
    pipeline = registry.load_model(champion.artifact_sha256) if scored else None
    unscorable: list[str] = []
    if pipeline is not None:
        # the champion scores with the inputs it was trained on, which a later spec may have changed (a gate
        # that refused the new model keeps the old champion): take them from the champion, not the spec
        needed = scoring.trained_inputs(pipeline, columns)
        unscorable = [c for c in needed if c not in frame.columns]
        if unscorable:
            scored, pipeline = False, None
        else:
            columns = needed
    predicted = proba = continuous = None
    # the contract check (pandera) only reads the frame: it runs on a second thread beside scoring and drift
    with ThreadPoolExecutor(max_workers=1) as checker:
        pending_failures = checker.submit(contract.check, source, dataset) if duck_failures is None else None
        if scored:
            predicted, proba, continuous = _scores(pipeline, frame[columns], model)
        if node.drift is not None:
            training_data = dataset.fingerprint == champion.lineage.get("data_fingerprint")
            report.drift = _drift(node.drift, frame, champion.profile, continuous, training_data, duck_drift)
            if approximation is not None:  # what the DuckDB engine's statistics approximate, and how closely
                report.drift["approximation"] = {**approximation, "scored_rows": len(frame) if scored else 0}
        failures = pending_failures.result() if pending_failures is not None else (duck_failures or [])
    if file is not None:
        failures = batch.drop_absent_label(failures, model)
    report.contract = {"passed": not failures, "checks": _checks(failures)}
    if node.quality is not None:
        report.quality = _quality(node.quality, failures, dataset.rows)
    labels_ok = model.label in frame.columns and scored
    if node.performance is not None:
        if labels_ok:
            report.performance = _performance(node.performance, model, frame, predicted, proba,
                                              getattr(pipeline, "classes_", None), champion.metrics)
        else:
            report.performance = {"verdict": "insufficient_data", "rows": 0, "metrics": [],
                                  "note": f"the live batch has no '{model.label}' labels"}
    if scored and challenger_version is not None and challenger_version != champion.version:
        challenger = registry.get(node.model, challenger_version)
        report.shadow = _shadow({"version": challenger_version,
                                 "pipeline": registry.load_model(challenger.artifact_sha256)},
                                frame[columns + ([model.label] if labels_ok else [])], model, predicted,
                                labels_ok)
    logged = predictions.logged_shadow(frame, model.task) if predictions.is_log(source_name) else None
    if logged is not None:  # what the challenger answered in shadow to the same served requests
        if report.shadow is not None and report.shadow.get("challenger_metrics"):
            logged["challenger_metrics"] = report.shadow["challenger_metrics"]
        report.shadow = logged
    missing = [c for c in raw_columns(model, manifest) if c not in frame.columns]
    _verdict(report, missing + [c for c in unscorable if c not in missing])
    return report


def _names(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _verdict(report: MonitorReport, missing: list[str]) -> None:
    parts = {"drift": report.drift, "quality": report.quality, "performance": report.performance}
    alerts = []
    # a column written twice is set aside by the contract, so it is missing from the frame, but not from the file
    repeated = {c["column"] for c in (report.contract or {}).get("checks", []) if c["check"] == data.DUPLICATE_COLUMN}
    lacking = [c for c in missing if c not in repeated]
    if lacking:
        alerts.append(f"schema change: the live data lacks {_names(lacking)}")
    if repeated:
        alerts.append(f"schema change: the live data has more than one column named {_names(sorted(repeated))}")
    if report.drift and report.drift["verdict"] == "drift":
        alerts.append(f"drift in {_names(report.drift['drifted']) or 'the predictions'}")
    if report.quality and report.quality["verdict"] == "alert":
        alerts.append(f"data quality: {len(report.quality['checks'])} failed check(s)")
    elif report.quality is None and report.contract:
        # without a quality section nothing sets a tolerance: a batch that breaks its contract is a finding
        # (a missing column is the schema change above)
        broken = [c for c in report.contract["checks"] if c["check"] != data.MISSING_COLUMN]
        if broken:
            alerts.append(f"data contract: {len(broken)} failed check(s)")
    if report.performance and report.performance["verdict"] == "alert":
        flagged = [m for m in report.performance["metrics"] if m["alert"]]
        dropped = [m["metric"] for m in flagged if m["drop"] is not None]
        # no drop: the metric could not be computed (one class among the labels, a metric the training run
        # did not record); an alert all the same, since a check that cannot decide must not pass
        unmeasured = [m["metric"] for m in flagged if m["drop"] is None]
        if dropped:
            alerts.append("performance dropped: " + _names(dropped))
        if unmeasured:
            alerts.append("performance not measurable: " + _names(unmeasured) + " (cannot be computed on these "
                          "labelled rows, e.g. all of one class)")
    report.reasons = alerts
    if alerts:
        report.verdict = "alert"
    elif any(p is not None and p["verdict"] == "insufficient_data" for p in parts.values()):
        report.verdict = "insufficient_data"  # never "ok" while a check could not be decided
    else:
        report.verdict = "ok"
