"""Drift of live data against a model version's reference profile, vectorised with numpy.

Measures are effect sizes, not p-values: at production sample sizes a p-value flags every
column, while an effect size says how far the data moved. For numeric columns:
`psi` (population stability index over the reference's quantile bins), `ks` (the Kolmogorov-Smirnov
statistic), `wasserstein` (earth mover's distance in reference standard deviations), `jensen_shannon`
(distance, base 2, in [0, 1]) and `chi_square` (Cramér's V of reference vs live bin counts).
Categorical columns use psi, chi_square or jensen_shannon over category frequencies (ks and
wasserstein fall back to jensen_shannon). Too little data (fewer live rows than `min_rows`: rows,
whether or not a value is missing in them), an all-missing live column or a constant reference column
give the verdict `insufficient_data`, never "no drift".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-4  # floor for empty bins in psi/js, so one empty bin does not make the score infinite
CATEGORICAL_FALLBACK = {"ks": "jensen_shannon", "wasserstein": "jensen_shannon"}


@dataclass
class ColumnDrift:
    """One column's drift verdict with its score."""

    column: str
    kind: str
    method: str
    threshold: float
    score: float | None
    verdict: str  # "drift" | "ok" | "insufficient_data"
    rows: int  # live rows, missing values included (null_rate_live says how many are missing)
    null_rate_reference: float
    null_rate_live: float
    new_categories: list[str] = field(default_factory=list)
    reference: dict = field(default_factory=dict)  # bins/proportions for charts
    live: dict = field(default_factory=dict)
    note: str = ""


def _proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _too_few(result: ColumnDrift, rows: int, present: int, min_rows: int) -> bool:
    """Say why a column cannot be judged: fewer live rows than min_rows, or no value in any of them.

    min_rows counts rows, as the spec documents: a missing value in one row of a large batch must not
    make every column "insufficient" (how many values are missing is the null rate's business)."""
    if rows < min_rows:
        result.note = f"{rows} live rows, fewer than min_rows {min_rows}"
    elif present == 0:
        result.note = f"every one of the {rows} live values is missing"
    return rows < min_rows or present == 0


