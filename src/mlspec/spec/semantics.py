"""Semantic checks across the merged spec: references, types, expressions, parameters, schedules.

Every check appends diagnostics and goes on, so a user sees every problem in one run. Each
reference that does not resolve gets a "did you mean" hint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlspec import cron
from mlspec.diagnostics import Diagnostic, Pointer
from mlspec.estimators import ESTIMATORS
from mlspec.expressions import ExprError, columns_of, parse_expression, parse_requirement
from mlspec.metrics import METRICS, metrics_for
from mlspec.spec.merge import Entry, SpecSet
from mlspec.spec.names import hint_for
from mlspec.spec.v1.models import DRIFT_DEFAULT_THRESHOLDS, DRIFT_THRESHOLD_RANGES, Range

NUMERIC = ("int", "float", "bool")
NUMERIC_TRANSFORMS = ("passthrough", "impute", "standardize", "minmax", "log1p", "bucketize")
_ENV_REF = re.compile(r"\$\{env:[A-Z_][A-Z0-9_]{0,63}\}")
_URL_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^@/]*)@")
_QUERY_SECRET = re.compile(r"[?&](?P<key>password|passwd|pwd|secret|token|api_key)=(?P<value>[^&]*)", re.IGNORECASE)
_PATH_CHARS = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
_SQL_WRITES = re.compile(r"\b(insert|update|delete|drop|alter|create|truncate|grant|revoke|copy|attach|detach|"
                         r"pragma|vacuum|replace|merge|call|exec|execute|set|lock|reindex|comment)\b", re.IGNORECASE)


@dataclass
class Facts:
    """What semantic checks learn and later phases reuse: parsed expressions and feature inputs."""

    expressions: dict[tuple[str, str], dict] = field(default_factory=dict)  # (kind, name) -> AST
    row_checks: dict[tuple[str, int], dict] = field(default_factory=dict)  # (source, index) -> AST
    requirements: dict[tuple[str, str, int], object] = field(default_factory=dict)  # (gate, where, i) -> Requirement
    feature_columns: dict[str, list[str]] = field(default_factory=dict)  # feature -> raw source columns
    feature_deps: dict[str, list[str]] = field(default_factory=dict)  # feature -> derived features it reads


def check(spec: SpecSet) -> tuple[Facts, list[Diagnostic]]:
    """Run every semantic check; return what was learnt and the findings."""
    facts = Facts()
    diags: list[Diagnostic] = []
    _check_uri(spec.project.file, ("project", "registry", "uri"), spec.project.spec.registry.uri, diags)
    _check_relative_path(spec.project.file, ("project", "artifacts", "uri"), spec.project.spec.artifacts.uri, diags)
    for entry in spec.sources.values():
        _check_source(entry, facts, diags)
    for entry in spec.features.values():
        _check_feature(entry, spec, facts, diags)
    for entry in spec.features.values():
        _close_feature_columns(entry.name, spec, facts)
    for entry in spec.models.values():
        _check_model(entry, spec, facts, diags)
    for entry in spec.gates.values():
        _check_gate(entry, spec, facts, diags)
    for entry in spec.monitors.values():
        _check_monitor(entry, spec, facts, diags)
    return facts, diags


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _expr_error(exc: ExprError, where: Pointer, what: str) -> Diagnostic:
    placed = Pointer(where.file, where.path, "value", exc.offset, exc.length)
    return Diagnostic("MLS204", f"invalid {what}: {exc.message}", placed, exc.hint)


def _check_uri(file: str, path: tuple, uri: str, diags: list[Diagnostic]) -> None:
    """Passwords in URLs only as ${env:VAR}: a literal secret in a spec ends up in git history."""
    leftover = _ENV_REF.sub("", uri)
    if "${" in leftover:
        diags.append(Diagnostic("MLS208", "malformed ${...} reference in the URL", Pointer(file, path),
                                "references look like ${env:UPPER_CASE_NAME}"))
        return
    match = _URL_CREDENTIALS.match(uri)
    if match is not None and ":" in match.group("userinfo"):
        password = match.group("userinfo").split(":", 1)[1]
        if not _ENV_REF.fullmatch(password):
            diags.append(Diagnostic("MLS208", "the URL contains a literal password", Pointer(file, path),
                                    "write the password as ${env:VAR_NAME} and set VAR_NAME in the environment "
                                    "(a GitHub secret in CI)"))
    for secret in _QUERY_SECRET.finditer(uri):
        if not _ENV_REF.fullmatch(secret.group("value")):
            diags.append(Diagnostic("MLS208", f"the URL contains a literal {secret.group('key')}",
                                    Pointer(file, path), f"write {secret.group('key')}=${{env:VAR_NAME}}"))
    if uri.startswith("sqlite:"):
        database = uri.split("?", 1)[0].removeprefix("sqlite:").removeprefix("//")
        if database.startswith("//"):
            diags.append(Diagnostic("MLS214", "an absolute SQLite path reaches outside the project",
                                    Pointer(file, path), "write sqlite:///relative/path.db (three slashes)"))
        elif database.startswith("/") and database not in ("/", "/:memory:"):
            _check_relative_path(file, path, database[1:], diags)


def _check_relative_path(file: str, path: tuple, value: str, diags: list[Diagnostic]) -> None:
    """Data and artifact paths stay inside the project: a spec from a fork must not read /etc."""
    parts = value.replace("\\", "/").split("/")
    problem = None
    if value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", value):
        problem = "is absolute"
    elif ".." in parts:
        problem = "leaves the project folder (..)"
    elif "\\" in value:
        problem = "uses backslashes"
    elif "://" in value:
        problem = "is a URL"
    elif any(p.startswith("-") for p in parts):
        problem = "has a part starting with '-'"
    elif not _PATH_CHARS.fullmatch(value):
        problem = "has characters other than letters, digits, '.', '_', '-' and '/'"
    if problem is not None:
        diags.append(Diagnostic("MLS214", f"path '{value}' {problem}", Pointer(file, path),
                                "write a path relative to the project root, inside it, with '/' separators"))


def _query_problem(query: str) -> str | None:
    """Why a source query is not one plain read-only SELECT, or None."""
    unquoted = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "''", query)
    if not re.match(r"^\s*(select|with)\b", unquoted, re.IGNORECASE):
        return "must start with SELECT (or WITH ... SELECT)"
    if "--" in unquoted or "/*" in unquoted:
        return "must not contain comments"
    if ";" in unquoted.rstrip().rstrip(";"):
        return "must be a single statement"
    write = _SQL_WRITES.search(unquoted)
    if write is not None:
        return f"must only read, but contains {write.group(1).upper()}"
    return None


def _name_in(text: str, name: str) -> tuple[int, int] | None:
    """Offset and length of the first use of identifier `name` in expression text, outside quotes."""
    for match in re.finditer(rf"(?<![A-Za-z0-9_.]){re.escape(name)}(?![A-Za-z0-9_])", text):
        before = text[: match.start()]
        if before.count('"') % 2 == 0 and before.count("'") % 2 == 0:
            return match.start(), len(name)
    return None


def _at_name(where: Pointer, text: str, name: str) -> Pointer:
    found = _name_in(text, name)
    return where if found is None else Pointer(where.file, where.path, "value", found[0], found[1])


def _ref(diags: list[Diagnostic], where: Pointer, kind: str, name: str, known) -> None:
    diags.append(Diagnostic("MLS201", f"unknown {kind} '{name}'", where, hint_for(name, known, kind)))


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------


def _check_source(entry: Entry, facts: Facts, diags: list[Diagnostic]) -> None:
    src = entry.spec
    if src.format in ("csv", "parquet"):
        _check_relative_path(entry.file, ("sources", entry.name, "path"), src.path, diags)
    else:
        _check_uri(entry.file, ("sources", entry.name, "uri"), src.uri, diags)
        if src.query is not None:
            problem = _query_problem(src.query)
            if problem is not None:
                diags.append(Diagnostic("MLS209", f"a sql source's query {problem}", entry.at("sources", "query"),
                                        "sources only read data: one SELECT statement, no comments"))
    if src.timestamp is not None:
        column = src.columns.get(src.timestamp)
        if column is None:
            _ref(diags, entry.at("sources", "timestamp"), "column", src.timestamp, src.columns)
        elif column.type != "datetime":
            diags.append(Diagnostic("MLS210", f"timestamp column '{src.timestamp}' has type {column.type}",
                                    entry.at("sources", "timestamp"), "declare it with type: datetime"))
    for name, column in src.columns.items():
        if column.values is None:
            continue
        want = int if column.type == "int" else str if column.type in ("category", "string") else None
        for i, value in enumerate(column.values):
            if want is None or not isinstance(value, want) or isinstance(value, bool):
                diags.append(Diagnostic("MLS210", f"allowed value {value!r} does not fit type {column.type}",
                                        entry.at("sources", "schema", name, "values", i),
                                        "allowed values are integers for int columns and quoted text for "
                                        "category/string columns; bool/float/datetime columns take no values list"))
                break
    for i, row_check in enumerate(src.checks.rows):
        where = entry.at("sources", "checks", "rows", i, "expr")
        try:
            ast = parse_expression(row_check.expr)
        except ExprError as exc:
            diags.append(_expr_error(exc, where, "row check"))
            continue
        facts.row_checks[(entry.name, i)] = ast
        for column in columns_of(ast):
            if column not in src.columns:
                _ref(diags, _at_name(where, row_check.expr, column), "column", column, src.columns)


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------


def _check_feature(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    feat = entry.spec
    source = spec.sources.get(feat.source)
    if source is None:
        _ref(diags, entry.at("features", "source"), "source", feat.source, spec.sources)
        return
    columns = source.spec.columns
    if feat.column is not None:
        column = columns.get(feat.column)
        if column is None:
            _ref(diags, entry.at("features", "column"), "column", feat.column, columns)
            return
        facts.feature_columns[entry.name] = [feat.column]
        facts.feature_deps[entry.name] = []
        _check_transform(entry, column.type, column.min, diags)
        return
    where = entry.at("features", "expr")
    try:
        ast = parse_expression(feat.expr)
    except ExprError as exc:
        diags.append(_expr_error(exc, where, "feature expression"))
        return
    facts.expressions[("feature", entry.name)] = ast
    raw, deps = [], []
    for name in columns_of(ast):
        if name in columns:
            raw.append(name)
            other = spec.features.get(name)
            if other is not None and other.spec.expr is not None and other.spec.source == feat.source:
                diags.append(Diagnostic("MLS216", f"'{name}' is both a column and a derived feature of "
                                        f"source '{feat.source}'", where, f"rename the feature '{name}'"))
        elif name in spec.features and spec.features[name].spec.expr is not None \
                and spec.features[name].spec.source == feat.source:
            deps.append(name)
        else:
            derived = [n for n, e in spec.features.items() if e.spec.expr is not None and e.spec.source == feat.source]
            _ref(diags, _at_name(where, feat.expr, name), "column", name, [*columns, *derived])
    facts.feature_columns[entry.name] = raw
    facts.feature_deps[entry.name] = deps
    _check_transform(entry, "float", None, diags)


def _close_feature_columns(name: str, spec: SpecSet, facts: Facts) -> None:
    """Extend a derived feature's raw columns with those of the derived features it reads."""
    seen, stack, raw = {name}, list(facts.feature_deps.get(name, [])), set(facts.feature_columns.get(name, []))
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        raw.update(facts.feature_columns.get(dep, []))
        stack.extend(facts.feature_deps.get(dep, []))
    if name in facts.feature_columns:
        facts.feature_columns[name] = sorted(raw)


