"""Profiles and drift statistics as SQL aggregates, with one seeded sample where order statistics are needed.

Counts, null rates, means, standard deviations, extremes, category frequencies and the number of values
in every bin are exact aggregates over all rows. Order statistics are not: DuckDB's exact quantiles hold
a column in memory and do not spill, so the decile edges, the 2,000-point quantile sketch (the profile's
`sample`) and the live values that ks and wasserstein compare come from one seeded reservoir sample of
SAMPLE_ROWS rows (all rows when there are fewer; `MLSPEC_DUCKDB_SAMPLE_ROWS` sets it).

What that costs in accuracy: the bins' counts are exact for any edges, so psi, jensen_shannon and
chi_square are exact given the edges; ks is within `ks_bound` (0.0044 at 200,000 rows) of its value over
all rows with probability 99.9% (the Dvoretzky-Kiefer-Wolfowitz inequality); wasserstein moves by at most
the distance between the sample and all rows, which has no distribution-free bound (it is measured in
benchmarks/README.md). The monitor's report states the sample and the bound (`approximation`).
"""

from __future__ import annotations

import math
import os

from mlspec.runtime.duck.scan import Column, Scan, arrow_table
from mlspec.runtime.duck.sql import BOOL, NUM

SAMPLE_ROWS = 200_000  # MLSPEC_DUCKDB_SAMPLE_ROWS changes it (more rows: tighter bounds, more memory)
CONFIDENCE = 0.999


def sample_rows() -> int:
    """How many rows the seeded sample holds: MLSPEC_DUCKDB_SAMPLE_ROWS, else SAMPLE_ROWS."""
    chosen = os.environ.get("MLSPEC_DUCKDB_SAMPLE_ROWS", "").strip()
    return int(chosen) if chosen.isdigit() and int(chosen) > 0 else SAMPLE_ROWS


def ks_bound(sample_rows: int, confidence: float = CONFIDENCE) -> float:
    """How far a sample's empirical distribution may be from all rows' (sup norm), at `confidence` (DKW)."""
    return math.sqrt(math.log(2 / (1 - confidence)) / (2 * max(sample_rows, 1)))


def approximation(rows: int, sample_rows: int) -> dict:
    """What the report says about the sample behind ks and wasserstein (None-free, JSON-ready)."""
    exact = sample_rows >= rows
    return {"engine": "duckdb", "rows": rows, "sample_rows": sample_rows, "exact": exact,
            "ks_bound": 0.0 if exact else round(ks_bound(sample_rows), 6), "confidence": CONFIDENCE,
            "note": "counts, null rates and bins are exact over all rows; quantile edges, the quantile sketch and "
                    "the live values of ks and wasserstein come from a seeded sample" if not exact else
                    "every statistic is exact (the sample holds all rows)"}


def is_numeric(column: Column) -> bool:
    """Whether the profile treats the column as numbers (pandas: a number or boolean dtype)."""
    return column.kind in (NUM, BOOL)


def sample(scan: Scan, columns: list[Column], seed: int, rows: int | None = None) -> dict:
    """A seeded reservoir sample of the typed columns: {name: numpy array} (floats, NaN for missing)."""
    import numpy as np

    if not columns:
        return {}
    parts = [f"CAST({c.alias} AS DOUBLE) AS {c.alias}" for c in columns]
    query = (f"SELECT {', '.join(parts)} FROM ({scan.typed_sql(columns)}) "
             f"USING SAMPLE reservoir({int(rows or sample_rows())} ROWS) REPEATABLE ({int(seed)})")
    table = arrow_table(scan.con, query, scan.base_params())
    return {c.name: np.asarray(table.column(c.alias).to_numpy(zero_copy_only=False), dtype=float) for c in columns}


def numeric_summaries(scan: Scan, columns: list[Column]) -> dict[str, dict]:
    """Per numeric column: rows, finite values, mean, population standard deviation, min and max (exact)."""
    aggregates = []
    for c in columns:
        finite = f"isfinite(CAST({c.alias} AS DOUBLE))"
        value = f"CAST({c.alias} AS DOUBLE)"
        aggregates += [f"count_if({finite})", f"avg({value}) FILTER ({finite})",
                       f"stddev_pop({value}) FILTER ({finite})", f"min({value}) FILTER ({finite})",
                       f"max({value}) FILTER ({finite})"]
    row = scan.con.execute(f"SELECT count(*), {', '.join(aggregates)} FROM ({scan.typed_sql(columns)})",
                           scan.base_params()).fetchall()[0]
    out = {}
    for i, c in enumerate(columns):
        present, mean, std, low, high = row[1 + 5 * i: 6 + 5 * i]
        out[c.name] = {"rows": int(row[0]), "present": int(present), "mean": float(mean or 0.0),
                       "std": float(std or 0.0), "min": float(low or 0.0), "max": float(high or 0.0)}
    return out


def bin_counts(scan: Scan, edges: dict[str, list[float]], by_name: dict[str, Column]) -> dict[str, list[int]]:
    """Exact counts of each column's finite values in the bins its `edges` make (a value equal to an edge
    counts in the bin above it, as `numpy.searchsorted(edges, value, side='right')` puts it), in one scan."""
    import numpy as np

    from mlspec.runtime.duck.sql import Compiler

    compiler = Compiler({}, list(scan.base_params()))
    aggregates: list[str] = []
    shape: list[tuple[str, int]] = []  # each column's name and number of edges, in the aggregates' order
    for name, cuts in edges.items():
        value = f"CAST({by_name[name].alias} AS DOUBLE)"
        aggregates.append(f"count_if(isfinite({value}))")
        aggregates += [f"count_if(isfinite({value}) AND {value} < {compiler.bind(float(e))})" for e in cuts]
        shape.append((name, len(cuts)))
    if not aggregates:
        return {}
    columns = [by_name[name] for name in edges]
    row = scan.con.execute(f"SELECT {', '.join(aggregates)} FROM ({scan.typed_sql(columns)})",
                           compiler.params).fetchall()[0]
    out, at = {}, 0
    for name, n_edges in shape:
        total, below = int(row[at]), [int(v) for v in row[at + 1: at + 1 + n_edges]]
        out[name] = np.diff(np.asarray(below, dtype=np.int64), prepend=0, append=total).tolist()
        at += 1 + n_edges
    return out


