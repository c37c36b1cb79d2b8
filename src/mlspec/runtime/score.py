"""Batch scoring: the champion scores a source or a file, the challenger in shadow; predictions carry lineage.

The output keeps the input's columns in the input's order (declared or not, so an id comes back
beside its prediction), then `prediction`, one `proba_<class>` column per class for a classifier
with probabilities, `challenger_prediction` when a challenger scores in shadow, and `model_version`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlspec.manifest import Manifest
from mlspec.runtime import batch, contract, data, scoring
from mlspec.runtime.errors import RunError
from mlspec.runtime.features import raw_columns
from mlspec.runtime.jsonio import dumps
from mlspec.state.files import write_atomic

PROBA_PREFIX = "proba_"


@dataclass
class Scored:
    """Predictions as CSV bytes, and their lineage."""

    table: bytes
    lineage: dict


def proba_columns(classes) -> list[str]:
    """One column name per class, in the model's class order: `proba_` and the class as text (any label:
    CSV quotes what needs quoting)."""
    return [f"{PROBA_PREFIX}{_text(c)}" for c in classes]


def _text(value) -> str:
    # numpy scalars print as their Python values; a bool class is true/false as in the data's contract
    value = value.item() if hasattr(value, "item") else value
    return str(value).lower() if isinstance(value, bool) else str(value)


def score(manifest: Manifest, root: Path, model_name: str, source_name: str | None = None,
          file: str | None = None) -> Scored:
    """Score a declared source (`source_name`) or a data file (`file`, checked against the model's inputs)."""
    import numpy as np

    from mlspec.runtime.steps import Paths, open_registry

    model = manifest.nodes.get(f"model.{model_name}")
    source = manifest.nodes.get(f"source.{source_name}") if source_name is not None else None
    if model is None or (source_name is not None and source is None):
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
    columns = scoring.trained_inputs(pipeline, raw_columns(model, manifest))  # the champion's own inputs
    if file is not None:
        source = batch.file_source(manifest, model, columns, file)
        dataset = data.load(source, root, file=batch.local_file(file), keep_undeclared=True)
        contract.raise_on_failures(source, contract.check(source, dataset), root, batch.subject(file, model))
    else:
        dataset = data.load(source, root, keep_undeclared=True)
        contract.raise_on_failures(source, contract.check(source, dataset), root)
    frame = dataset.frame
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        raise RunError(f"the champion of '{model_name}' was trained on columns source '{source_name}' does not "
                       f"have: {', '.join(lacking)}", hint="add them to the source's schema, or retrain the model")
    with scoring.one_thread():  # as the server: small batches are many times faster on one thread
        predicted, proba = scoring.predict(pipeline, frame[columns], model.task, model.decision_threshold)
        shadow_pred = None if shadow is None else \
            scoring.predict(shadow, frame[columns], model.task, model.decision_threshold)[0]
    added = {"prediction": predicted}
    if proba is not None:
        added.update(zip(proba_columns(pipeline.classes_), proba.T, strict=True))
    lineage = {"model": model_name, "version": champion.version, "artifact_sha256": champion.artifact_sha256,
               "source": source_name if file is None else None, "file": file,
               "input_fingerprint": dataset.fingerprint, "rows": dataset.rows,
               "scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if challenger is not None:
        added["challenger_prediction"] = shadow_pred
        lineage["challenger_version"] = challenger.version
        lineage["agreement"] = float(np.mean(np.asarray(shadow_pred) == np.asarray(predicted)))
    added["model_version"] = champion.version
    taken = [name for name in added if name in frame.columns]
    if taken:
        raise RunError(f"the data already has column(s) named {', '.join(taken)}, which scoring adds",
                       hint="rename those columns in the data (or leave them out of it) and score again")
    out = frame.assign(**added)  # the input's columns in its order, then what scoring adds
    return Scored(out.to_csv(index=False).encode(), lineage)


def write(output: Path, scored: Scored) -> None:
    """Write the predictions to `output` and their lineage beside it (`<output>.json`), each whole."""
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, scored.table)
    write_atomic(output.with_name(output.name + ".json"), dumps(scored.lineage))
