"""Check a loaded dataset against its data contract (pandera), before anything trains.

Column checks (nulls, ranges, allowed values, uniqueness, finiteness) run through pandera with
lazy validation, so every failure is collected; row checks from the spec's expression language run
as dataframe-level checks. Failures are grouped per column and check, with a count and up to five
sample values, and each names the line of the spec that declared the rule.

Given the features that models train on, the check also refuses training data in which such a
feature would have no value at all (a column that is empty in every row): scikit-learn would fail
later with a message about arrays, not about the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlspec.lang.expressions import columns_of
from mlspec.manifest import FeatureNode, SourceNode
from mlspec.runtime.data import Dataset, Failure, described
from mlspec.runtime.errors import DataError
from mlspec.runtime.exprs import ExpressionRuntimeError, as_feature, column_values, evaluate, truth

EMPTY = "has a value in some row"


def _schema(node: SourceNode, frame):
    import numpy as np
    import pandera.pandas as pa

    columns = {}
    for name, contract in node.columns.items():
        if name not in frame.columns:
            continue
        checks = []
        if contract.min is not None:
            checks.append(pa.Check.ge(contract.min, error=f">= {contract.min}"))
        if contract.max is not None:
            checks.append(pa.Check.le(contract.max, error=f"<= {contract.max}"))
        if contract.values is not None:
            allowed = [str(v) for v in contract.values] if contract.type in ("category", "string") \
                else list(contract.values)
            checks.append(pa.Check.isin(allowed, error="allowed values"))
        if contract.type == "float":
            checks.append(pa.Check(lambda s: ~np.isinf(s.astype(float)), name="finite", error="finite (not inf)"))
        columns[name] = pa.Column(None, checks=checks, nullable=contract.nullable, unique=contract.unique,
                                  coerce=False, required=True)
    frame_checks = []
    for rule in node.row_checks:
        if not set(columns_of(rule.expr)) <= set(frame.columns):
            continue  # a column it reads is missing or failed its type check, which is reported already
        def run(df, tree=rule.expr):
            import pandas as pd

            values = {c: column_values(df[c]) for c in df.columns}
            return pd.Series(truth(evaluate(tree, values, len(df))), index=df.index)
        frame_checks.append(pa.Check(run, name=f"row check {rule.name}", error=f"row check {rule.name}"))
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False)


def check(node: SourceNode, dataset: Dataset, features: Sequence[FeatureNode] = ()) -> list[Failure]:
    """Every contract failure of `dataset` (conversion failures included), grouped and sampled.

    `features` are the features models train on from this source (see `features.source_features`);
    one that would have no value in any row is a failure too. Scoring and monitoring pass none: a
    fitted imputer fills an empty column of a new batch.
    """
    import pandera.pandas as pa

    failures = list(dataset.failures)
    frame = dataset.frame
    if len(frame) < node.min_rows:
        failures.append(Failure("*", f"at least {node.min_rows} rows", len(frame), [f"{len(frame)} rows"]))
    if node.max_rows is not None and len(frame) > node.max_rows:
        failures.append(Failure("*", f"at most {node.max_rows} rows", len(frame), [f"{len(frame)} rows"]))
    if len(frame) == 0:
        return failures
    failed_conversion = {f.column for f in dataset.failures}
    checked = frame.drop(columns=[c for c in failed_conversion if c in frame.columns])
    try:
        # in place: nothing is coerced or changed, and a copy of every column would double the memory
        _schema(node, checked).validate(checked, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        failures.extend(_group(exc.failure_cases, node))
    if features:
        all_null = {f.column for f in failures if f.check == "not null" and f.count == len(frame)}
        failures.extend(_empty_features(node, checked, features, all_null))
    return failures


def _empty_features(node: SourceNode, frame, features: Sequence[FeatureNode], reported: set[str]) -> list[Failure]:
    """Features that would have no value in any row of `frame`, grouped by the empty column they read.

    A column feature is empty when its column is; a derived feature when its expression gives no
    value anywhere (evaluated as training would). Imputing does not help: scikit-learn's imputers
    drop a column with no value at all, whatever the strategy. Columns whose emptiness is reported
    already (a `nullable: false` column failing 'not null' in every row) are not reported twice.
    """
    empty_columns = {c for c in frame.columns if not frame[c].notna().any()}
    values = {c: column_values(frame[c]) for c in frame.columns}
    readers: dict[str, list[str]] = {}
    orphans: list[FeatureNode] = []
    for feature in features:  # dependencies first, so a derived feature can read another
        if not set(feature.inputs) <= set(frame.columns):
            continue  # a column it reads is missing or failed its type check, which is reported already
        if feature.expr is None:
            if feature.column is not None and feature.column in empty_columns:
                readers.setdefault(feature.column, []).append(feature.name)
            continue
        if any(f"__f_{d}" not in values for d in feature.derived_inputs):
            continue
        named = {**values, **{d: values[f"__f_{d}"] for d in feature.derived_inputs}}
        try:
            result = as_feature(evaluate(feature.expr, named, len(frame)))
        except (ExpressionRuntimeError, TypeError, ValueError):
            continue  # training reports it with the expression's own message
        values[f"__f_{feature.name}"] = result
        if not (result == result).any():  # NaN everywhere
            empty = [c for c in feature.inputs if c in empty_columns]
            if empty:
                for column in empty:
                    readers.setdefault(column, []).append(feature.name)
            else:
                orphans.append(feature)
    return empty_failures(node, len(frame), readers, orphans, reported)


def empty_failures(node: SourceNode, rows: int, readers: dict[str, list[str]], orphans: list[FeatureNode],
                   reported: set[str]) -> list[Failure]:
    """The failures for features without a value in any of `rows` rows: `readers` maps each entirely empty
    column to the features reading it, `orphans` are derived features empty although their columns are not
    (both engines find them; this says it once)."""
    where = described(node)
    failures = []
    for column in sorted(readers):
        if column in reported:
            continue
        names = _quoted(readers[column])
        failures.append(Failure(
            column, EMPTY, rows,
            note=f"it is empty in all {rows} rows of {where}, and {names} "
                 f"{'reads' if len(readers[column]) == 1 else 'read'} it",
            hint=f"column '{column}' is entirely empty in this data: check the extract that produced {where}; "
                 f"if it is meant to be empty, drop {names} from the models (imputing cannot help: there is "
                 "no value to learn from)"))
    for feature in orphans:
        failures.append(Failure(
            "*", EMPTY, rows,
            note=f"feature '{feature.name}' ({feature.expr_text}) gives no value in any of the {rows} rows",
            hint=f"check feature '{feature.name}''s expression against this data"))
    return failures


def _quoted(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    text = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return ("feature " if len(quoted) == 1 else "features ") + text


def _group(cases, node: SourceNode) -> list[Failure]:
    grouped: dict[tuple[str, str], Failure] = {}
    rows_seen: dict[tuple[str, str], set] = {}
    for record in cases.to_dict("records"):
        check_name = str(record.get("check"))
        is_row_check = check_name.startswith("row check")
        column = "*" if is_row_check else str(record.get("column"))
        label = _label(check_name)
        key = (column, label)
        failure = grouped.setdefault(key, Failure(column, label, 0))
        seen = rows_seen.setdefault(key, set())
        index = record.get("index")
        if index is None or index != index:  # the check raised instead of judging rows (pandera keeps the error)
            grouped[key] = Failure(column, label, 0, note=f"could not be evaluated: {record.get('failure_case')}",
                                   hint="the rule could not be computed on this data; rewrite the rule, or "
                                        "report the data that breaks it as a bug")
            continue
        if is_row_check:  # pandera lists a failing row once per column: count rows, show the first ones in order
            seen.add(index)
            continue
        failure.count += 1
        if len(failure.samples) < 5:
            failure.samples.append(str(record.get("failure_case")))
    for key, rows in rows_seen.items():
        if key[0] == "*" and grouped[key].note is None:
            grouped[key].count = len(rows)
            grouped[key].samples = [place(node, int(index)) for index in sorted(rows)[:5]]
    return list(grouped.values())


def place(node: SourceNode, index: int) -> str:
    """Where the row at 0-based `index` is in the data, as a person opening the file counts: a CSV's line
    (the header is line 1, so the first row is line 2), else the 1-based row number."""
    return f"line {index + 2}" if node.format == "csv" else f"row {index + 1}"


def _label(check_name: str) -> str:
    if check_name == "not_nullable":
        return "not null"
    if check_name == "field_uniqueness":
        return "unique"
    if check_name.startswith("greater_than_or_equal_to"):
        return ">= " + check_name[len("greater_than_or_equal_to("):-1]
    if check_name.startswith("less_than_or_equal_to"):
        return "<= " + check_name[len("less_than_or_equal_to("):-1]
    if check_name.startswith("isin"):
        return "allowed values"
    return check_name


def raise_on_failures(node: SourceNode, failures: list[Failure], root: Path, subject: str | None = None) -> None:
    """Stop the run with a DataError that lists every failure and where the contract says so (a row rule's
    own line). `subject` names the data when it is not the source's own (a file checked against its contract)."""
    if not failures:
        return
    lines = []
    for f in failures:
        where = _spec_line(node, f.column, root, _rule_index(node, f.check))
        column = "dataset" if f.column == "*" else f"column '{f.column}'"
        if f.note is not None:
            lines.append(f"{column}: check '{f.check}' failed: {f.note}  ({where})")
            continue
        samples = f"; e.g. {', '.join(repr(s) for s in f.samples)}" if f.samples else ""
        lines.append(f"{column}: check '{f.check}' failed for {f.count} row(s){samples}  ({where})")
    hints = list(dict.fromkeys(f.hint for f in failures if f.hint))
    if any(f.hint is None for f in failures):
        hints.append("fix the data, or change the contract in the spec if the data is right")
    raise DataError(f"{subject or f'source {node.name!r}'} breaks its data contract ({len(failures)} failed "
                    "check(s))", details=lines, where=_spec_line(node, None, root), hint="; ".join(hints))


def _rule_index(node: SourceNode, check_name: str) -> int | None:
    """The position of the row rule a failed check is (None for a column check)."""
    names = [f"row check {rule.name}" for rule in node.row_checks]
    return names.index(check_name) if check_name in names else None


def _spec_line(node: SourceNode, column: str | None, root: Path, rule: int | None = None) -> str:
    from mlspec.yamlpos.positions import line_of

    file = node.file
    path: tuple[str | int, ...]
    if rule is not None:
        path = ("sources", node.name, "checks", "rows", rule)
    elif column in node.column_origins:  # a reused contract: the line that defines the column, maybe elsewhere
        file, path = node.column_origins[column].file, tuple(node.column_origins[column].path)
    elif column not in (None, "*"):
        path = ("sources", node.name, "schema", column)
    else:
        path = ("sources", node.name)
    try:
        line = line_of((root / file).read_text(encoding="utf-8"), path)
    except OSError:
        line = None
    return f"{file}:{line}" if line else file
