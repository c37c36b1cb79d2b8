"""Property-based tests of the spec front end: valid projects compile, broken ones fail cleanly.

* Generated valid projects (random sources, columns, features, models, gates and monitors with
  valid names, types and references, split over 1-3 files) validate with no diagnostic at all,
  resolve into a manifest with one node per generated entry, and load from disk via `api.load`.
* Mutated projects (lines deleted, duplicated, swapped, re-indented; random characters inserted;
  scalars replaced; files truncated; referenced names renamed) either validate, or fail with
  well-formed diagnostics (`MLS###` code, a message, a span inside the file) - never an exception.
* Random text, random bytes and YAML token soup never raise either.
* What `SpecDumper` writes, the strict loader reads back unchanged.

About 2,400 examples in all (the `budget(...)` of each test): about 45 s of CPU on the 2-core machine.
`HYPOTHESIS_PROFILE` switches the budget: `default` (random), `ci` (derandomized, same examples
every run), `quick` (a tenth of the examples), `thorough` (ten times as many; about 10 minutes).
"""

from __future__ import annotations

import keyword
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec import api
from mlspec.diagnostics import RENDERERS, Diagnostic, Severity, Span, has_errors
from mlspec.graph import build as graph_build
from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import DRIFT_THRESHOLD_RANGES, METRICS, metrics_for
from mlspec.resolve import resolve
from mlspec.spec import loader
from mlspec.spec.validate import validate_texts
from mlspec.yamlpos.sourcemap import SourceMap
from tests.spec_factory import build_documents, count_nodes, dump, generate_project

# ------------------------------------------------------------------------------------------------
# budget
# ------------------------------------------------------------------------------------------------

_PROFILES = {"default": (1.0, False), "ci": (1.0, True), "quick": (0.1, False), "thorough": (10.0, False)}
_SCALE, _DERANDOMIZE = _PROFILES.get(os.environ.get("HYPOTHESIS_PROFILE", "default"), _PROFILES["default"])


def budget(examples: int) -> settings:
    """Settings for one property: `examples` scaled by the profile, no deadline (a time limit fails on a busy
    machine; benchmarks/bench_validate.py measures how fast validation is)."""
    return settings(max_examples=max(5, int(examples * _SCALE)), deadline=None, derandomize=_DERANDOMIZE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


# ------------------------------------------------------------------------------------------------
# the oracle: compile texts like `mlspec validate`, check every diagnostic is well-formed
# ------------------------------------------------------------------------------------------------

CODE_RE = re.compile(r"^MLS\d{3}$")


def compile_texts(texts: dict[str, str]):
    """validate_texts, then (when valid) resolve + graph + cycles + order, as `api.load` does."""
    validated = validate_texts(texts)
    diagnostics = list(validated.diagnostics)
    manifest = order = None
    if validated.ok:
        resolved = resolve(validated.spec, validated.facts)
        graph = graph_build.build(resolved.manifest)
        problems = graph_build.cycles(graph, resolved.edge_origins)
        diagnostics += SourceMap(texts).locate(problems)
        if not problems:
            manifest, order = resolved.manifest, graph_build.order(graph)
    return validated, diagnostics, manifest, order


def _check_span(where: object, texts: dict[str, str], diag: Diagnostic) -> None:
    assert where is None or isinstance(where, Span), f"unplaced position {where!r} in {diag}"
    if isinstance(where, Span):
        assert where.file in texts, diag
        n_lines = len(texts[where.file].splitlines())
        assert 1 <= where.line <= n_lines + 1, f"line {where.line} outside 1..{n_lines + 1}: {diag}"
        assert where.col >= 1, diag


def check_diagnostics(diagnostics: list[Diagnostic], texts: dict[str, str]) -> None:
    """Every diagnostic has a stable code, a message, and a position inside its file; all renderers work."""
    for diag in diagnostics:
        assert CODE_RE.match(diag.code), diag
        assert isinstance(diag.message, str) and diag.message.strip(), diag
        _check_span(diag.where, texts, diag)
        for related in diag.related:
            _check_span(related.where, texts, diag)
    lines = {path: text.splitlines() for path, text in texts.items()}
    for render in RENDERERS.values():
        assert isinstance(render(diagnostics, lines), str)


def check_robust(texts: dict[str, str]) -> None:
    """Valid, or well-formed diagnostics; never an exception."""
    validated, diagnostics, manifest, _order = compile_texts(texts)
    assert validated.ok or has_errors(diagnostics), "invalid, but no error says why"
    if not validated.ok:
        assert validated.spec is None
    check_diagnostics(diagnostics, texts)
    if manifest is not None:
        assert not has_errors(diagnostics)


# ------------------------------------------------------------------------------------------------
# valid projects
# ------------------------------------------------------------------------------------------------

_EXPR_KEYWORDS = {"and", "or", "not", "true", "false"}
# Text for descriptions and category labels: any character a reviewer can see (no controls, no
# invisible format characters, no line separators), plus the YAML punctuation that needs quoting.
_VISIBLE = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))
_TEXT = st.text(st.one_of(_VISIBLE, st.sampled_from(list("\n\t :-#'\"[]{},&*!|>%@`?~"))), max_size=40)
_LABEL = st.text(_VISIBLE, min_size=1, max_size=12)


