"""A source's data contract as SQL aggregates: the same findings as `runtime.contract.check` on the same data.

Each kind of failure is counted for every column in one scan (conversion failures, then nulls, ranges,
allowed values, finiteness and row rules in another), and only a failed check reads again, for its first
five examples in file order. Uniqueness groups by value (an aggregate DuckDB spills to disk). Findings
come in the order the pandas engine gives them: missing and repeated columns, conversion failures, the
row count, the row rules, then per column not null, unique, >= min, <= max, allowed values, finite.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlspec.lang.expressions import columns_of
from mlspec.manifest import FeatureNode, SourceNode
from mlspec.runtime.contract import empty_failures, place
from mlspec.runtime.conversion import BEYOND_64_BITS
from mlspec.runtime.data import MISSING_COLUMN, Failure, repeated_failure
from mlspec.runtime.duck.scan import Column, Scan
from mlspec.runtime.duck.sql import BOOL, NUM, TEXT, TIME, Compiler
from mlspec.runtime.exprs import ExpressionRuntimeError

SAMPLES = 5
FINITE = "finite (not inf)"  # the pandas engine's name for the check (its pandera error text)
# how the pandas engine shows a missing value: NaN in a number column, None in text, NaT in a date/time, <NA> in a
# true/false column (pandas' nullable boolean)
_MISSING_SHOWN = {NUM: "nan", TEXT: "None", TIME: "NaT", BOOL: "<NA>"}


def check(node: SourceNode, scan: Scan, features: Sequence[FeatureNode] = ()) -> tuple[int, list[Failure]]:
    """The number of rows and every contract failure of the data `scan` reads (see `runtime.contract.check`)."""
    rows = scan.rows()
    failures = [Failure(column, MISSING_COLUMN, rows) for column in scan.missing]
    failures += [repeated_failure(node, column, positions, rows) for column, positions in scan.repeated.items()]
    converted = _conversions(scan, failures)
    if rows < node.min_rows:
        failures.append(Failure("*", f"at least {node.min_rows} rows", rows, [f"{rows} rows"]))
    if node.max_rows is not None and rows > node.max_rows:
        failures.append(Failure("*", f"at most {node.max_rows} rows", rows, [f"{rows} rows"]))
    if rows == 0:
        return rows, failures
    failures += _row_rules(node, scan, converted)  # pandera reports the frame's checks before the columns'
    failures += _column_checks(node, scan, converted)
    if features:
        all_null = {f.column for f in failures if f.check == "not null" and f.count == rows}
        failures += _empty_features(node, scan, converted, features, rows, all_null)
    return rows, failures


def _conversions(scan: Scan, failures: list[Failure]) -> list[Column]:
    """Record the columns whose raw values do not convert; return the others (the ones checked further)."""
    tests = [(c, c.bad, c.bad_check) for c in scan.columns if c.bad and c.bad_check] + \
            [(c, c.whole_bad, "not a whole number") for c in scan.columns if c.whole_bad] + \
            [(c, f"({c.typed} IS NOT NULL AND abs({c.typed}) >= 9223372036854775808.0)", BEYOND_64_BITS)
             for c in scan.columns if c.whole_bad]  # an int column (see runtime.conversion)
    counts = _counts(scan, [f"count_if({test})" for _, test, _ in tests], typed=False)
    failed: dict[str, Failure] = {}
    for (column, test, label), count in zip(tests, counts, strict=True):
        if count and column.name not in failed:  # a number that is not one is not also "not whole"
            samples = [str(v) for v in _first(scan, column.raw, test, typed=False)]
            failed[column.name] = Failure(column.name, label, count, samples)
    failures += [failed[c.name] for c in scan.columns if c.name in failed]
    return [c for c in scan.columns if c.name not in failed]


def _column_checks(node: SourceNode, scan: Scan, columns: list[Column]) -> list[Failure]:
    checks: list[tuple[Column, str]] = []  # (column, label), in the pandas engine's order
    for column in columns:
        contract = node.columns[column.name]
        checks += [(column, label) for label, wanted in (
            ("not null", not contract.nullable), ("unique", contract.unique),
            (f">= {contract.min}", contract.min is not None), (f"<= {contract.max}", contract.max is not None),
            ("allowed values", contract.values is not None), (FINITE, contract.type == "float")) if wanted]
    plain = [(c, label) for c, label in checks if label != "unique"]  # unique is counted by grouping, below
    compiler = Compiler({}, list(scan.base_params()))
    tests = [f"count_if({_test(node, c, label, compiler)})" for c, label in plain]
    counts = dict(zip([(c.name, label) for c, label in plain], _counts(scan, tests, compiler=compiler), strict=True))
    nulls = dict(zip([c.name for c in columns],
                     _counts(scan, [f"count(*) - count({c.alias})" for c in columns]), strict=True))
    failures = []
    for column, label in checks:
        has_nulls = nulls[column.name] > 0
        if label == "unique":
            count, samples = _duplicates(scan, column, has_nulls)
        elif label == "not null":
            count = counts[(column.name, label)]
            samples = [_MISSING_SHOWN[column.kind]] * min(count, SAMPLES)
        else:
            count = counts[(column.name, label)]
            fresh = Compiler({}, list(scan.base_params()))  # a statement binds only the values it reads
            samples = [_shown(v, column, has_nulls)
                       for v in _first(scan, column.alias, _test(node, column, label, fresh), compiler=fresh)] \
                if count else []
        if count:
            failures.append(Failure(column.name, label, count, samples))
    return failures


def _test(node: SourceNode, column: Column, label: str, compiler: Compiler) -> str:
    """The SQL test that a row fails the check `label` of `column` (its typed alias)."""
    contract, a = node.columns[column.name], column.alias
    if label == "not null":
        return f"{a} IS NULL"
    if label.startswith(">=") and contract.min is not None:
        return f"{a} < {compiler.bind(float(contract.min))}"
    if label.startswith("<=") and contract.max is not None:
        return f"{a} > {compiler.bind(float(contract.max))}"
    if label == FINITE:
        return f"isinf({a})"
    if contract.values is None:
        raise ValueError(f"column {column.name} has no check {label!r}")  # labels come from the contract
    return _not_allowed(column, contract.values, compiler)


def _not_allowed(column: Column, values: list, compiler: Compiler) -> str:
    """The SQL test that a present value is not among the allowed `values` (compared as pandas' isin does)."""
    a = column.alias
    if column.kind == TEXT:
        return f"NOT list_contains(CAST({compiler.bind([str(v) for v in values])} AS VARCHAR[]), {a})"
    if column.kind == TIME:
        return f"NOT list_contains(CAST({compiler.bind([str(v) for v in values])} AS VARCHAR[]), CAST({a} AS VARCHAR))"
    numbers = [float(v) for v in values if not isinstance(v, str)]  # text never equals a number
    return f"NOT list_contains(CAST({compiler.bind(numbers)} AS DOUBLE[]), CAST({a} AS DOUBLE))"


def _duplicates(scan: Scan, column: Column, has_nulls: bool) -> tuple[int, list[str]]:
    """Rows whose value another row has too (every such row, as pandera counts them) and the first five."""
    a = column.alias
    repeated = (f"SELECT {a} AS v, count(*) AS n FROM typed WHERE {a} IS NOT NULL GROUP BY {a} HAVING count(*) > 1")
    count = scan.con.execute(f"WITH typed AS ({scan.typed_sql([column])}) SELECT coalesce(sum(n), 0) FROM "
                             f"({repeated})", scan.base_params()).fetchall()[0][0]
    if not count:
        return 0, []
    found = scan.con.execute(
        f"WITH typed AS ({scan.typed_sql([column], row_number=True)}) SELECT {a} FROM typed "
        f"WHERE {a} IN (SELECT v FROM ({repeated})) ORDER BY __row LIMIT {SAMPLES}", scan.base_params()).fetchall()
    return int(count), [_shown(r[0], column, has_nulls) for r in found]


def _row_rules(node: SourceNode, scan: Scan, columns: list[Column]) -> list[Failure]:
    names = {c.name for c in columns}
    aliases = {c.name: (c.alias, c.kind) for c in columns}
    compiler = Compiler(aliases, list(scan.base_params()))
    rules, failures = [], []
    for rule in node.row_checks:
        if not set(columns_of(rule.expr)) <= names:
            continue  # a column it reads is missing or failed its type check, which is reported already
        label = f"row check {rule.name}"
        try:
            rules.append((label, rule, f"NOT {compiler.truth(rule.expr)}"))
        except ExpressionRuntimeError as exc:  # as pandera reports a check that raised: no rows, the error
            failures.append(Failure("*", label, 0, note=f"could not be evaluated: {exc}",
                                    hint="the rule could not be computed on this data; rewrite the rule, or "
                                         "report the data that breaks it as a bug"))
    counts = _counts(scan, [f"count_if({test})" for _, _, test in rules], compiler=compiler)
    for (label, rule, _), count in zip(rules, counts, strict=True):
        if count:
            fresh = Compiler(aliases, list(scan.base_params()))
            rows = _first(scan, "__row", f"NOT {fresh.truth(rule.expr)}", compiler=fresh)
            failures.append(Failure("*", label, count, [place(node, int(r)) for r in rows]))
    return failures


def _empty_features(node: SourceNode, scan: Scan, columns: list[Column], features: Sequence[FeatureNode],
                    rows: int, reported: set[str]) -> list[Failure]:
    """Features without a value in any row, as `runtime.contract._empty_features` finds them."""
    names = {c.name: c for c in columns}
    present = dict(zip(names, _counts(scan, [f"count({c.alias})" for c in columns]), strict=True))
    empty_columns = {name for name, count in present.items() if count == 0}
    compiler = Compiler({c.name: (c.alias, c.kind) for c in columns}, list(scan.base_params()))
    derived: dict[str, str] = {}  # feature -> its SQL (a missing or infinite value as NULL)
    readers: dict[str, list[str]] = {}
    tested: list[FeatureNode] = []
    for feature in features:  # dependencies first, so a derived feature can read another
        if not set(feature.inputs) <= set(names):
            continue
        if feature.expr is None:
            if feature.column in empty_columns:
                readers.setdefault(feature.column, []).append(feature.name)
            continue
        if any(d not in derived for d in feature.derived_inputs):
            continue
        compiler.columns = {**{c.name: (c.alias, c.kind) for c in columns},
                            **{d: (derived[d], NUM) for d in feature.derived_inputs}}
        try:
            value = compiler.number(feature.expr)
        except ExpressionRuntimeError:
            continue  # training reports it with the expression's own message
        derived[feature.name] = f"(CASE WHEN isinf({value}) THEN NULL ELSE {value} END)"
        tested.append(feature)
    counts = _counts(scan, [f"count({derived[f.name]})" for f in tested], compiler=compiler)
    orphans = []
    for feature, count in zip(tested, counts, strict=True):
        if count == 0:
            empty = [c for c in feature.inputs if c in empty_columns]
            for column in empty:
                readers.setdefault(column, []).append(feature.name)
            if not empty:
                orphans.append(feature)
    return empty_failures(node, rows, readers, orphans, reported)


# -- queries ------------------------------------------------------------------------------------------


def _counts(scan: Scan, aggregates: list[str], *, typed: bool = True, compiler: Compiler | None = None) -> list[int]:
    """The value of each aggregate over all rows (typed columns, or the raw ones), in one scan."""
    if not aggregates:
        return []
    params = compiler.params if compiler is not None else scan.base_params()
    source = f"({scan.typed_sql()})" if typed else scan.from_sql
    row = scan.con.execute(f"SELECT {', '.join(aggregates)} FROM {source}", params).fetchall()[0]
    return [int(v or 0) for v in row]


def _first(scan: Scan, value: str, test: str, *, typed: bool = True, compiler: Compiler | None = None) -> list:
    """`value` in the first five rows (in file order) where `test` holds."""
    params = compiler.params if compiler is not None else scan.base_params()
    if typed:
        body = scan.typed_sql(row_number=True)
    else:
        body = f"SELECT row_number() OVER () - 1 AS __row, * FROM {scan.from_sql}"
    found = scan.con.execute(f"SELECT {value} FROM ({body}) WHERE {test} ORDER BY __row LIMIT {SAMPLES}",
                             params).fetchall()
    return [r[0] for r in found]


def _shown(value, column: Column, has_nulls: bool) -> str:
    """A failing value as the pandas engine shows it: an int column is whole numbers unless it has missing
    values (pandas then holds it as floats), a float column floats, a date/time as pandas prints one."""
    if column.contract_type == "int" and not has_nulls and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