def _check_transform(entry: Entry, column_type: str, column_min, diags: list[Diagnostic]) -> None:
    feat = entry.spec
    transform = feat.transform
    where = entry.at("features", "transform")
    if transform in NUMERIC_TRANSFORMS and column_type not in NUMERIC:
        diags.append(Diagnostic(
            "MLS210", f"transform {transform} needs a numeric column, but '{feat.column}' is {column_type}",
            where if "transform" in feat.model_fields_set else entry.at("features", "column"),
            "use transform: one_hot for category columns" if column_type in ("category", "string")
            else "derive a number with expr:, for example an hour or an age in days"))
        return
    if transform == "one_hot" and column_type not in ("category", "string", "int", "bool"):
        diags.append(Diagnostic("MLS210", f"one_hot needs a category, string, int or bool column, not {column_type}",
                                where, "use bucketize to one-hot a numeric range"))
    if transform == "log1p" and column_min is not None and column_min < 0:
        diags.append(Diagnostic("MLS210", f"log1p needs values >= 0, but the contract allows min {column_min}",
                                where, "use standardize, or derive a non-negative value"))
    if feat.impute in ("mean", "median") and column_type not in NUMERIC:
        diags.append(Diagnostic("MLS210", f"impute: {feat.impute} needs a numeric column, not {column_type}",
                                entry.at("features", "impute"), "use impute: most_frequent or constant"))


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