def _is_name(text: str) -> bool:
    return not (keyword.iskeyword(text) or keyword.issoftkeyword(text) or text in _EXPR_KEYWORDS)


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(_is_name)
COLUMNS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda c: not c.startswith("__") and c not in _EXPR_KEYWORDS)
RUNNERS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)


@dataclass
class Generated:
    """A generated project: its files, how many manifest nodes it defines, and the names it uses."""

    texts: dict[str, str]
    n_nodes: int
    names: list[str]


def _number_text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@st.composite
def expressions(draw, names: list[str], depth: int = 0, every: list[str] | None = None) -> str:
    """Expression-language text over `names` (numeric columns or derived features) that validate accepts:
    arithmetic and logic on numbers only; any column of `every` in is_null() or compared with text by ==/!=."""
    every = names if every is None else every
    atoms = [st.sampled_from(names).map(str)] if names else []
    atoms += [st.integers(0, 10**6).map(str), st.floats(0, 1e6).map(repr)]
    text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"),
                                 exclude_characters="\"\\"), max_size=8).map(lambda s: f'"{s}"')
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        atom = draw(st.one_of(atoms))
        if every and draw(st.booleans()):
            column = draw(st.sampled_from(every))
            return draw(st.sampled_from([f"is_null({column})", f"({column} == {draw(text)})",
                                         f"({column} != {draw(text)})", f"-{atom}", f"({atom})", f"abs({atom})",
                                         atom]))
        return atom
    left = draw(expressions(names, depth + 1, every))
    right = draw(expressions(names, depth + 1, every))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "and", "or"]))
    if draw(st.booleans()):
        comparison = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"(({left}) {op} ({right})) {comparison} {draw(st.integers(0, 99))}"
    return f"({left}) {op} ({right})"


def _column(draw, kind: str) -> dict:
    column: dict = {"type": kind}
    if draw(st.booleans()):
        column["nullable"] = draw(st.booleans())
    if draw(st.booleans()):
        column["unique"] = draw(st.booleans())
    if kind in ("int", "float") and draw(st.booleans()):
        numbers = st.integers(-10**9, 10**9) if kind == "int" else st.floats(-1e9, 1e9)
        low, high = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
        if draw(st.booleans()):
            column["min"] = low
        if draw(st.booleans()):
            column["max"] = high
    if kind == "category" or (kind in ("int", "string") and draw(st.integers(0, 3)) == 0):
        values = st.integers(-1000, 1000) if kind == "int" else _LABEL
        column["values"] = draw(st.lists(values, min_size=1, max_size=5, unique=True))
    if draw(st.integers(0, 4)) == 0:
        column["description"] = draw(_TEXT)
    return column


def _path(draw, suffix: str) -> str:
    parts = draw(st.lists(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.]{0,10}", fullmatch=True), min_size=1,
                          max_size=3))
    return "/".join(parts) + suffix


def _source(draw, columns: dict[str, dict]) -> dict:
    source: dict = {}
    fmt = draw(st.sampled_from(["csv", "parquet", "sql"]))
    source["format"] = fmt
    if fmt == "csv":
        source["path"] = _path(draw, ".csv")
        if draw(st.booleans()):
            source["delimiter"] = draw(st.sampled_from([",", ";", "|", "\t"]))
    elif fmt == "parquet":
        source["path"] = _path(draw, ".parquet")
    else:
        source["uri"] = draw(st.sampled_from(["sqlite:///data/warehouse.db",
                                              "postgresql://reader:${env:PGPASSWORD}@db:5432/shop",
                                              "postgresql://db/shop"]))
        if draw(st.booleans()):
            source["table"] = draw(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}(\.[a-z_]{1,8})?", fullmatch=True))
        else:
            source["query"] = draw(st.sampled_from(["SELECT * FROM events", "  select a, b from t where x > 1",
                                                    "WITH recent AS (SELECT * FROM t) SELECT * FROM recent"]))
    datetimes = [c for c, spec in columns.items() if spec["type"] == "datetime"]
    if datetimes and draw(st.booleans()):
        source["timestamp"] = draw(st.sampled_from(datetimes))
    source["schema"] = columns
    if draw(st.booleans()):
        checks: dict = {}
        if draw(st.booleans()):
            checks["min_rows"] = draw(st.integers(0, 10**6))
        if draw(st.booleans()):
            checks["max_rows"] = draw(st.integers(1, 10**12))
        rules = draw(st.lists(NAMES, max_size=3, unique=True))
        if rules:
            numeric = [c for c, spec in columns.items() if spec["type"] in ("int", "float", "bool")]
            checks["rows"] = [{"name": rule, "expr": draw(expressions(numeric, every=list(columns)))}
                              for rule in rules]
        source["checks"] = checks
    if draw(st.integers(0, 3)) == 0:
        source["description"] = draw(_TEXT)
    if draw(st.integers(0, 3)) == 0:
        source["tags"] = draw(st.lists(NAMES, max_size=3))
    return source


