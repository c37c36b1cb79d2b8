"""Semantic checks of sources and features: paths, URLs, SQL, contracts, expressions, transforms."""

from __future__ import annotations

import re

from mlspec import stateurls
from mlspec.diagnostics import Diagnostic, Pointer
from mlspec.lang.expressions import ExprError, columns_of, parse_expression
from mlspec.spec import exprtypes
from mlspec.spec.check_common import Facts, at_name, expr_error, hidden, ref
from mlspec.spec.merge import Entry, SpecSet
from mlspec.spec.v1.project import secret_name_problem

NUMERIC = ("int", "float", "bool")
NUMERIC_TRANSFORMS = ("passthrough", "impute", "standardize", "minmax", "log1p", "bucketize")
_ENV_REF = re.compile(r"\$\{env:[A-Z_][A-Z0-9_]{0,63}\}")
_ENV_NAME = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]{0,63})\}")
_URL_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<userinfo>[^@/]*)@")
_QUERY_SECRET = re.compile(r"[?&](?P<key>password|passwd|pwd|secret|token|api_key)=(?P<value>[^&]*)", re.IGNORECASE)
_PATH_CHARS = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
_PATTERN_CHARS = re.compile(r"[A-Za-z0-9_.*][A-Za-z0-9_./*-]*")  # Parquet parts read by DuckDB: data/day=*/*.parquet
_SQL_WRITES = re.compile(r"\b(insert|update|delete|drop|alter|create|truncate|grant|revoke|copy|attach|detach|"
                         r"pragma|vacuum|replace|merge|call|exec|execute|set|lock|reindex|comment)\b", re.IGNORECASE)


def check_uri(file: str, path: tuple, uri: str, diags: list[Diagnostic]) -> None:
    """Passwords in URLs only as ${env:VAR}: a literal secret in a spec ends up in git history."""
    leftover = _ENV_REF.sub("", uri)
    if "${" in leftover:
        diags.append(Diagnostic("MLS208", "malformed ${...} reference in the URL", Pointer(file, path),
                                "references look like ${env:UPPER_CASE_NAME}"))
        return
    for name in _ENV_NAME.findall(uri):
        problem = secret_name_problem(name)
        if problem is not None:
            diags.append(Diagnostic("MLS219", f"${{env:{name}}}: the variable {problem}", Pointer(file, path),
                                    "name a repository secret of your own, e.g. ${env:PGPASSWORD}"))
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
    if re.match(r"^sqlite(\+[a-z0-9_]+)?:", uri):
        database = uri.split("?", 1)[0].split(":", 1)[1].removeprefix("//")
        if database.startswith("//"):
            diags.append(Diagnostic("MLS214", "an absolute SQLite path reaches outside the project",
                                    Pointer(file, path), "write sqlite:///relative/path.db (three slashes)"))
        elif database.startswith("/") and database not in ("/", "/:memory:"):
            check_relative_path(file, path, database[1:], diags)


def check_relative_path(file: str, path: tuple, value: str, diags: list[Diagnostic], *, pattern: bool = False) -> None:
    """Data and artifact paths stay inside the project: a spec from a fork must not read /etc. With `pattern`,
    `*` may stand for any part of a name (a source read by DuckDB names its Parquet parts so)."""
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
    elif pattern and _PATTERN_CHARS.fullmatch(value):
        problem = None
    elif not _PATH_CHARS.fullmatch(value):
        problem = "has characters other than letters, digits, '.', '_', '-' and '/'"
        if _PATTERN_CHARS.fullmatch(value):
            problem = "is a pattern (*), which only a source with engine: duckdb reads"
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

# --------------------------------------------------------------------------------------------


def check_source(entry: Entry, facts: Facts, diags: list[Diagnostic]) -> None:
    src = entry.spec
    if src.format in ("csv", "parquet") and stateurls.is_object(src.path):
        problem = stateurls.data_problem(src.path)
        if problem is not None:
            diags.append(Diagnostic(problem.code, problem.message, entry.at("sources", "path"), problem.hint))
    elif src.format in ("csv", "parquet"):
        check_relative_path(entry.file, ("sources", entry.name, "path"), src.path, diags,
                            pattern=src.engine == "duckdb")
    else:
        check_uri(entry.file, ("sources", entry.name, "uri"), src.uri, diags)
        if src.query is not None:
            wrong = _query_problem(src.query)
            if wrong is not None:
                diags.append(Diagnostic("MLS209", f"a sql source's query {wrong}", entry.at("sources", "query"),
                                        "sources only read data: one SELECT statement, no comments"))
    if src.timestamp is not None:
        column = src.columns.get(src.timestamp)
        if column is None:
            ref(diags, entry.at("sources", "timestamp"), "column", src.timestamp, src.columns)
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
            diags.append(expr_error(exc, where, "row check"))
            continue
        facts.row_checks[(entry.name, i)] = ast
        unknown = [c for c in columns_of(ast) if c not in src.columns]
        for column in unknown:
            ref(diags, at_name(where, row_check.expr, column), "column", column, src.columns)
        if not unknown:
            _check_types(ast, {n: c.type for n, c in src.columns.items()}, where, row_check.expr, "row check", diags)


# --------------------------------------------------------------------------------------------
# features
# --------------------------------------------------------------------------------------------


def check_feature(entry: Entry, spec: SpecSet, facts: Facts, diags: list[Diagnostic]) -> None:
    feat = entry.spec
    source = spec.sources.get(feat.source)
    if source is None:
        ref(diags, entry.at("features", "source"), "source", feat.source, spec.sources)
        return
    columns = source.spec.columns
    if feat.column is not None:
        column = columns.get(feat.column)
        if column is None:
            ref(diags, entry.at("features", "column"), "column", feat.column, columns)
            return
        facts.feature_columns[entry.name] = [feat.column]
        facts.feature_deps[entry.name] = []
        _check_transform(entry, column.type, column.min, diags)
        return
    where = entry.at("features", "expr")
    try:
        ast = parse_expression(feat.expr)
    except ExprError as exc:
        diags.append(expr_error(exc, where, "feature expression"))
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
        elif not hidden(spec.features, name):
            derived = [n for n, e in spec.features.items() if e.spec.expr is not None and e.spec.source == feat.source]
            ref(diags, at_name(where, feat.expr, name), "column", name, [*columns, *derived])
    facts.feature_columns[entry.name] = raw
    facts.feature_deps[entry.name] = deps
    _check_types(ast, {n: columns[n].type for n in raw}, where, feat.expr, "feature expression", diags)
    _check_transform(entry, "float", None, diags)


def _check_types(ast: dict, types: dict[str, str], where: Pointer, text: str, what: str,
                 diags: list[Diagnostic]) -> None:
    """Arithmetic, ordering and logic only on what the runtime can compute them on (`exprtypes`)."""
    for problem in exprtypes.check(ast, types):
        place = where if problem.column is None else at_name(where, text, problem.column)
        diags.append(Diagnostic("MLS210", f"invalid {what}: {problem.message}", place, problem.hint))


def close_feature_columns(name: str, spec: SpecSet, facts: Facts) -> None:
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
    if feat.impute == "constant" and isinstance(feat.fill_value, str) and column_type in NUMERIC:
        # scikit-learn refuses text for a numeric column only when the model trains, with an array message
        diags.append(Diagnostic("MLS210", f"impute: constant fills a {column_type} column, so fill_value must be a "
                                f"number, not the text {feat.fill_value!r}", entry.at("features", "fill_value"),
                                "write a number, for example fill_value: 0"))


# --------------------------------------------------------------------------------------------
# models