def _check_model(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    model = entry.spec
    for i, metric in enumerate(model.metrics):
        _check_metric(metric, model.task, entry.at("models", "metrics", i), diags)
    if len(set(model.metrics)) != len(model.metrics):
        diags.append(Diagnostic("MLS200", "a metric is listed twice", entry.at("models", "metrics"),
                                "list each metric once"))
    _check_estimator(entry, diags)
    source = spec.sources.get(model.source)
    if source is None:
        _ref(diags, entry.at("models", "source"), "source", model.source, spec.sources)
        return
    columns = source.spec.columns
    label = columns.get(model.label)
    if label is None:
        _ref(diags, entry.at("models", "label"), "column", model.label, columns)
    elif model.task == "classification" and label.type in ("float", "datetime"):
        diags.append(Diagnostic("MLS210", f"a classification label must be int, bool, category or string, "
                                f"not {label.type}", entry.at("models", "label"),
                                "use task: regression for a continuous label"))
    elif model.task == "regression" and label.type not in ("int", "float"):
        diags.append(Diagnostic("MLS210", f"a regression label must be int or float, not {label.type}",
                                entry.at("models", "label"), "use task: classification for labels"))
    seen: set[str] = set()
    for i, name in enumerate(model.features):
        where = entry.at("models", "features", i)
        if name in seen:
            diags.append(Diagnostic("MLS200", f"feature '{name}' is listed twice", where, "list it once"))
            continue
        seen.add(name)
        feature = spec.features.get(name)
        if feature is None:
            _ref(diags, where, "feature", name, spec.features)
            continue
        if feature.spec.source != model.source and feature.spec.source in spec.sources:
            diags.append(Diagnostic("MLS209", f"feature '{name}' is computed from source '{feature.spec.source}', "
                                    f"but the model trains on '{model.source}'", where,
                                    "a model's features all come from its own source"))
        if model.label in facts.feature_columns.get(name, []):
            diags.append(Diagnostic("MLS202", f"feature '{name}' reads the label column '{model.label}'", where,
                                    "a feature computed from the label leaks the answer into training; remove it"))
    _check_split(entry, source, diags)
    for i, column in enumerate(model.slices):
        if column not in columns:
            _ref(diags, entry.at("models", "slices", i), "column", column, columns)
        elif columns[column].type in ("float", "datetime"):
            diags.append(Diagnostic("MLS210", f"slice column '{column}' is {columns[column].type}; slices need "
                                    "a category, string, int or bool column", entry.at("models", "slices", i),
                                    "slice by a categorical column"))
    if model.search is not None:
        _check_search(entry, diags)


def _check_metric(metric: str, task: str, where: Pointer, diags: list[Diagnostic]) -> bool:
    found = METRICS.get(metric)
    if found is None:
        diags.append(Diagnostic("MLS203", f"unknown metric '{metric}'", where,
                                hint_for(metric, metrics_for(task), "metric")))
        return False
    if found.task != task:
        diags.append(Diagnostic("MLS203", f"metric '{metric}' is for {found.task}, but the model does {task}",
                                where, "metrics for " + task + ": " + ", ".join(metrics_for(task))))
        return False
    return True


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


def _check_search(entry: Entry, diags: list[Diagnostic]) -> None:
    model, search = entry.spec, entry.spec.search
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


def _check_gate(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    gate = entry.spec
    model_entry = spec.models.get(gate.model)
    if model_entry is None:
        _ref(diags, entry.at("gates", "model"), "model", gate.model, spec.models)
    model = model_entry.spec if model_entry else None
    uses_champion = False
    groups = [("require", None, gate.require)]
    groups += [(("slices", j, "require"), s.column, s.require) for j, s in enumerate(gate.slices)]
    for where_key, _column, requirements in groups:
        base = where_key if isinstance(where_key, tuple) else (where_key,)
        for i, text in enumerate(requirements):
            where = entry.at("gates", *base, i)
            try:
                req = parse_requirement(text)
            except ExprError as exc:
                diags.append(_expr_error(exc, where, "requirement"))
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


def _check_monitor(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
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
        _ref(diags, entry.at("monitors", "model"), "model", mon.model, spec.models)
    data = spec.sources.get(mon.data)
    if data is None:
        _ref(diags, entry.at("monitors", "data"), "source", mon.data, spec.sources)
    if mon.drift is not None:
        _check_drift(entry, model_entry, diags)
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


def _check_drift(entry: Entry, model_entry: Entry | None, diags: list[Diagnostic]) -> None:
    drift = entry.spec.drift
    low, high = DRIFT_THRESHOLD_RANGES[drift.method]
    if drift.threshold is not None and not low < drift.threshold <= high:
        diags.append(Diagnostic("MLS212", f"a {drift.method} threshold must be in ({low:g}, {high:g}]",
                                entry.at("monitors", "drift", "threshold"),
                                f"the default for {drift.method} is {DRIFT_DEFAULT_THRESHOLDS[drift.method]}"))
    features = model_entry.spec.features if model_entry else None
    for name, override in drift.features.items():
        if features is not None and name not in features:
            _ref(diags, entry.at("monitors", "drift", "features", name, part="key"), "feature of the model",
                 name, features)
        method = override.method or drift.method
        low, high = DRIFT_THRESHOLD_RANGES[method]
        if override.threshold is not None and not low < override.threshold <= high:
            diags.append(Diagnostic("MLS212", f"a {method} threshold must be in ({low:g}, {high:g}]",
                                    entry.at("monitors", "drift", "features", name, "threshold"), None))