def _column_feature(draw, source: str, column: str, spec: dict) -> dict | None:
    kind = spec["type"]
    transforms = []
    if kind in ("int", "float", "bool"):
        transforms += ["passthrough", "impute", "standardize", "minmax", "bucketize"]
        if spec.get("min") is None or spec["min"] >= 0:
            transforms.append("log1p")
    if kind in ("category", "string", "int", "bool"):
        transforms.append("one_hot")
    if not transforms:
        return None
    transform = draw(st.sampled_from(transforms))
    feature: dict = {"source": source, "column": column}
    if transform != "passthrough" or draw(st.booleans()):
        feature["transform"] = transform
    _impute(draw, feature, numeric=kind in ("int", "float", "bool"))
    _transform_settings(draw, feature, transform)
    return feature


def _impute(draw, feature: dict, numeric: bool) -> None:
    strategies = ["most_frequent", "constant"] + (["mean", "median"] if numeric else [])
    if draw(st.integers(0, 2)) == 0:
        feature["impute"] = draw(st.sampled_from(strategies))
        if feature["impute"] == "constant":  # a numeric column is filled with a number (MLS210); text with either
            numbers = st.one_of(st.integers(-100, 100), st.floats(-1e3, 1e3))
            feature["fill_value"] = draw(numbers if numeric else st.one_of(numbers, _LABEL))


def _transform_settings(draw, feature: dict, transform: str) -> None:
    if transform == "bucketize":
        if draw(st.booleans()):
            feature["bins"] = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=1, max_size=5, unique=True)))
        else:
            feature["n_bins"] = draw(st.integers(2, 1000))
        if draw(st.booleans()):
            feature["strategy"] = draw(st.sampled_from(["quantile", "uniform"]))
    elif transform == "one_hot":
        if draw(st.booleans()):
            feature["max_categories"] = draw(st.integers(2, 10_000))
        if draw(st.booleans()):
            feature["handle_unknown"] = draw(st.sampled_from(["ignore", "error"]))


def _param_value(draw, param):
    if param.nullable and draw(st.integers(0, 4)) == 0:
        return None
    if param.kind == "choice":
        return draw(st.sampled_from(param.choices))
    if param.kind == "bool":
        return draw(st.booleans())
    if param.kind == "int":
        return draw(st.integers(int(param.low), int(param.high)))
    return draw(st.floats(param.low, param.high, exclude_min=not param.low_inclusive))


def _search(draw, estimator, task: str, metrics: list[str]) -> dict | None:
    params = [p for p in estimator.params if task in p.tasks]
    if not params:
        return None
    method = draw(st.sampled_from(["grid", "random"]))
    space = {}
    for param in draw(st.lists(st.sampled_from(params), min_size=1, max_size=3, unique_by=lambda p: p.name)):
        if method == "random" and param.kind in ("int", "float") and draw(st.booleans()):
            low_bound = param.low if param.low_inclusive else math.nextafter(param.low, math.inf)
            if param.kind == "int":
                low_bound = math.ceil(low_bound)
                low = draw(st.integers(int(low_bound), int(param.high) - 1))
                high = draw(st.integers(low + 1, int(param.high)))
            else:
                low, high = sorted(draw(st.lists(st.floats(low_bound, param.high), min_size=2, max_size=2,
                                                 unique=True)))
            space[param.name] = {"low": low, "high": high, "log": low > 0 and draw(st.booleans())}
        else:
            space[param.name] = [_param_value(draw, param) for _ in range(draw(st.integers(1, 3)))]
    search: dict = {"method": method, "space": space}
    if draw(st.booleans()):
        search["n_iter"] = draw(st.integers(1, 1000))
    if draw(st.booleans()):
        search["folds"] = draw(st.integers(2, 20))
    if draw(st.booleans()):
        search["metric"] = draw(st.sampled_from(metrics))
    return search


def _requirement(draw, metric: str) -> tuple[str, bool]:
    op = draw(st.sampled_from([">=", "<=", ">", "<"]))
    if draw(st.integers(0, 2)) == 0:
        margin = ""
        if draw(st.booleans()):
            margin = f" {draw(st.sampled_from(['+', '-', '*']))} {_number_text(draw(st.floats(0, 100)))}"
        return f"{metric} {op} champion.{metric}{margin}", True
    found = METRICS[metric]
    low, high = max(found.low, -1e6), min(found.high, 1e6)
    threshold = draw(st.one_of(st.integers(math.ceil(low), math.floor(high)), st.floats(low, high)))
    return f"{metric} {op} {_number_text(threshold)}", False