def psi(ref: np.ndarray, live: np.ndarray) -> float:
    """Population stability index of two proportion vectors."""
    p, q = np.clip(ref, EPS, None), np.clip(live, EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(ref: np.ndarray, live: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) of two proportion vectors."""
    p, q = ref / ref.sum(), live / live.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max(0.0, (kl_p + kl_q) / 2)))


def cramers_v(ref_counts: np.ndarray, live_counts: np.ndarray) -> float:
    """Cramér's V of the 2 x k table (reference, live) x bins: 0 same shape, 1 disjoint."""
    table = np.vstack([ref_counts, live_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if table.shape[1] < 2 or total == 0:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / total
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / total))


def _ks(sample: np.ndarray, live_sorted: np.ndarray) -> float:
    """KS statistic between the reference sample and the live values (both sorted)."""
    grid = np.concatenate([sample, live_sorted])
    cdf_ref = np.searchsorted(sample, grid, side="right") / len(sample)
    cdf_live = np.searchsorted(live_sorted, grid, side="right") / len(live_sorted)
    return float(np.max(np.abs(cdf_ref - cdf_live)))


def sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles `q` of already sorted values, interpolated linearly (numpy's default method).

    np.quantile would partition the array again for every call; on sorted data each quantile is two
    lookups, so this costs O(len(q)) instead of O(n).
    """
    position = np.asarray(q, dtype=float) * (len(ordered) - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _wasserstein(sample: np.ndarray, live_sorted: np.ndarray, scale: float) -> float:
    """Earth mover's distance between the two empirical distributions (both sorted), divided by `scale`."""
    grid = np.linspace(0, 1, 1001)
    a = sorted_quantiles(sample, grid)
    b = sorted_quantiles(live_sorted, grid)
    return float(np.trapezoid(np.abs(a - b), grid) / scale)


def numeric(column: str, profile: dict, values: np.ndarray, method: str, threshold: float,
            min_rows: int, bins: int | None = None) -> ColumnDrift:
    """Drift of a numeric column (`values` float, NaN for missing; infinities count as missing too)."""
    present = values[np.isfinite(values)]
    edges, _ = reference_bins(profile, bins)
    live_sorted = np.sort(present) if method in ("ks", "wasserstein") else None
    if live_sorted is not None:
        # sorted anyway: count bins by one binary search per edge; a value equal to an edge counts in the
        # bin above it, exactly where searchsorted(edges, value, side='right') puts it
        live_counts = np.diff(np.searchsorted(live_sorted, edges, side="left"), prepend=0, append=len(present))
    else:
        live_counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return numeric_from(column, profile, len(values), len(present), live_counts, live_sorted, method, threshold,
                        min_rows, bins)


def reference_bins(profile: dict, bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The reference's bin edges and counts: the profile's, or its quantile sketch re-binned into `bins` bins
    when the monitor asks for another binning. Live values are counted into the same edges."""
    edges = np.asarray(profile.get("edges", []), dtype=float)
    ref_counts = np.asarray(profile.get("counts", []), dtype=float)
    sample = np.asarray(profile.get("sample", []), dtype=float)  # sorted: quantiles of the sorted reference
    if bins and len(sample) > bins and bins != len(edges) + 1:
        edges = np.unique(sorted_quantiles(sample, np.linspace(0, 1, bins + 1)[1:-1]))
        ref_counts = np.bincount(np.searchsorted(edges, sample, side="right"), minlength=len(edges) + 1).astype(float)
    return edges, ref_counts


def numeric_from(column: str, profile: dict, rows: int, present: int, live_counts: np.ndarray | list[int],
                 live_sorted: np.ndarray | None, method: str, threshold: float, min_rows: int,
                 bins: int | None = None) -> ColumnDrift:
    """Drift of a numeric column from its live statistics: `rows` (missing values included), `present` (finite
    values), the counts of the present values in `reference_bins`' bins, and the sorted live values (or a
    sorted sample of them) when the method is ks or wasserstein. Both engines end here."""
    result = ColumnDrift(column, "numeric", method, threshold, None, "insufficient_data", rows,
                         profile.get("null_rate", 0.0), float(1 - present / max(rows, 1)))
    if _too_few(result, rows, present, min_rows):
        return result
    edges, ref_counts = reference_bins(profile, bins)
    if ref_counts.sum() == 0 or profile.get("std", 0.0) == 0.0:
        result.note = "the reference column is constant or empty"
        return result
    sample = np.asarray(profile.get("sample", []), dtype=float)
    live_counts = np.asarray(live_counts, dtype=float)
    result.reference = {"edges": edges.tolist(), "proportions": _proportions(ref_counts).tolist()}
    result.live = {"proportions": _proportions(live_counts).tolist()}
    if method == "psi":
        score = psi(_proportions(ref_counts), _proportions(live_counts))
    elif method == "jensen_shannon":
        score = jensen_shannon(ref_counts, live_counts)
    elif method == "chi_square":
        score = cramers_v(ref_counts, live_counts)
    else:
        if live_sorted is None:
            raise ValueError(f"{method} needs the sorted live values")  # the engines pass them for ks and wasserstein
        score = _ks(sample, live_sorted) if method == "ks" else _wasserstein(sample, live_sorted, profile["std"])
    result.score = score
    result.verdict = "drift" if score > threshold else "ok"
    return result


def category_counts(values) -> tuple[dict[str, int], int]:
    """Count each category of `values` (a pandas Series or any sequence; None/NaN are missing).

    Hash-based counting in pandas, so the cost is one pass in C, never a Python loop over rows.
    Returns ({category as text: count}, number of missing values).
    """
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object), dtype=object)
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for key, count in zip(counts.index.tolist(), counts.tolist(), strict=True):  # one step per category
        if count:
            merged[str(key)] = merged.get(str(key), 0) + int(count)  # 1 and "1" are one category as text
    return merged, int(series.isna().sum())


def categorical(column: str, profile: dict, values, method: str, threshold: float,
                min_rows: int) -> ColumnDrift:
    """Drift of a categorical column (`values` a pandas Series or a sequence; None/NaN for missing)."""
    live_map, missing = category_counts(values)
    return categorical_from(column, profile, live_map, missing, method, threshold, min_rows)


def categorical_from(column: str, profile: dict, live_map: dict[str, int], missing: int, method: str,
                     threshold: float, min_rows: int) -> ColumnDrift:
    """Drift of a categorical column from its live category counts ({text: count}) and missing values."""
    method = CATEGORICAL_FALLBACK.get(method, method)
    present = sum(live_map.values())
    result = ColumnDrift(column, "categorical", method, threshold, None, "insufficient_data", present + missing,
                         profile.get("null_rate", 0.0), float(missing / max(present + missing, 1)))
    if _too_few(result, present + missing, present, min_rows):
        return result
    known = sorted(profile.get("frequencies", {}))
    if len(known) < 2:
        result.note = "the reference column is constant or empty"
        return result
    unknown = sorted(c for c in live_map if c not in profile["frequencies"])
    tail = profile.get("other", 0)
    if tail:
        # the profile kept only the most frequent categories: unknown live values belong to its tail
        result.new_categories = []
        live_other = float(sum(live_map[c] for c in unknown))
    else:
        result.new_categories = unknown
        live_other = 0.0
    categories = known + result.new_categories
    ref_counts = np.array([profile["frequencies"].get(c, 0) for c in categories] + [tail], float)
    live_counts = np.array([live_map.get(c, 0) for c in categories] + [live_other], float)
    result.reference = {"categories": categories, "proportions": _proportions(ref_counts)[:-1].tolist()}
    result.live = {"proportions": _proportions(live_counts)[:-1].tolist()}
    if method == "psi":
        score = psi(_proportions(ref_counts), _proportions(live_counts))
    elif method == "chi_square":
        score = cramers_v(ref_counts, live_counts)
    else:
        score = jensen_shannon(ref_counts, live_counts)
    result.score = score
    result.verdict = "drift" if score > threshold else "ok"
    return result
