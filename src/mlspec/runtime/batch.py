"""A data file no spec declares (`mlspec score --file`, `mlspec monitor --file`), and the contract it must meet.

The contract is the model's input contract: the columns the champion was trained on (its own inputs,
which a later spec may have changed), each with the contract its training source declares today,
and the training source's row rules that read only those columns. The label is optional (a batch to
monitor may carry it; one to score need not). The source's row counts are about training data, so a
batch needs only a row.
"""

from __future__ import annotations

from pathlib import Path

from mlspec.errors import MlspecError
from mlspec.manifest import ColumnContract, Manifest, ModelNode, SourceNode
from mlspec.runtime.errors import RunError

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_STORES = ("s3://", "gs://", "az://")


def file_format(path: str) -> str:
    """csv or parquet, from the file's extension; any other is a usage error (exit 2)."""
    suffix = Path(path.split("?", 1)[0]).suffix.lower()
    if suffix not in FORMATS:
        raise MlspecError(f"cannot tell the format of {path}: mlspec reads .csv and .parquet files", exit_code=2,
                          hint="rename the file with its format's extension, or declare it as a source in the specs")
    return FORMATS[suffix]


def file_source(manifest: Manifest, model: ModelNode, inputs: list[str], path: str, *,
                label: bool = False) -> SourceNode:
    """A source reading `path` under `model`'s input contract: `inputs` (the champion's own columns), and the
    label when `label` (optional: nullable, and its absence is no failure; see `drop_absent_label`)."""
    training = manifest.source(model.source)
    columns: dict[str, ColumnContract] = {}
    for column in inputs:
        # a column the champion reads but today's contract lacks (dropped since): its type is all that is known
        columns[column] = training.columns.get(column) or ColumnContract(type="string", nullable=True)
    if label and model.label in training.columns:
        columns[model.label] = training.columns[model.label].model_copy(update={"nullable": True})
    rules = [rule for rule in training.row_checks if _reads_only(rule.expr, set(columns))]
    fmt = file_format(path)
    return training.model_copy(update={
        "format": fmt, "path": path, "delimiter": training.delimiter if fmt == "csv" else None,
        "uri": None, "table": None, "query": None, "columns": columns, "min_rows": 1, "max_rows": None,
        "row_checks": rules, "timestamp": training.timestamp if training.timestamp in columns else None})


def local_file(path: str) -> Path | None:
    """The local file `path` names (None for an object-store URL, which the remote reader fetches)."""
    if path.startswith(_STORES):
        return None
    file = Path(path)
    if not file.is_file():
        raise RunError(f"file {path} not found", hint="check the path (relative to the current folder)")
    return file


def drop_absent_label(failures: list, model: ModelNode) -> list:
    """The failures less "the label column is missing": a batch without labels is a batch without labels."""
    from mlspec.runtime.data import MISSING_COLUMN

    return [f for f in failures if not (f.column == model.label and f.check == MISSING_COLUMN)]


def subject(path: str, model: ModelNode) -> str:
    """How messages name a file checked against a model's input contract."""
    return f"file {path}, checked against the input contract of model '{model.name}' (from source '{model.source}'),"


def _reads_only(tree: dict, columns: set[str]) -> bool:
    from mlspec.lang.expressions import columns_of

    return set(columns_of(tree)) <= columns