def _cron(draw) -> str:
    minute = draw(st.one_of(st.integers(0, 59).map(str), st.sampled_from(["*/5", "*/10", "*/15", "0-59/30", "0,30"])))
    hour = draw(st.one_of(st.just("*"), st.integers(0, 23).map(str), st.sampled_from(["*/2", "9-17", "6,18"])))
    day = draw(st.sampled_from(["*", "1", "15", "1,15", "1-7"]))
    month = draw(st.sampled_from(["*", "1", "JAN-JUN", "*/3"]))
    weekday = draw(st.sampled_from(["*", "MON-FRI", "0", "1-5", "SUN"]))
    return f"{minute} {hour} {day} {month} {weekday}"


_EXPR_TOKEN = re.compile(r'"[^"]*"|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?'
                         r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<call>\s*\()?")


def _closure(feature: str, features: dict[str, dict], columns: dict[str, dict]) -> set[str]:
    """The raw source columns a feature reads, through the derived features it uses."""
    spec = features[feature]
    if "column" in spec:
        return {spec["column"]}
    raw: set[str] = set()
    for token in _EXPR_TOKEN.finditer(spec["expr"]):
        name = token.group("name")
        if name is None or token.group("call"):
            continue
        if name in columns:
            raw.add(name)
        elif name in features:
            raw |= _closure(name, features, columns)
    return raw


@st.composite
def projects(draw, max_sources: int = 3, max_models: int = 4) -> Generated:
    """A valid project, as `Generated` (files, node count, names)."""
    sections: dict[str, dict] = {s: {} for s in ("sources", "features", "models", "gates", "monitors")}
    source_names = draw(st.lists(NAMES, min_size=1, max_size=max_sources, unique=True))
    taken: set[str] = set()
    schemas: dict[str, dict] = {}
    for source in source_names:
        column_names = draw(st.lists(COLUMNS, min_size=2, max_size=8, unique=True))
        kinds = ["int", "float", "bool", "category", "string", "datetime"]
        schemas[source] = {c: _column(draw, draw(st.sampled_from(kinds))) for c in column_names}
        sections["sources"][source] = _source(draw, schemas[source])
        taken |= set(column_names)
    features: dict[str, dict] = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=10, unique=True)):
        if name in taken or name in sections["sources"]:
            continue  # a feature named like a column would be ambiguous in expressions
        source = draw(st.sampled_from(source_names))
        columns = schemas[source]
        if draw(st.integers(0, 2)) == 0:
            numeric = [c for c, spec in columns.items() if spec["type"] in ("int", "float", "bool")]
            derived = [f for f, spec in features.items() if spec["source"] == source and "expr" in spec]
            if not numeric + derived:
                continue
            feature = {"source": source, "expr": draw(expressions(numeric + derived))}
            transform = draw(st.sampled_from(["passthrough", "impute", "standardize", "minmax", "log1p",
                                              "bucketize"]))
            if transform != "passthrough" or draw(st.booleans()):
                feature["transform"] = transform
            _impute(draw, feature, numeric=True)
            _transform_settings(draw, feature, transform)
        else:
            column = draw(st.sampled_from(list(columns)))
            feature = _column_feature(draw, source, column, columns[column])
            if feature is None:
                continue
        if draw(st.integers(0, 3)) == 0:
            feature["description"] = draw(_TEXT)
        if draw(st.integers(0, 3)) == 0:
            feature["tags"] = draw(st.lists(NAMES, max_size=3))
        features[name] = feature
    sections["features"] = features
    models: dict[str, dict] = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=max_models, unique=True)):
        if name in models:
            continue
        source = draw(st.sampled_from(source_names))
        columns = schemas[source]
        task = draw(st.sampled_from(["classification", "regression"]))
        label_types = ("int", "bool", "category", "string") if task == "classification" else ("int", "float")
        labels = [c for c, spec in columns.items() if spec["type"] in label_types]
        if not labels:
            continue
        label = draw(st.sampled_from(labels))
        usable = [f for f, spec in features.items()
                  if spec["source"] == source and label not in _closure(f, features, columns)]
        if not usable:
            continue
        estimator = draw(st.sampled_from([e for e in ESTIMATORS.values() if task in e.tasks]))
        # a two-class metric on a label whose contract allows more classes is refused (MLS222)
        many = len(columns[label].get("values") or ()) > 2
        fitting = [m for m in metrics_for(task) if not (many and METRICS[m].binary_only)]
        metrics = draw(st.lists(st.sampled_from(fitting), min_size=1, max_size=5, unique=True))
        model: dict = {"task": task, "source": source, "label": label,
                       "features": draw(st.lists(st.sampled_from(usable), min_size=1, max_size=8, unique=True)),
                       "estimator": estimator.name, "metrics": metrics}
        params = [p for p in estimator.params if task in p.tasks]
        if params and draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(params), max_size=4, unique_by=lambda p: p.name))
            model["params"] = {p.name: _param_value(draw, p) for p in chosen}
        methods = ["random"] + (["stratified"] if task == "classification" else []) + (
            ["time"] if "timestamp" in sections["sources"][source] else [])
        if draw(st.booleans()):
            model["split"] = {"method": draw(st.sampled_from(methods))}
            if draw(st.booleans()):
                model["split"]["test_fraction"] = draw(st.floats(0, 1, exclude_min=True, exclude_max=True))
        if draw(st.integers(0, 3)) == 0:
            model["cv"] = {"folds": draw(st.integers(2, 20))}
        if draw(st.integers(0, 3)) == 0:
            search = _search(draw, estimator, task, metrics)
            if search is not None:
                model["search"] = search
        sliceable = [c for c, spec in columns.items() if spec["type"] in ("int", "bool", "category", "string")]
        if sliceable and draw(st.booleans()):
            model["slices"] = draw(st.lists(st.sampled_from(sliceable), min_size=1, max_size=3, unique=True))
        if draw(st.integers(0, 3)) == 0:
            model["decision_threshold"] = draw(st.floats(0, 1, exclude_min=True, exclude_max=True))
        if draw(st.integers(0, 3)) == 0:
            model["runner"] = draw(RUNNERS)
        if draw(st.integers(0, 3)) == 0:
            model["timeout_minutes"] = draw(st.integers(1, 360))
        if draw(st.integers(0, 3)) == 0:
            model["description"] = draw(_TEXT)
        if draw(st.integers(0, 2)) == 0:
            model["tags"] = draw(st.lists(NAMES, max_size=4))
        models[name] = model
    sections["models"] = models
    for model_name, model in models.items():
        for gate_name in draw(st.lists(NAMES, max_size=2, unique=True)):
            if gate_name in sections["gates"]:
                continue
            drawn = [_requirement(draw, draw(st.sampled_from(model["metrics"])))
                     for _ in range(draw(st.integers(1, 3)))]
            gate: dict = {"model": model_name, "require": [text for text, _ in drawn]}
            champion = any(uses for _, uses in drawn)
            if model.get("slices") and draw(st.booleans()):
                gate["slices"] = []
                for column in draw(st.lists(st.sampled_from(model["slices"]), min_size=1, max_size=2)):
                    more = [_requirement(draw, draw(st.sampled_from(model["metrics"]))) for _ in range(2)]
                    champion = champion or any(uses for _, uses in more)
                    entry: dict = {"column": column, "require": [text for text, _ in more]}
                    if draw(st.booleans()):
                        entry["min_rows"] = draw(st.integers(1, 10**9))
                    gate["slices"].append(entry)
            if champion or draw(st.booleans()):
                gate["first_run"] = draw(st.sampled_from(["skip_champion_checks", "fail"]))
            if draw(st.integers(0, 3)) == 0:
                gate["approval"] = {"environment": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,12}",
                                                                      fullmatch=True))}
            if draw(st.integers(0, 3)) == 0:
                gate["description"] = draw(_TEXT)
            sections["gates"][gate_name] = gate
        for monitor_name in draw(st.lists(NAMES, max_size=1)):
            if monitor_name in sections["monitors"]:
                continue
            needed = set().union(*(_closure(f, features, schemas[model["source"]]) for f in model["features"]))
            data = draw(st.sampled_from([s for s in source_names if needed <= set(schemas[s])]))
            monitor: dict = {"model": model_name, "data": data, "schedule": _cron(draw)}
            parts = draw(st.sets(st.sampled_from(["drift", "quality", "performance"]), min_size=1))
            if model["label"] not in schemas[data]:
                parts.discard("performance")
                parts.add("quality")
            if "drift" in parts:
                method = draw(st.sampled_from(sorted(DRIFT_THRESHOLD_RANGES)))
                low, high = DRIFT_THRESHOLD_RANGES[method]
                drift: dict = {"method": method}
                if draw(st.booleans()):
                    drift["threshold"] = draw(st.floats(low, high, exclude_min=True))
                for measure in draw(st.lists(st.sampled_from(sorted(DRIFT_THRESHOLD_RANGES)), max_size=3, unique=True)):
                    if measure != method or "threshold" not in drift:  # the method's threshold is given once
                        m_low, m_high = DRIFT_THRESHOLD_RANGES[measure]
                        drift.setdefault("thresholds", {})[measure] = draw(st.floats(m_low, m_high, exclude_min=True))
                if draw(st.booleans()):
                    drift["categorical"] = draw(st.sampled_from(["psi", "chi_square", "jensen_shannon"]))
                for feature in draw(st.lists(st.sampled_from(model["features"]), max_size=2, unique=True)):
                    override_method = draw(st.sampled_from(sorted(DRIFT_THRESHOLD_RANGES)))
                    o_low, o_high = DRIFT_THRESHOLD_RANGES[override_method]
                    drift.setdefault("features", {})[feature] = {
                        "method": override_method, "threshold": draw(st.floats(o_low, o_high, exclude_min=True))}
                if draw(st.booleans()):
                    drift["share"] = draw(st.floats(0, 1, exclude_min=True))
                if draw(st.booleans()):
                    drift["bins"] = draw(st.integers(2, 100))
                if draw(st.booleans()):
                    drift["min_rows"] = draw(st.integers(10, 10**9))
                monitor["drift"] = drift
            if "quality" in parts:
                monitor["quality"] = {"max_failed_rows": draw(st.floats(0, 1))}
            if "performance" in parts:
                monitor["performance"] = {
                    "metrics": draw(st.lists(st.sampled_from(model["metrics"]), min_size=1, max_size=3, unique=True)),
                    "max_drop": draw(st.floats(0, 10))}
            if draw(st.booleans()):
                monitor["on_alert"] = draw(st.lists(st.sampled_from(["open_issue", "retrain"]), max_size=2,
                                                    unique=True))
            sections["monitors"][monitor_name] = monitor
    project = {"name": draw(st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True))}
    if draw(st.booleans()):
        project |= {"description": draw(_TEXT), "python": draw(st.sampled_from(["3.11", "3.12", "3.13", "3.20"])),
                    "runner": draw(RUNNERS), "timeout_minutes": draw(st.integers(1, 360)),
                    "seed": draw(st.integers(0, 2**32 - 1)),
                    "registry": {"uri": draw(st.sampled_from(["sqlite:///.mlspec/registry.db",
                                                              "postgresql://ml:${env:PGPASSWORD}@db:5432/ml"]))},
                    "artifacts": {"uri": _path(draw, "")}}
    # split over 1-3 files, each entry in a file of its own choosing
    n_files = draw(st.integers(1, 3))
    paths = draw(st.lists(st.sampled_from(["specs/a.yaml", "specs/b.yml", "specs/sub/c.yaml", "specs/z/d.yml",
                                           "specs/e.yaml"]), min_size=n_files, max_size=n_files, unique=True))
    documents = {path: {"apiVersion": "mlspec/v1"} for path in paths}
    project_file, project_last = draw(st.sampled_from(paths)), draw(st.booleans())
    if not project_last:
        documents[project_file]["project"] = project
    for section, entries in sections.items():
        for name, spec in entries.items():
            documents[draw(st.sampled_from(paths))].setdefault(section, {})[name] = spec
    if project_last:
        documents[project_file]["project"] = project
    flow = draw(st.sampled_from([None, False]))
    width = draw(st.integers(20, 200))
    texts = {path: dump(doc, flow=flow, width=width) for path, doc in documents.items()}
    names = sorted({*sections["sources"], *features, *models, *sections["gates"], *sections["monitors"]})
    return Generated(texts, sum(len(entries) for entries in sections.values()), names)


