"""Drift measures (`mlspec.runtime.monitoring.drift`) against textbook values computed independently here.

Every expected value is computed in the test, by hand or with scipy, never with mlspec's helpers:
PSI as sum((q - p) * ln(q / p)), the KS statistic with `scipy.stats.ks_2samp`, the earth mover's
distance with `scipy.stats.wasserstein_distance`, the Jensen-Shannon distance with
`scipy.spatial.distance.jensenshannon` and Cramér's V from `scipy.stats.chi2_contingency`. Reference
profiles are built the way training builds them (`mlspec.runtime.monitoring.profile`), with at most 2,000
reference values so the profile keeps the exact sorted sample. Also: categorical columns (new
categories, frequencies), the `insufficient_data` verdict, and a million numeric values (how fast:
benchmarks/bench_drift_methods.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlspec.runtime.monitoring import drift
from mlspec.runtime.monitoring.profile import SAMPLE, _categorical_profile, _numeric_profile

METHODS = ["psi", "ks", "wasserstein", "jensen_shannon", "chi_square"]
CATEGORICAL_METHODS = ["psi", "chi_square", "jensen_shannon"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def live_bin_counts(edges: list[float], values: np.ndarray) -> np.ndarray:
    """Counts of `values` per reference bin, written out as intervals [lo, hi) (independent of mlspec)."""
    bounds = [-math.inf, *edges, math.inf]
    return np.array([np.count_nonzero((values >= lo) & (values < hi)) for lo, hi in itertools.pairwise(bounds)],
                    dtype=float)


def numeric(profile: dict, values, method: str, threshold: float = 0.1, min_rows: int = 10) -> drift.ColumnDrift:
    return drift.numeric("x", profile, np.asarray(values, dtype=float), method, threshold, min_rows)


def categorical(profile: dict, values, method: str, threshold: float = 0.1, min_rows: int = 10):
    return drift.categorical("c", profile, np.asarray(values, dtype=object), method, threshold, min_rows)


# ------------------------------------------------------------------------------------------------
# PSI
# ------------------------------------------------------------------------------------------------


def test_psi_of_a_hand_made_table() -> None:
    p = [0.1, 0.2, 0.3, 0.4]
    q = [0.25, 0.25, 0.25, 0.25]
    by_hand = sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    # 0.15 ln 2.5 + 0.05 ln 1.25 - 0.05 ln(5/6) - 0.15 ln 0.625
    assert by_hand == pytest.approx(0.228218, abs=1e-6)
    assert drift.psi(np.array(p), np.array(q)) == pytest.approx(by_hand, rel=1e-12)
    assert drift.psi(np.array(p), np.array(p)) == 0.0


def test_psi_of_a_numeric_column_uses_the_reference_bins() -> None:
    # reference bins (-inf, 1), [1, 2), [2, 3), [3, inf) holding 10, 20, 30, 40 rows; live 25 in each
    profile = {"kind": "numeric", "edges": [1.0, 2.0, 3.0], "counts": [10, 20, 30, 40], "std": 1.0,
               "null_rate": 0.0}
    live = [0.5] * 25 + [1.0] * 25 + [2.0] * 25 + [3.0] * 25  # a value on an edge belongs to the bin above
    result = numeric(profile, live, "psi", threshold=0.2)
    by_hand = sum((0.25 - p) * math.log(0.25 / p) for p in (0.1, 0.2, 0.3, 0.4))
    assert result.score == pytest.approx(by_hand, rel=1e-12)
    assert result.verdict == "drift" and result.kind == "numeric" and result.rows == 100
    assert result.live["proportions"] == [0.25] * 4
    assert result.reference["proportions"] == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_psi_with_an_empty_live_bin_is_finite() -> None:
    profile = {"kind": "numeric", "edges": [1.0], "counts": [50, 50], "std": 1.0, "null_rate": 0.0}
    result = numeric(profile, [5.0] * 100, "psi", threshold=0.2)
    # empty bins are floored at EPS: (EPS - 0.5) ln(EPS / 0.5) + (1 - 0.5) ln(1 / 0.5)
    by_hand = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(1 / 0.5)
    assert math.isfinite(result.score) and result.score == pytest.approx(by_hand, rel=1e-9)
    assert result.verdict == "drift"


def test_profile_and_live_bin_a_value_on_an_edge_alike() -> None:
    values = rng().integers(0, 5, 1000).astype(float)  # heavy ties: many values sit exactly on edges
    profile = _numeric_profile(values)
    for method in METHODS:
        result = numeric(profile, values, method)
        assert result.score == pytest.approx(0.0, abs=1e-12), method
        assert result.verdict == "ok", method


# ------------------------------------------------------------------------------------------------
# KS, Wasserstein, Jensen-Shannon, chi-square against scipy
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "live"), [
    (rng(1).normal(0, 1, 2000), rng(2).normal(0.1, 1, 5000)),
    (rng(3).normal(0, 1, 300), rng(4).normal(0, 1.5, 120)),
    (rng(5).integers(0, 10, 2000).astype(float), rng(6).integers(1, 11, 3000).astype(float)),  # ties
    (rng(7).lognormal(0, 1, 1500), rng(8).lognormal(0.3, 1, 2500)),
], ids=["normal-shift", "scale", "ties", "lognormal"])
def test_ks_statistic_matches_scipy(ref: np.ndarray, live: np.ndarray) -> None:
    assert len(ref) <= SAMPLE  # the profile keeps every reference value, so the statistic is exact
    expected = stats.ks_2samp(ref, live).statistic
    result = numeric(_numeric_profile(ref), live, "ks")
    assert result.score == pytest.approx(expected, abs=1e-12)


def test_ks_ignores_missing_values_on_both_sides() -> None:
    ref = rng(1).normal(0, 1, 1500)
    live = rng(2).normal(0.2, 1, 2000)
    ref_nan = np.concatenate([ref, [np.nan] * 500])
    live_nan = np.concatenate([live, [np.nan] * 1000])
    profile = _numeric_profile(ref_nan)
    result = numeric(profile, live_nan, "ks")
    assert result.score == pytest.approx(stats.ks_2samp(ref, live).statistic, abs=1e-12)
    assert result.null_rate_reference == pytest.approx(0.25)
    assert result.null_rate_live == pytest.approx(1 / 3)
    assert result.rows == 3000  # live rows, the missing ones included


def wasserstein_tolerance(ref: np.ndarray, live: np.ndarray) -> float:
    """A bound on |mlspec - scipy| in reference standard deviations.

    mlspec integrates |Qa - Qb| with the trapezoid rule on a 1,001-point grid (h = 1/1000), where Qa, Qb
    are np.quantile's linearly interpolated quantile functions; scipy integrates the exact step
    quantile functions. Two error terms:
    (1) quadrature: on each grid cell the trapezoid rule errs by at most h x (the variation of the
        integrand on the cell), so in total by h x TV(|Qa - Qb|) <= h x (TV(Qa) + TV(Qb)) = h x (range of
        the reference + range of the live values), both quantile functions being monotone;
    (2) interpolation: np.quantile's position (n - 1)u and the step function's ceil(nu) - 1 are within
        one order statistic of each other, so the two curves differ by at most two consecutive gaps,
        on an interval of u of length ~1/n per gap: the integral differs by <= 2 x range / (n - 1).
    Divided by the reference standard deviation, like the score.
    """
    range_ref, range_live = np.ptp(ref), np.ptp(live)
    bound = (range_ref + range_live) / 1000 + 2 * range_ref / (len(ref) - 1) + 2 * range_live / (len(live) - 1)
    return float(bound / np.std(ref))


@pytest.mark.parametrize(("ref", "live"), [
    (rng(1).normal(0, 1, 2000), rng(2).normal(0.3, 1.2, 3000)),
    (rng(3).normal(0, 1, 2000), rng(4).normal(0.02, 1, 2000)),
    (rng(5).lognormal(0, 1, 2000), rng(6).lognormal(0.2, 1.1, 5000)),
    (rng(7).uniform(-3, 3, 200), rng(8).uniform(-2, 4, 400)),
], ids=["normal", "tiny-shift", "lognormal", "uniform-small"])
def test_wasserstein_matches_scipy_in_reference_standard_deviations(ref: np.ndarray, live: np.ndarray) -> None:
    expected = stats.wasserstein_distance(ref, live) / np.std(ref)
    result = numeric(_numeric_profile(ref), live, "wasserstein")
    tolerance = wasserstein_tolerance(ref, live)
    assert abs(result.score - expected) <= tolerance, (result.score, expected, tolerance)
    # the bound is loose; on these smooth distributions the error is also small in relative terms
    assert result.score == pytest.approx(expected, rel=0.05)


def test_wasserstein_of_a_pure_shift_is_the_shift_in_standard_deviations() -> None:
    ref = rng(9).normal(5, 2, 2000)
    result = numeric(_numeric_profile(ref), ref + 0.5, "wasserstein")
    assert result.score == pytest.approx(0.5 / np.std(ref), rel=1e-9)  # the quantile curves are parallel


@pytest.mark.parametrize(("ref", "live"), [
    (rng(1).normal(0, 1, 20_000), rng(2).normal(0.25, 1, 10_000)),
    (rng(3).exponential(1, 5000), rng(4).exponential(1.3, 800)),
], ids=["normal", "exponential"])
def test_jensen_shannon_matches_scipy_on_bin_proportions(ref: np.ndarray, live: np.ndarray) -> None:
    profile = _numeric_profile(ref)
    p = np.asarray(profile["counts"], float) / len(ref)
    q = live_bin_counts(profile["edges"], live) / len(live)
    expected = jensenshannon(p, q, base=2)
    result = numeric(profile, live, "jensen_shannon")
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= result.score <= 1.0


def test_jensen_shannon_with_every_live_value_beyond_the_reference() -> None:
    profile = _numeric_profile(rng().uniform(0, 1, 1000))
    result = numeric(profile, np.full(500, 100.0), "jensen_shannon")
    # all live mass falls in the last bin, which holds 1/10 of the reference; disjoint vectors give 1
    p = np.asarray(profile["counts"], float) / 1000
    q = np.zeros_like(p)
    q[-1] = 1.0
    assert result.score == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)
    assert drift.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


@pytest.mark.parametrize(("ref", "live"), [
    (rng(1).normal(0, 1, 20_000), rng(2).normal(0.25, 1, 10_000)),
    (rng(3).gamma(2, 1, 3000), rng(4).gamma(2.2, 1, 700)),
], ids=["normal", "gamma"])
def test_chi_square_is_cramers_v_from_scipy(ref: np.ndarray, live: np.ndarray) -> None:
    profile = _numeric_profile(ref)
    table = np.vstack([np.asarray(profile["counts"], float), live_bin_counts(profile["edges"], live)])
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    expected = math.sqrt(chi2 / table.sum())  # a 2 x k table: min(rows, cols) - 1 = 1
    result = numeric(profile, live, "chi_square")
    assert result.score == pytest.approx(expected, rel=1e-9)


def test_every_method_is_zero_on_the_reference_itself_and_grows_with_the_shift() -> None:
    ref = rng(11).normal(0, 1, 2000)
    profile = _numeric_profile(ref)
    for method in METHODS:
        scores = [numeric(profile, ref + shift, method).score for shift in (0.0, 0.2, 0.5, 1.0)]
        assert scores[0] == pytest.approx(0.0, abs=1e-12), method
        assert scores == sorted(scores) and scores[-1] > scores[1], (method, scores)


def test_the_verdict_compares_the_score_with_the_threshold() -> None:
    ref = rng(12).normal(0, 1, 2000)
    profile = _numeric_profile(ref)
    score = numeric(profile, ref + 0.3, "wasserstein").score
    assert numeric(profile, ref + 0.3, "wasserstein", threshold=score * 1.01).verdict == "ok"
    assert numeric(profile, ref + 0.3, "wasserstein", threshold=score * 0.99).verdict == "drift"


# ------------------------------------------------------------------------------------------------
# categorical columns
# ------------------------------------------------------------------------------------------------


REF_CATS = ["a"] * 500 + ["b"] * 300 + ["c"] * 200
LIVE_CATS = ["a"] * 300 + ["b"] * 300 + ["c"] * 300 + ["d"] * 100  # "d" is new


def test_categorical_reports_new_categories() -> None:
    profile = _categorical_profile(REF_CATS)
    for method in [*CATEGORICAL_METHODS, "ks", "wasserstein"]:
        result = categorical(profile, LIVE_CATS, method)
        assert result.kind == "categorical"
        assert result.new_categories == ["d"], method
        assert result.reference["categories"] == ["a", "b", "c", "d"]
        assert result.live["proportions"] == pytest.approx([0.3, 0.3, 0.3, 0.1])
        assert result.verdict == "drift", method


def test_categorical_psi_over_frequencies() -> None:
    profile = _categorical_profile(REF_CATS)
    result = categorical(profile, LIVE_CATS, "psi", threshold=0.2)
    p = [0.5, 0.3, 0.2, 1e-4]  # "d" never occurred in the reference: floored at EPS
    q = [0.3, 0.3, 0.3, 0.1]
    by_hand = sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q, strict=True))
    assert result.score == pytest.approx(by_hand, rel=1e-9)


def test_categorical_psi_without_new_categories_by_hand() -> None:
    profile = _categorical_profile(REF_CATS)
    live = ["a"] * 400 + ["b"] * 400 + ["c"] * 200
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
    result = categorical(profile, live, "psi", threshold=0.2)
    assert result.score == pytest.approx(by_hand, rel=1e-12) and result.new_categories == []


def test_categorical_jensen_shannon_matches_scipy() -> None:
    profile = _categorical_profile(REF_CATS)
    expected = jensenshannon([0.5, 0.3, 0.2, 0.0], [0.3, 0.3, 0.3, 0.1], base=2)
    for method in ("jensen_shannon", "ks", "wasserstein"):  # ks and wasserstein fall back to js
        result = categorical(profile, LIVE_CATS, method)
        assert result.method == "jensen_shannon"
        assert result.score == pytest.approx(expected, abs=1e-12)


def test_categorical_chi_square_is_cramers_v_from_scipy() -> None:
    profile = _categorical_profile(REF_CATS)
    table = np.array([[500, 300, 200, 0], [300, 300, 300, 100]], dtype=float)
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    result = categorical(profile, LIVE_CATS, "chi_square")
    assert result.score == pytest.approx(math.sqrt(chi2 / table.sum()), rel=1e-9)


def test_categorical_missing_values_are_left_out() -> None:
    profile = _categorical_profile([*REF_CATS, None, None])
    live = np.array([*REF_CATS, None, float("nan")] * 2, dtype=object)
    result = categorical(profile, live, "jensen_shannon")
    assert result.score == pytest.approx(0.0, abs=1e-12) and result.verdict == "ok"
    assert result.rows == 2004 and result.null_rate_live == pytest.approx(4 / 2004)
    assert result.null_rate_reference == pytest.approx(2 / 1002)


def test_high_cardinality_column_with_the_same_distribution_is_not_drift() -> None:
    categories = np.array([f"merchant_{i:04d}" for i in range(1000)], dtype=object)
    profile = _categorical_profile(rng(1).choice(categories, 100_000))
    result = categorical(profile, rng(2).choice(categories, 50_000), "jensen_shannon", min_rows=200)
    assert result.new_categories == []
    assert result.verdict == "ok", (result.score, len(result.new_categories))


# ------------------------------------------------------------------------------------------------
# insufficient data: never "ok"
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_fewer_live_rows_than_min_rows_is_insufficient_data(method: str) -> None:
    profile = _numeric_profile(rng().normal(0, 1, 2000))
    short = numeric(profile, rng(1).normal(5, 1, 199), method, min_rows=200)
    assert short.verdict == "insufficient_data" and short.score is None
    assert short.note == "199 live rows, fewer than min_rows 200"
    # rows count, as documented, whether or not their value is missing: 300 rows of which 150 are missing
    half = np.concatenate([rng(1).normal(5, 1, 150), [np.nan] * 150])
    judged = numeric(profile, half, method, min_rows=200)
    assert judged.verdict == "drift" and judged.rows == 300 and judged.null_rate_live == 0.5
    enough = numeric(profile, rng(1).normal(5, 1, 200), method, min_rows=200)
    assert enough.verdict == "drift"


@pytest.mark.parametrize("method", METHODS)
def test_one_missing_value_in_a_batch_of_min_rows_rows_is_judged(method: str) -> None:
    # issue #15: a 200-row batch with one missing value was "insufficient data" in every column
    profile = _numeric_profile(rng().normal(0, 1, 2000))
    same = rng(1).normal(0, 1, 200)
    same[17] = np.nan
    result = numeric(profile, same, method, min_rows=200)
    assert result.verdict != "insufficient_data" and result.score is not None and result.note == ""
    assert result.rows == 200 and result.null_rate_live == pytest.approx(1 / 200)
    shifted = same + 3
    assert numeric(profile, shifted, method, min_rows=200).verdict == "drift"


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_one_missing_category_in_a_batch_of_min_rows_rows_is_judged(method: str) -> None:
    profile = _categorical_profile(REF_CATS)
    live = np.array(rng(1).choice(["a", "b", "c"], 200, p=[0.5, 0.3, 0.2]), dtype=object)
    live[3] = None
    result = categorical(profile, live, method, min_rows=200)
    assert result.verdict != "insufficient_data" and result.score is not None and result.note == ""
    assert result.rows == 200 and result.null_rate_live == pytest.approx(1 / 200)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("min_rows", [1, 200])
def test_an_all_missing_live_column_is_insufficient_data(method: str, min_rows: int) -> None:
    profile = _numeric_profile(rng().normal(0, 1, 2000))
    result = numeric(profile, np.full(5000, np.nan), method, min_rows=min_rows)
    assert result.verdict == "insufficient_data" and result.score is None
    assert result.null_rate_live == 1.0 and result.rows == 5000
    assert result.note == "every one of the 5000 live values is missing"


@pytest.mark.parametrize("method", METHODS)
def test_a_constant_reference_column_is_insufficient_data(method: str) -> None:
    profile = _numeric_profile(np.full(2000, 3.0))
    for live in (np.full(500, 3.0), rng().normal(100, 1, 500)):
        result = numeric(profile, live, method)
        assert result.verdict == "insufficient_data" and result.score is None, method
        assert "constant" in result.note


def test_an_all_missing_reference_column_is_insufficient_data() -> None:
    profile = _numeric_profile(np.full(1000, np.nan))
    for method in METHODS:
        assert numeric(profile, rng().normal(0, 1, 500), method).verdict == "insufficient_data"


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_categorical_insufficient_data(method: str) -> None:
    profile = _categorical_profile(REF_CATS)
    assert categorical(profile, ["a"] * 199, method, min_rows=200).verdict == "insufficient_data"
    assert categorical(profile, [None] * 1000, method, min_rows=1).verdict == "insufficient_data"
    constant = _categorical_profile(["only"] * 1000)
    result = categorical(constant, ["x", "y"] * 500, method)
    assert result.verdict == "insufficient_data" and result.score is None
    assert categorical(_categorical_profile([None] * 10), ["x"] * 500, method).verdict == "insufficient_data"


def test_a_non_finite_live_value_never_makes_a_drifted_column_ok() -> None:
    profile = _numeric_profile(rng().normal(0, 1, 2000))
    live = np.concatenate([rng(1).normal(3, 1, 5000), [np.inf]])
    result = numeric(profile, live, "wasserstein")
    assert result.verdict != "ok", result.score


# ------------------------------------------------------------------------------------------------
# scale: a million values (how fast: benchmarks/bench_drift_methods.py)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_a_million_numeric_values_are_all_scored(method: str) -> None:
    profile = _numeric_profile(rng().normal(0, 1, 100_000))
    live = rng(1).normal(0.1, 1, 1_000_000)
    live[::97] = np.nan
    result = numeric(profile, live, method, min_rows=200)
    assert result.verdict in ("ok", "drift") and result.rows == 1_000_000
    assert result.null_rate_live == pytest.approx(len(live[::97]) / 1_000_000)
    assert result.score is not None and math.isfinite(result.score)
