"""Batch scoring: the champion scores a source or a file, the challenger in shadow; predictions carry lineage.

The output keeps the input's columns in the input's order (declared or not, so an id comes back
beside its prediction), then `prediction`, one `proba_<class>` column per class for a classifier
with probabilities, `challenger_prediction` when a challenger scores in shadow, and `model_version`.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlspec.manifest import Manifest, SourceNode
from mlspec.runtime import batch, contract, data, duck, scoring
from mlspec.runtime.errors import RunError
from mlspec.runtime.features import raw_columns
from mlspec.runtime.jsonio import dumps
from mlspec.state.files import write_atomic

PROBA_PREFIX = "proba_"


@dataclass
class Scored:
    """Predictions as CSV bytes, and their lineage; or, for a source read by DuckDB (larger than memory), the
    file they were streamed to batch by batch (`spooled`, in the project's .mlspec/scores)."""

    table: bytes
    lineage: dict
    spooled: Path | None = None

    def send(self, out) -> None:
        """Write the predictions to a binary stream (a spooled file is then removed)."""
        if self.spooled is None:
            out.write(self.table)
            return
        with self.spooled.open("rb") as handle:
            shutil.copyfileobj(handle, out, 1 << 20)
        self.spooled.unlink(missing_ok=True)


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
    from mlspec.runtime.steps import Paths, open_registry

    if f"model.{model_name}" not in manifest.nodes:
        raise RunError(f"unknown model '{model_name}'")
    if source_name is not None and f"source.{source_name}" not in manifest.nodes:
        raise RunError(f"unknown source '{source_name}'")
    model = manifest.model(model_name)
    source = manifest.source(source_name) if source_name is not None else None
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
        if source is None:
            raise RunError("nothing to score", hint="name a source or a data file")
        if duck.chosen(source, root):
            return _streamed(manifest, root, model, source, pipeline, shadow, columns, champion, challenger)
        dataset = data.load(source, root, keep_undeclared=True)
        contract.raise_on_failures(source, contract.check(source, dataset), root)
    frame = dataset.frame
    _lacking(columns, frame.columns, model_name, source_name)
    with scoring.one_thread():  # as the server: small batches are many times faster on one thread
        added, agreed = _predictions(frame, columns, model, pipeline, shadow, champion.version)
    lineage = _lineage(model_name, champion, challenger, source_name if file is None else None, file,
                       dataset.fingerprint, dataset.rows, agreed)
    return Scored(_as_written(frame, source).assign(**added).to_csv(index=False).encode(), lineage)


def _as_written(frame, source: SourceNode):
    """`frame` with its declared int columns as whole numbers again: a gap makes pandas hold such a column as
    floats, which would come back as `40.0` (the contract passed, so every value is whole and within 64 bits)."""
    floats = [name for name, column in source.columns.items()
              if column.type == "int" and name in frame.columns and frame[name].dtype.kind == "f"]
    return frame.astype(dict.fromkeys(floats, "Int64")) if floats else frame


def _lacking(columns: list[str], present, model_name: str, source_name: str | None) -> None:
    lacking = [c for c in columns if c not in present]
    if lacking:
        raise RunError(f"the champion of '{model_name}' was trained on columns source '{source_name}' does not "
                       f"have: {', '.join(lacking)}", hint="add them to the source's schema, or retrain the model")


def _predictions(frame, columns: list[str], model, pipeline, shadow, version: int) -> tuple[dict, int]:
    """The columns scoring adds to `frame` (prediction, probabilities, the challenger's prediction, the version)
    and on how many rows the challenger agreed."""
    import numpy as np

    predicted, proba = scoring.predict(pipeline, frame[columns], model.task, model.decision_threshold)
    added = {"prediction": predicted}
    if proba is not None:
        added.update(zip(proba_columns(pipeline.classes_), proba.T, strict=True))
    agreed = 0
    if shadow is not None:
        added["challenger_prediction"] = scoring.predict(shadow, frame[columns], model.task,
                                                         model.decision_threshold)[0]
        agreed = int(np.sum(np.asarray(added["challenger_prediction"]) == np.asarray(predicted)))
    added["model_version"] = version
    taken = [name for name in added if name in frame.columns]
    if taken:
        raise RunError(f"the data already has column(s) named {', '.join(taken)}, which scoring adds",
                       hint="rename those columns in the data (or leave them out of it) and score again")
    return added, agreed  # the input's columns stay in its order, then what scoring adds


def _lineage(model_name: str, champion, challenger, source_name: str | None, file: str | None, fingerprint: str,
             rows: int, agreed: int) -> dict:
    lineage = {"model": model_name, "version": champion.version, "artifact_sha256": champion.artifact_sha256,
               "source": source_name, "file": file, "input_fingerprint": fingerprint, "rows": rows,
               "scored_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if challenger is not None:
        lineage["challenger_version"] = challenger.version
        lineage["agreement"] = agreed / rows if rows else float("nan")
    return lineage


def _streamed(manifest: Manifest, root: Path, model, source, pipeline, shadow, columns: list[str], champion,
              challenger) -> Scored:
    """Score a DuckDB source in record batches, appending each batch's predictions to a file, so no more than one
    batch is in memory; the contract is checked over all rows first, in SQL."""
    from mlspec.runtime.duck import contract as duck_contract
    from mlspec.runtime.duck import fingerprint, frames
    from mlspec.runtime.duck.scan import Scan

    folder = root / ".mlspec" / "scores"
    folder.mkdir(parents=True, exist_ok=True)
    with Scan(source, root) as scan:
        _rows, failures = duck_contract.check(source, scan)
        contract.raise_on_failures(source, failures, root)
        _lacking(columns, scan.by_name, model.name, source.name)
        rows = agreed = 0
        with tempfile.NamedTemporaryFile("wb", dir=folder, prefix=f".{model.name}-", suffix=".partial",
                                         delete=False) as handle, scoring.one_thread():
            try:
                for frame in frames.batches(scan):
                    added, agree = _predictions(frame, columns, model, pipeline, shadow, champion.version)
                    _as_written(frame, source).assign(**added).to_csv(handle, index=False, header=rows == 0)
                    rows, agreed = rows + len(frame), agreed + agree
            except BaseException:
                Path(handle.name).unlink(missing_ok=True)
                raise
    lineage = _lineage(model.name, champion, challenger, source.name, None, fingerprint(source, root), rows, agreed)
    return Scored(b"", lineage, Path(handle.name))


def write(output: Path, scored: Scored) -> None:
    """Write the predictions to `output` and their lineage beside it (`<output>.json`), each whole."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if scored.spooled is None:
        write_atomic(output, scored.table)
    else:  # a streamed file: renamed into place (copied beside the output first when on another file system)
        try:
            scored.spooled.replace(output)
        except OSError:
            beside = output.with_name(f".{output.name}.partial")
            shutil.copyfile(scored.spooled, beside)
            beside.replace(output)
            scored.spooled.unlink(missing_ok=True)
    write_atomic(output.with_name(output.name + ".json"), dumps(scored.lineage))