def _expected_warning(diag) -> bool:
    """The warnings a random valid project may carry: a nullable column reaching an estimator without impute
    (MLS224), and drift settings that apply to nothing or to a column of another kind than the measure
    suits (MLS107, MLS210, MLS212: an override on a derived feature, ks on a category column, a threshold
    beyond the range of the measure the column is actually measured with)."""
    return diag.severity is Severity.WARNING and diag.code in {"MLS224", "MLS107", "MLS210", "MLS212"}


@budget(250)
@given(projects())
def test_generated_valid_projects_validate_resolve_and_load(generated: Generated) -> None:
    validated, diagnostics, manifest, order = compile_texts(generated.texts)
    # warnings are allowed: a random project may feed a nullable column to an estimator refusing NaN (MLS224)
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    assert errors == [], "\n".join(f"{d.code} {d.message} {d.where}" for d in errors)
    assert all(_expected_warning(d) for d in diagnostics), diagnostics
    assert validated.ok
    assert manifest is not None
    assert len(manifest.nodes) == generated.n_nodes
    assert sorted(order) == sorted(manifest.nodes)
    # the same project from disk, through the library entry point the CLI uses
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, text in generated.texts.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        project = api.load(root)
        assert project.ok, project.diagnostics
        assert all(_expected_warning(d) for d in project.diagnostics), project.diagnostics
        assert len(project.manifest.nodes) == generated.n_nodes
        assert project.order == order