def category_counts(scan: Scan, columns: list[Column]) -> dict[str, tuple[dict[str, int], int]]:
    """Each column's category counts (as text) and number of missing values, all grouped in one scan."""
    if not columns:
        return {}
    values = ", ".join(f"CAST({c.alias} AS VARCHAR) AS {c.alias}" for c in columns)
    sets = ", ".join(f"({c.alias})" for c in columns)
    # GROUPING(alias) is 0 on the rows grouped by that column; a NULL there is its missing values
    which = ", ".join(f"GROUPING({c.alias})" for c in columns)
    found = scan.con.execute(f"SELECT {', '.join(c.alias for c in columns)}, {which}, count(*) FROM "
                             f"(SELECT {values} FROM ({scan.typed_sql(columns)})) GROUP BY GROUPING SETS ({sets})",
                             scan.base_params()).fetchall()
    out: dict[str, tuple[dict[str, int], int]] = {c.name: ({}, 0) for c in columns}
    for row in found:
        count, grouping = int(row[-1]), row[len(columns):-1]
        index = list(grouping).index(0)
        name, value = columns[index].name, row[index]
        counts, missing = out[name]
        if value is None:
            out[name] = (counts, missing + count)
        else:
            counts[str(value)] = count
    return out


def profile(scan: Scan, names: list[str], seed: int) -> tuple[dict[str, dict], dict]:
    """The reference profile of `names` (each as `monitoring.profile` makes it from a frame) and what was
    approximated."""
    import numpy as np

    from mlspec.runtime.monitoring.drift import sorted_quantiles
    from mlspec.runtime.monitoring.profile import BINS, SAMPLE, categorical_profile_from, numeric_profile_from

    columns = [scan.by_name[n] for n in names if n in scan.by_name]
    numeric = [c for c in columns if is_numeric(c)]
    summaries = numeric_summaries(scan, numeric) if numeric else {}
    drawn = sample(scan, numeric, seed)
    sorted_present = {name: np.sort(values[np.isfinite(values)]) for name, values in drawn.items()}
    edges = {c.name: np.unique(sorted_quantiles(sorted_present[c.name], np.linspace(0, 1, BINS + 1)[1:-1])).tolist()
             for c in numeric if len(sorted_present[c.name])}
    counts = bin_counts(scan, edges, scan.by_name)
    profiled = {}
    rows = next(iter(summaries.values()))["rows"] if summaries else None
    categories = category_counts(scan, [c for c in columns if not is_numeric(c)])
    for column in columns:
        if not is_numeric(column):
            profiled[column.name] = categorical_profile_from(*categories[column.name])
            continue
        summary, ordered = summaries[column.name], sorted_present[column.name]
        if summary["present"] == 0 or column.name not in edges:
            profiled[column.name] = numeric_profile_from(summary["rows"], 0)
            continue
        sketch = ordered if len(ordered) <= SAMPLE else sorted_quantiles(ordered, np.linspace(0, 1, SAMPLE))
        profiled[column.name] = numeric_profile_from(
            summary["rows"], summary["present"], edges[column.name], counts[column.name], sketch, summary["mean"],
            summary["std"], summary["min"], summary["max"])
    if rows is None:
        rows = scan.rows()
    return profiled, approximation(rows, min(rows, sample_rows()))


def drift(scan: Scan, settings, reference: dict, seed: int) -> tuple[list, dict]:
    """Each column's drift (`monitoring.drift.ColumnDrift`, in `settings.columns` order where the reference and
    the data both have it) from exact counts and one seeded sample, and what was approximated."""
    import numpy as np

    from mlspec.runtime.monitoring import drift as measures

    names = [c for c in sorted(settings.columns) if c in reference["columns"] and c in scan.by_name]
    numeric = [scan.by_name[c] for c in names if reference["columns"][c]["kind"] == "numeric"]
    edges = {c.name: measures.reference_bins(reference["columns"][c.name], settings.bins)[0].tolist() for c in numeric}
    counts = bin_counts(scan, edges, scan.by_name)
    summaries = numeric_summaries(scan, numeric) if numeric else {}
    ordered = [c for c in numeric if settings.columns[c.name].method in ("ks", "wasserstein")]
    drawn = sample(scan, ordered, seed)
    rows = next(iter(summaries.values()))["rows"] if summaries else scan.rows()
    categories = category_counts(scan, [scan.by_name[c] for c in names if reference["columns"][c]["kind"] != "numeric"])
    results = []
    for name in names:
        measure, profile = settings.columns[name], reference["columns"][name]
        if profile["kind"] != "numeric":
            live, missing = categories[name]
            results.append(measures.categorical_from(name, profile, live, missing, measure.method, measure.threshold,
                                                     settings.min_rows))
            continue
        live_sorted = None
        if name in drawn:
            values = drawn[name]
            live_sorted = np.sort(values[np.isfinite(values)])
        summary = summaries[name]
        results.append(measures.numeric_from(name, profile, summary["rows"], summary["present"], counts[name],
                                             live_sorted, measure.method, measure.threshold, settings.min_rows,
                                             settings.bins))
    return results, approximation(rows, min(rows, sample_rows()))
