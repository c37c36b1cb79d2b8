"""Batch scoring: the champion scores a source, the challenger in shadow; predictions carry lineage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlspec.manifest import Manifest
from mlspec.runtime import contract, data, scoring
from mlspec.runtime.errors import RunError
from mlspec.runtime.features import raw_columns
from mlspec.runtime.jsonio import dumps
from mlspec.state.files import write_atomic


def score(manifest: Manifest, root: Path, model_name: str, source_name: str, output: Path) -> dict:
    """Write predictions to `output` (CSV) and lineage beside it (`.json`); return the lineage."""
    import numpy as np

    from mlspec.runtime.steps import Paths, open_registry

    model = manifest.nodes.get(f"model.{model_name}")
    source = manifest.nodes.get(f"source.{source_name}")
    if model is None or source is None:
        raise RunError(f"unknown {'model' if model is None else 'source'} "
                       f"'{model_name if model is None else source_name}'")
    paths = Paths.of(manifest, root)
    registry = open_registry(manifest, paths)
    try:
        champion = registry.champion(model_name)
        if champion is None:
            raise RunError(f"model '{model_name}' has no champion", hint=f"run: mlspec run -s +model:{model_name}")
        challenger_version = registry.alias(model_name, "challenger")
        challenger = registry.get(model_name, challenger_version) if challenger_version not in (
            None, champion.version) else None
        pipeline = registry.load_model(champion.artifact_sha256)
        shadow = registry.load_model(challenger.artifact_sha256) if challenger is not None else None
    finally:
        registry.close()
    dataset = data.load(source, root)
    contract.raise_on_failures(source, contract.check(source, dataset), root)
    columns = scoring.trained_inputs(pipeline, raw_columns(model, manifest))  # the champion's own inputs
    frame = dataset.frame
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        raise RunError(f"the champion of '{model_name}' was trained on columns source '{source_name}' does not "
                       f"have: {', '.join(lacking)}", hint="add them to the source's schema, or retrain the model")
    predicted, proba = scoring.predict(pipeline, frame[columns], model.task, model.decision_threshold)
    out = frame.copy()
    out["prediction"] = predicted
    if proba is not None and proba.shape[1] == 2:
        out["score"] = proba[:, 1]
    out["model_version"] = champion.version
    lineage = {"model": model_name, "version": champion.version, "artifact_sha256": champion.artifact_sha256,
               "source": source_name, "input_fingerprint": dataset.fingerprint, "rows": dataset.rows,
               "scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if challenger is not None:
        shadow_pred, _ = scoring.predict(shadow, frame[columns], model.task, model.decision_threshold)
        out["challenger_prediction"] = shadow_pred
        lineage["challenger_version"] = challenger.version
        lineage["agreement"] = float(np.mean(np.asarray(shadow_pred) == np.asarray(predicted)))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, out.to_csv(index=False).encode())
    write_atomic(output.with_name(output.name + ".json"), dumps(lineage))
    return lineage