def test_spec_factory_projects_are_valid_and_deterministic() -> None:
    for n_models in (0, 1, 12, 105):
        texts = generate_project(7, n_models)
        assert texts == generate_project(7, n_models)
        assert all(len(text.encode()) < loader.MAX_FILE_BYTES for text in texts.values())
        assert len(texts) == 1 + math.ceil(n_models / 100)
        _validated, diagnostics, manifest, _order = compile_texts(texts)
        assert diagnostics == [], diagnostics[:5]
        assert len(manifest.nodes) == count_nodes(build_documents(7, n_models))
        assert sum(node.kind == "model" for node in manifest.nodes.values()) == n_models
        assert sum(node.kind == "gate" for node in manifest.nodes.values()) == n_models
        assert sum(node.kind == "monitor" for node in manifest.nodes.values()) == math.ceil(n_models / 10)


# ------------------------------------------------------------------------------------------------
# mutated projects
# ------------------------------------------------------------------------------------------------

_NASTY = ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u00a0", "\u200b", "\u200e",
          "\u2028", "\u2029", "\u202e", "\u2066", "\ufeff", "\ufffd", "\U0001f600", "é", "ß", "ſ", "\r", "\r\n",
          "\t", "\n", ":", ": ", "- ", "-", "[", "]", "{", "}", "{{", "}}", "&", "&a ", "*", "*a", "!", "!!str ",
          "!!python/object ", "|", ">", "#", "'", '"', "\\", "%", "@", "`", "?", "? ", ",", "<<: ", "---", "...",
          "~", "null", "no", "0777", "1e999", "9" * 40, "  ", "    "]
