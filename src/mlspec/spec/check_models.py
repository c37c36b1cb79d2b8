"""Semantic checks of models, gates and monitors: estimators, parameters, metrics, requirements, schedules."""

from __future__ import annotations

import math
import re

from mlspec.diagnostics import Diagnostic, Pointer, Related, Severity
from mlspec.lang import cron
from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.expressions import ExprError, functions_of
from mlspec.lang.metrics import DRIFT_DEFAULT_THRESHOLDS, DRIFT_THRESHOLD_RANGES, METRICS, metrics_for, names_text
from mlspec.lang.requirements import parse_requirement
from mlspec.spec.check_common import Facts, expr_error, ref
from mlspec.spec.drift import column_measures, prediction_measure
from mlspec.spec.merge import Entry, SpecSet
from mlspec.spec.names import hint_for
from mlspec.spec.v1.models import Range

# --------------------------------------------------------------------------------------------


def check_model(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    model = entry.spec
    for i, metric in enumerate(model.metrics):
        _check_metric(metric, model.task, entry.at("models", "metrics", i), diags)
    if len(set(model.metrics)) != len(model.metrics):
        diags.append(Diagnostic("MLS200", "a metric is listed twice", entry.at("models", "metrics"),
                                "list each metric once"))
    _check_estimator(entry, diags)
    source = spec.sources.get(model.source)
    if source is None:
        ref(diags, entry.at("models", "source"), "source", model.source, spec.sources)
        return
    columns = source.spec.columns
    label = columns.get(model.label)
    if label is None:
        ref(diags, entry.at("models", "label"), "column", model.label, columns)
    elif model.task == "classification" and label.type in ("float", "datetime"):
        diags.append(Diagnostic("MLS210", f"a classification label must be int, bool, category or string, "
                                f"not {label.type}", entry.at("models", "label"),
                                "use task: regression for a continuous label"))
    elif model.task == "regression" and label.type not in ("int", "float"):
        diags.append(Diagnostic("MLS210", f"a regression label must be int or float, not {label.type}",
                                entry.at("models", "label"), "use task: classification for labels"))
    elif model.task == "classification":
        _check_label_classes(entry, label, diags)
    seen: set[str] = set()
    for i, name in enumerate(model.features):
        where = entry.at("models", "features", i)
        if name in seen:
            diags.append(Diagnostic("MLS200", f"feature '{name}' is listed twice", where, "list it once"))
            continue
        seen.add(name)
        feature = spec.features.get(name)
        if feature is None:
            ref(diags, where, "feature", name, spec.features)
            continue
        if feature.spec.source != model.source and feature.spec.source in spec.sources:
            diags.append(Diagnostic("MLS209", f"feature '{name}' is computed from source '{feature.spec.source}', "
                                    f"but the model trains on '{model.source}'", where,
                                    "a model's features all come from its own source"))
        if model.label in facts.feature_columns.get(name, []):
            diags.append(Diagnostic("MLS202", f"feature '{name}' reads the label column '{model.label}'", where,
                                    "a feature computed from the label leaks the answer into training; remove it"))
    _check_missing(entry, spec, facts, diags)
    _check_split(entry, source, diags)
    for i, column in enumerate(model.slices):
        if column not in columns:
            ref(diags, entry.at("models", "slices", i), "column", column, columns)
        elif columns[column].type in ("float", "datetime"):
            diags.append(Diagnostic("MLS210", f"slice column '{column}' is {columns[column].type}; slices need "
                                    "a category, string, int or bool column", entry.at("models", "slices", i),
                                    "slice by a categorical column"))
    if model.search is not None:
        _check_search(entry, diags)


# Transforms that hand a missing value on to the estimator as NaN (bucketize and one_hot give it a bucket or a
# category of its own, impute fills it).
_NAN_THROUGH = ("passthrough", "standardize", "minmax", "log1p")


def _check_missing(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    """Warn when a nullable column reaches, as NaN, an estimator that cannot fit on missing values."""
    model = entry.spec
    estimator = ESTIMATORS.get(model.estimator)
    source = spec.sources.get(model.source)
    if estimator is None or estimator.accepts_missing or source is None:
        return
    columns = source.spec.columns
    takers = ", ".join(e.name for e in ESTIMATORS.values() if e.accepts_missing and model.task in e.tasks)
    for name in dict.fromkeys(model.features):
        feature = spec.features.get(name)
        if feature is None or feature.spec.source != model.source or feature.spec.impute is not None \
                or feature.spec.transform not in _NAN_THROUGH:
            continue
        ast = facts.expressions.get(("feature", name))
        if ast is not None and "is_null" in functions_of(ast):
            continue  # the expression says what a missing value becomes
        nullable = [c for c in facts.feature_columns.get(name, []) if c in columns and columns[c].nullable]
        if not nullable:
            continue
        diags.append(Diagnostic(
            "MLS224", f"feature '{name}' is missing where column '{nullable[0]}' is (the contract says nullable), "
            f"and estimator '{model.estimator}' cannot fit on missing values: training fails on the first one",
            entry.at("models", "features", model.features.index(name)),
            f"add impute: median (or mean, most_frequent, constant) to feature '{name}', or use an estimator that "
            f"takes missing values: {takers}", Severity.WARNING))


def _check_metric(metric: str, task: str, where: Pointer, diags: list[Diagnostic]) -> bool:
    found = METRICS.get(metric)
    if found is None:
        diags.append(Diagnostic("MLS203", f"unknown metric '{metric}'", where,
                                hint_for(metric, metrics_for(task), "metric")))
        return False
    if found.task != task:
        diags.append(Diagnostic("MLS203", f"metric '{metric}' is for {found.task}, but the model does {task}",
                                where, f"metrics for {task}: {names_text(task)} (`mlspec explain METRIC` defines "
                                "each)"))
        return False
    return True


def _check_label_classes(entry: Entry, label, diags: list[Diagnostic]) -> None:
    """Refuse a two-class metric on a label whose contract allows more classes.

    The contract is what validate knows of the data: a bool label has two classes, a label with a
    values list at most those. Other labels are checked against the data before training."""
    classes = ["false", "true"] if label.type == "bool" else [str(v) for v in label.values or []]
    if len(classes) <= 2:
        return
    model = entry.spec
    shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
    for i, metric in enumerate(model.metrics):
        found = METRICS.get(metric)
        if found is not None and found.binary_only and found.task == model.task:
            diags.append(Diagnostic("MLS222", f"metric '{metric}' needs a two-class label, but label "
                                    f"'{model.label}' may take {len(classes)} classes ({shown})",
                                    entry.at("models", "metrics", i),
                                    "remove it; log_loss scores predicted probabilities on any number of classes"))


def _check_estimator(entry: Entry, diags: list[Diagnostic]) -> None:
    model = entry.spec
    estimator = ESTIMATORS.get(model.estimator)
    if estimator is None:
        known = [e.name for e in ESTIMATORS.values() if model.task in e.tasks]
        diags.append(Diagnostic("MLS205", f"unknown estimator '{model.estimator}'", entry.at("models", "estimator"),
                                hint_for(model.estimator, known, "estimator")))
        return
    if model.task not in estimator.tasks:
        diags.append(Diagnostic("MLS206", f"estimator '{model.estimator}' does not do {model.task}",
                                entry.at("models", "estimator"),
                                "estimators for " + model.task + ": "
                                + ", ".join(e.name for e in ESTIMATORS.values() if model.task in e.tasks)))
        return
    for key, value in model.params.items():
        param = estimator.param(key, model.task)
        if param is None:
            diags.append(Diagnostic("MLS205", f"estimator '{estimator.name}' has no parameter '{key}'",
                                    entry.at("models", "params", key, part="key"),
                                    hint_for(key, estimator.param_names(model.task), "parameter")))
            continue
        problem = param.check(value)
        if problem is not None:
            numeric_text = isinstance(value, str) and re.fullmatch(r"[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?", value)
            hint = f"write the number without quotes: {key}: {value}" if numeric_text else param.description
            diags.append(Diagnostic("MLS205", f"parameter '{key}' {problem}", entry.at("models", "params", key), hint))


def _check_split(entry: Entry, source: Entry, diags: list[Diagnostic]) -> None:
    model = entry.spec
    if model.split.method == "time" and source.spec.timestamp is None:
        diags.append(Diagnostic("MLS211", f"a time split needs a timestamp column on source '{model.source}'",
                                entry.at("models", "split", "method"),
                                f"add timestamp: COLUMN to source '{model.source}', or use method: random"))
    if model.split.method == "stratified" and model.task != "classification":
        diags.append(Diagnostic("MLS211", "a stratified split needs a classification task",
                                entry.at("models", "split", "method"), "use method: random for regression"))


# The most fits a search may ask for: as many as the largest random search (n_iter 1000 x 20 folds), so every
# random search fits under it and only a grid can exceed it.
MAX_SEARCH_FITS = 20_000


def _check_search_size(entry: Entry, diags: list[Diagnostic]) -> None:
    """Refuse a grid whose candidates times folds exceed MAX_SEARCH_FITS, with the count and the cap."""
    search = entry.spec.search
    if search.method != "grid" or any(isinstance(c, Range) for c in search.space.values()):
        return
    candidates = math.prod(len(values) for values in search.space.values())
    fits = candidates * search.folds
    if fits <= MAX_SEARCH_FITS:
        return
    sizes = " x ".join(str(len(v)) for v in search.space.values())
    n_iter = 50  # a usual random-search budget, far below the cap at any number of folds
    diags.append(Diagnostic(
        "MLS223", f"this grid search needs {candidates:,} candidates ({sizes} values) x {search.folds} folds = "
        f"{fits:,} fits, more than the cap of {MAX_SEARCH_FITS:,}", entry.at("models", "search", "method"),
        f"use method: random with n_iter (n_iter: {n_iter} tries {n_iter} candidates, {n_iter * search.folds:,} "
        f"fits), or list fewer values; at most {MAX_SEARCH_FITS:,} fits"))


def _check_search(entry: Entry, diags: list[Diagnostic]) -> None:
    model, search = entry.spec, entry.spec.search
    _check_search_size(entry, diags)
    estimator = ESTIMATORS.get(model.estimator)
    if search.metric is not None and search.metric not in model.metrics:
        diags.append(Diagnostic("MLS213", f"search metric '{search.metric}' is not one of the model's metrics",
                                entry.at("models", "search", "metric"),
                                hint_for(search.metric, model.metrics, "metric")))
    if estimator is None or model.task not in estimator.tasks:
        return
    for key, candidates in search.space.items():
        where = entry.at("models", "search", "space", key)
        param = estimator.param(key, model.task)
        if param is None:
            diags.append(Diagnostic("MLS205", f"estimator '{estimator.name}' has no parameter '{key}'",
                                    Pointer(where.file, where.path, "key"),
                                    hint_for(key, estimator.param_names(model.task), "parameter")))
            continue
        if isinstance(candidates, Range):
            if search.method == "grid":
                diags.append(Diagnostic("MLS205", "a grid search needs a list of values, not a range", where,
                                        "list the values, or use method: random"))
            elif candidates.low >= candidates.high or (candidates.log and candidates.low <= 0):
                diags.append(Diagnostic("MLS205", "a range needs low < high (and low > 0 on a log scale)", where,
                                        "fix the bounds"))
            elif param.kind not in ("int", "float"):
                diags.append(Diagnostic("MLS205", f"parameter '{key}' is not numeric; list its values", where, None))
            else:
                for bound in ("low", "high"):
                    problem = param.check(getattr(candidates, bound) if param.kind == "float"
                                          else int(getattr(candidates, bound)))
                    if problem is not None:
                        diags.append(Diagnostic("MLS205", f"parameter '{key}' {problem}",
                                                Pointer(where.file, (*where.path, bound)), param.description))
            continue
        for i, value in enumerate(candidates):
            problem = param.check(value)
            if problem is not None:
                diags.append(Diagnostic("MLS205", f"parameter '{key}' {problem}", Pointer(where.file, (*where.path, i)),
                                        param.description))
        if not candidates:
            diags.append(Diagnostic("MLS205", f"no candidate values for '{key}'", where, "list at least one value"))


# --------------------------------------------------------------------------------------------
# gates
# --------------------------------------------------------------------------------------------


def check_gate(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    gate = entry.spec
    model_entry = spec.models.get(gate.model)
    if model_entry is None:
        ref(diags, entry.at("gates", "model"), "model", gate.model, spec.models)
    model = model_entry.spec if model_entry else None
    uses_champion = False
    groups: list[tuple[str | tuple, str | None, list]] = [("require", None, gate.require)]
    groups += [(("slices", j, "require"), s.column, s.require) for j, s in enumerate(gate.slices)]
    for where_key, _column, requirements in groups:
        base = where_key if isinstance(where_key, tuple) else (where_key,)
        for i, text in enumerate(requirements):
            where = entry.at("gates", *base, i)
            try:
                req = parse_requirement(text)
            except ExprError as exc:
                diags.append(expr_error(exc, where, "requirement"))
                continue
            facts.requirements[(entry.name, "/".join(map(str, base)), i)] = req
            uses_champion = uses_champion or req.champion_metric is not None
            if model is not None:
                _check_requirement(req, model, where, diags)
    for j, slice_req in enumerate(gate.slices):
        if model is not None and slice_req.column not in model.slices:
            close = hint_for(slice_req.column, model.slices, "slice column") if model.slices else ""
            hint = close if close.startswith("did you mean") else \
                f"add '{slice_req.column}' to the slices of model '{gate.model}'"
            diags.append(Diagnostic("MLS201", f"model '{gate.model}' computes no slice metrics by "
                                    f"'{slice_req.column}'", entry.at("gates", "slices", j, "column"), hint))
    if uses_champion and gate.first_run is None:
        diags.append(Diagnostic("MLS217", "this gate compares with the champion but does not say what happens on "
                                "the first run, when there is no champion", entry.at("gates", "require", part="key"),
                                "add first_run: skip_champion_checks (absolute requirements only) or "
                                "first_run: fail"))


def _check_requirement(req, model, where: Pointer, diags: list[Diagnostic]) -> None:
    offset, length = req.metric_span
    metric_where = Pointer(where.file, where.path, "value", offset, length)
    if any(m not in METRICS or METRICS[m].task != model.task for m in model.metrics):
        return  # the model's own metric list is wrong and already reported; comparing with it would mislead
    for metric in filter(None, (req.metric, req.champion_metric)):
        if metric not in model.metrics:
            if metric in METRICS and METRICS[metric].task == model.task:
                hint = f"add '{metric}' to the model's metrics"
            else:
                hint = hint_for(metric, model.metrics, "metric")
            place = metric_where if metric == req.metric else where
            diags.append(Diagnostic("MLS213", f"metric '{metric}' is not computed by the model", place, hint))
            return
    found = METRICS[req.metric]
    if req.threshold is not None and not found.in_range(req.threshold):
        diags.append(Diagnostic("MLS212", f"threshold {req.threshold:g} is outside the range of {req.metric} "
                                f"({found.low:g} to {found.high:g}), so this requirement can never be decided "
                                "sensibly", where, "use a threshold inside the metric's range"))
    if req.champion_metric is not None and req.champion_metric != req.metric:
        diags.append(Diagnostic("MLS213", f"compare {req.metric} with champion.{req.metric}, not "
                                f"champion.{req.champion_metric}", where, f"write champion.{req.metric}"))


# --------------------------------------------------------------------------------------------
# monitors
# --------------------------------------------------------------------------------------------


def check_monitor(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    mon = entry.spec
    try:
        cron.check_cron(mon.schedule)
    except cron.CronError as exc:
        where = entry.at("monitors", "schedule")
        fields = list(re.finditer(r"\S+", mon.schedule))
        if exc.field_index is not None and exc.field_index < len(fields):
            found = fields[exc.field_index]
            where = Pointer(where.file, where.path, "value", found.start(), len(found.group()))
        diags.append(Diagnostic("MLS207", f"invalid schedule: {exc.message}", where, exc.hint))
    model_entry = spec.models.get(mon.model)
    if model_entry is None:
        ref(diags, entry.at("monitors", "model"), "model", mon.model, spec.models)
    if mon.predictions is not None:  # the prediction log holds the model's own inputs: nothing can be missing
        if mon.drift is not None:
            _check_drift(entry, model_entry, spec, facts, diags)
        if mon.performance is not None:
            diags.append(Diagnostic("MLS201", "performance monitoring needs labels, and the prediction log has "
                                    "none", entry.at("monitors", "performance", part="key"),
                                    "monitor performance on a source with labels (data: SOURCE), or remove "
                                    "performance:"))
        return
    data = spec.sources.get(mon.data)
    if data is None:
        ref(diags, entry.at("monitors", "data"), "source", mon.data, spec.sources)
    if mon.drift is not None:
        _check_drift(entry, model_entry, spec, facts, diags)
    if model_entry is None or data is None:
        return
    model = model_entry.spec
    own = [f for f in model.features if f in spec.features and spec.features[f].spec.source == model.source]
    needed = sorted({c for f in own for c in facts.feature_columns.get(f, [])})
    for column in needed:
        if column not in data.spec.columns:
            diags.append(Diagnostic("MLS201", f"live source '{mon.data}' lacks column '{column}' that model "
                                    f"'{mon.model}' uses", entry.at("monitors", "data"),
                                    f"add '{column}' to the schema of source '{mon.data}'"))
    if mon.performance is not None:
        for i, metric in enumerate(mon.performance.metrics):
            ok = _check_metric(metric, model.task, entry.at("monitors", "performance", "metrics", i), diags)
            if ok and metric not in model.metrics:
                diags.append(Diagnostic("MLS213", f"metric '{metric}' is not computed at training time, so there "
                                        "is nothing to compare with", entry.at("monitors", "performance", "metrics", i),
                                        f"add '{metric}' to model '{mon.model}' metrics"))
        if model.label not in data.spec.columns:
            diags.append(Diagnostic("MLS201", f"performance monitoring needs the label column '{model.label}' in "
                                    f"live source '{mon.data}'", entry.at("monitors", "performance", part="key"),
                                    "add the label to the live source's schema, or remove performance:"))


def _check_drift(entry: Entry, model_entry: Entry | None, spec: SpecSet, facts: Facts,
                 diags: list[Diagnostic]) -> None:
    drift = entry.spec.drift
    _check_drift_threshold(drift.method, drift.threshold, entry.at("monitors", "drift", "threshold"), diags)
    given = drift.thresholds.model_dump(exclude_none=True) if drift.thresholds is not None else {}
    for method, value in given.items():
        _check_drift_threshold(method, value, entry.at("monitors", "drift", "thresholds", method), diags)
    if drift.threshold is not None and drift.method in given:
        diags.append(Diagnostic(
            "MLS107", f"the {drift.method} threshold is given twice: threshold: {drift.threshold:g} and "
            f"thresholds.{drift.method}: {given[drift.method]:g}",
            entry.at("monitors", "drift", "thresholds", drift.method, part="key"),
            f"keep one of them: threshold: is the threshold of method ({drift.method})",
            related=(Related(entry.at("monitors", "drift", "threshold"), "the other one"),)))
    features = model_entry.spec.features if model_entry else None
    for name in drift.features:
        if features is not None and name not in features:
            ref(diags, entry.at("monitors", "drift", "features", name, part="key"), "feature of the model",
                 name, features)
    source = spec.sources.get(model_entry.spec.source) if model_entry else None
    if source is None or model_entry is None:  # the model's findings say why; without its columns, judge by the method
        for name, override in drift.features.items():
            _check_drift_threshold(override.method or drift.method, override.threshold,
                                   entry.at("monitors", "drift", "features", name, "threshold"), diags)
        return
    _check_drift_columns(entry, model_entry, source, spec, given, facts, diags)


def _check_drift_threshold(method: str, value: float | None, where: Pointer, diags: list[Diagnostic],
                           severity: Severity = Severity.ERROR, why: str = "") -> None:
    low, high = DRIFT_THRESHOLD_RANGES[method]
    if value is not None and not low < value <= high:
        hint = f"the default for {method} is {DRIFT_DEFAULT_THRESHOLDS[method]}"
        if why:
            hint = f"{method} scores are in [0, {high:g}], so this column {'never' if value > high else 'always'} " \
                   f"drifts; {hint}"
        diags.append(Diagnostic("MLS212", f"a {method} threshold must be in ({low:g}, {high:g}]{why}", where, hint,
                                severity))


def _check_drift_columns(entry: Entry, model_entry: Entry, source: Entry, spec: SpecSet, given: dict[str, float],
                         facts: Facts, diags: list[Diagnostic]) -> None:
    """What only the model's columns tell: an override that applies to no column, a measure a category
    column cannot take, a threshold out of its column's measure's range, and a per-measure threshold that
    no column or prediction is measured with."""
    drift, model = entry.spec.drift, model_entry.spec
    columns = source.spec.columns
    reads = {f: facts.feature_columns.get(f, []) for f in model.features}
    single = {f: spec.features[f].spec.column if f in spec.features else None for f in model.features}
    types = {c: columns[c].type for cols in reads.values() for c in cols if c in columns}
    measures = column_measures(drift, types, single)
    for name, override in drift.features.items():
        column = single.get(name)
        if name in model.features and column is None and reads.get(name):
            diags.append(Diagnostic(
                "MLS107", f"feature '{name}' is computed from an expression; drift is measured on the columns it "
                f"reads ({', '.join(reads[name])}), so this override applies to nothing",
                entry.at("monitors", "drift", "features", name, part="key"),
                "set the override on a feature that reads one column, or use the monitor's method and thresholds",
                Severity.WARNING))
            continue
        if column not in measures:  # a column the contract lacks has its own finding
            _check_drift_threshold(override.method or drift.method, override.threshold,
                                   entry.at("monitors", "drift", "features", name, "threshold"), diags)
            continue
        if override.method in ("ks", "wasserstein") and measures[column].kind == "categorical":
            diags.append(Diagnostic(
                "MLS210", f"{override.method} measures numbers, and column '{column}' is {columns[column].type}: "
                "it is measured with jensen_shannon", entry.at("monitors", "drift", "features", name, "method"),
                "use psi, chi_square or jensen_shannon on a category column", Severity.WARNING))
        # the measure this override gives its column (another feature's override may win the column)
        method = column_measures(drift, {column: types[column]}, {name: column})[column].method
        where = entry.at("monitors", "drift", "features", name, "threshold")
        judged_before = override.method or drift.method  # what validate used to judge this threshold by
        low, high = DRIFT_THRESHOLD_RANGES[judged_before]
        if method != judged_before and (override.threshold is None or low < override.threshold <= high):
            # out of the range of the column's own measure only: a warning, so a spec that passed stays valid
            _check_drift_threshold(method, override.threshold, where, diags, Severity.WARNING,
                                   f" (column '{column}' is {columns[column].type}, measured with {method})")
        else:
            _check_drift_threshold(method, override.threshold, where, diags)
    prediction = prediction_measure(drift)
    used: dict[str, list[str]] = {}
    for column, measure in measures.items():
        used.setdefault(measure.method, []).append(column)
    if prediction is not None:
        used.setdefault(prediction.method, []).append("the predictions")
    for method in given:
        if method not in used:
            in_use = "; ".join(f"{m}: {', '.join(names)}" for m, names in sorted(used.items()))
            diags.append(Diagnostic(
                "MLS107", f"no column of model '{model_entry.name}' is measured with {method}, so this threshold "
                "applies to nothing", entry.at("monitors", "drift", "thresholds", method, part="key"),
                f"measures in use: {in_use}" if in_use else "remove it", Severity.WARNING))