_SCALARS = st.one_of(
    st.text(max_size=20), st.integers(-(10**40), 10**40).map(str), st.floats().map(repr),
    st.sampled_from(["", "~", "null", "yes", "no", "on", "0777", "0x1F", "1_000", "12:30", "2024-01-01", ".inf",
                     ".nan", "[", "]", "{}", "[]", "&a", "*a", "!!str x", "!!binary x", "<<", "'", '"', "|", ">",
                     "-", "- x", "a: b", "'unterminated", '"\\u0000"', '"\\x85"', '"\\U0010FFFF"', "x" * 70_000]),
)


# Words of the spec language: swapping one for another gives schema and semantic errors.
_VOCABULARY = sorted({*METRICS, *ESTIMATORS, *DRIFT_THRESHOLD_RANGES, "int", "float", "bool", "category",
                      "string", "datetime", "csv", "parquet", "sql", "classification", "regression", "passthrough",
                      "impute", "standardize", "minmax", "log1p", "bucketize", "one_hot", "mean", "median",
                      "most_frequent", "constant", "random", "stratified", "time", "grid", "open_issue", "retrain",
                      "skip_champion_checks", "fail", "champion", "source", "column", "expr", "model", "data",
                      "features", "label", "schema", "values", "timestamp", "require", "slices", "drift"})
_VOCABULARY_RE = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, _VOCABULARY)) + r")(?![A-Za-z0-9_])")


SYNTAX_EDITS = ("delete", "duplicate", "swap", "insert", "indent", "truncate")
VALUE_EDITS = ("scalar", "rename", "rename_all", "vocabulary", "number")


def _edit(draw, kind: str, text: str, names: list[str]) -> str:
    """Apply one edit of `kind` to `text`; positions come from a uniform random source."""
    rnd = draw(st.randoms(use_true_random=False))
    lines = text.split("\n")
    line = rnd.randrange(1, len(lines)) if len(lines) > 1 else 0  # line 0 (apiVersion) only via swap/insert
    if kind == "delete":
        del lines[line]
    elif kind == "duplicate":
        lines.insert(line, lines[line])
    elif kind == "swap":
        other = rnd.randrange(len(lines))
        lines[line], lines[other] = lines[other], lines[line]
    elif kind == "indent":
        stripped = lines[line].lstrip(" ")
        indent = len(lines[line]) - len(stripped)
        change = draw(st.sampled_from([-4, -2, -1, 1, 2, 4, 8]))
        lines[line] = draw(st.sampled_from([" ", "\t"])) * max(0, indent + change) + stripped
    elif kind == "scalar":
        match = re.match(r"^(\s*(?:- )?[^:#]*: |\s*- )(.*)$", lines[line])
        if match is not None:
            lines[line] = match.group(1) + draw(_SCALARS)
    else:
        return _edit_text(draw, kind, text, names, rnd)
    return "\n".join(lines)


def _edit_text(draw, kind: str, text: str, names: list[str], rnd) -> str:
    if kind == "insert":
        junk = "".join(draw(st.lists(st.one_of(st.sampled_from(_NASTY), st.text(max_size=3)), min_size=1,
                                     max_size=4)))
        position = rnd.randint(0, len(text))
        return text[:position] + junk + text[position:]
    if kind == "truncate":
        return text[: rnd.randint(0, len(text))]
    if kind == "vocabulary":  # one word of the language for another: schema and semantic errors
        found = list(_VOCABULARY_RE.finditer(text))
        if found:
            hit = rnd.choice(found)
            text = text[: hit.start()] + draw(st.sampled_from(_VOCABULARY)) + text[hit.end():]
        return text
    if kind == "number":  # a number for another: bounds, ranges and thresholds
        found = list(re.finditer(r"(?<![A-Za-z0-9_.])-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?(?![A-Za-z0-9_])", text))
        if found:
            hit = rnd.choice(found)
            number = draw(st.sampled_from(["0", "-1", "1", "2", "0.5", "1.5", "-0.0", "100", "1e9", "361", "10001",
                                           "4294967296", "99999999999999999999999999999999"]))
            text = text[: hit.start()] + number + text[hit.end():]
        return text
    if not names:
        return text
    old = draw(st.sampled_from(names))
    new = draw(st.one_of(NAMES, st.sampled_from(names), st.sampled_from(["Bad-Name", "class", "x" * 60, "é"])))
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])")
    if kind == "rename_all":
        return pattern.sub(new, text)
    found = list(pattern.finditer(text))
    if found:
        hit = rnd.choice(found)
        text = text[: hit.start()] + new + text[hit.end():]
    return text


@st.composite
def mutated_projects(draw, kinds: tuple[str, ...] = SYNTAX_EDITS + VALUE_EDITS, max_edits: int = 4) -> dict:
    """A valid project with 1..max_edits random edits applied to its files."""
    generated = draw(projects(max_sources=2, max_models=3))
    texts = dict(generated.texts)
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(sorted(texts)))
        texts[path] = _edit(draw, draw(st.sampled_from(kinds)), texts[path], generated.names)
    return texts


@budget(400)
@given(mutated_projects())
def test_mutated_projects_fail_cleanly(texts: dict[str, str]) -> None:
    check_robust(texts)


@budget(200)
@given(mutated_projects(kinds=VALUE_EDITS, max_edits=1))
def test_projects_with_one_wrong_value_fail_cleanly(texts: dict[str, str]) -> None:
    # one edit that keeps the YAML well-formed mostly reaches the schema and semantic checks
    check_robust(texts)


# ------------------------------------------------------------------------------------------------
# random input
# ------------------------------------------------------------------------------------------------

_TOKENS = ["apiVersion", "mlspec/v1", "project", "name", "sources", "features", "models", "gates", "monitors",
           "schema", "type", "int", "float", "category", "values", "source", "column", "expr", "transform",
           "task", "label", "estimator", "metrics", "model", "require", "roc_auc >= 0.9", "x", "y", "n", ":", ": ",
           "-", "- ", "\n", "\n  ", "\n    ", "  ", "[", "]", "{", "}", ",", "&a", "*a", "!!map", "!tag", "?",
           "|", ">", "#", "'", '"', "---", "...", "<<", "~", "null", "true", "no", "0777", "1.5", "-3", "%YAML 1.1",
           "\t", "\r\n", "\\", "@", "`"]


@budget(500)
@given(st.text())
def test_random_text_never_raises(text: str) -> None:
    check_robust({"specs/random.yaml": text})


@budget(400)
@given(st.binary())
def test_random_bytes_never_raise(raw: bytes) -> None:
    text, problems = loader.decode("specs/random.yaml", raw)
    assert (text is None) == bool(problems)
    if text is None:
        check_diagnostics(problems, {"specs/random.yaml": raw.decode("utf-8", "replace")})
    else:
        check_robust({"specs/random.yaml": text})


@budget(400)
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join),
       st.lists(st.sampled_from(_TOKENS), max_size=20).map("".join))
def test_yaml_token_soup_never_raises(first: str, second: str) -> None:
    check_robust({"specs/a.yaml": "apiVersion: mlspec/v1\n" + first, "specs/b.yaml": second})


# ------------------------------------------------------------------------------------------------
# the dumper and the strict loader agree
# ------------------------------------------------------------------------------------------------

_KEYS = st.text(st.one_of(_VISIBLE, st.sampled_from(list(" :-#'\"[]{},&*!|>%@`?~\n\t"))), max_size=12)
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),  # larger ones are refused
                    st.floats(allow_nan=False, allow_infinity=False), _TEXT,
                    st.sampled_from(["y", "n", "no", "0999", "0o17", "1e5", "2024-1-1", "-.5e3", "<<", "=", ""]))
_DATA = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=20)


@budget(250)
@given(st.dictionaries(_KEYS, _DATA, max_size=5), st.sampled_from([None, False, True]))
def test_dumped_data_loads_back_unchanged(data: dict, flow: bool | None) -> None:
    text = dump(data, flow=flow)
    loaded, problems = loader.parse("specs/data.yaml", text)
    assert problems == [], (text, problems)
    assert _typed(loaded) == _typed(data), text


def _typed(value: object) -> object:
    """The value with every leaf tagged by its type, so that 1, 1.0 and True compare unequal."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)
