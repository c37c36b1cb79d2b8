"""Which drift measure and threshold each column, and the predictions, of a monitor are judged with.

One rule, used by validate (to report settings that cannot mean what they say) and by the compiler
(to write every column's measure into the manifest), so the runtime never chooses:

- a numeric column (int, float, bool) and the predictions are measured with `method`;
- a category, string or datetime column (profiled by category frequencies) with `categorical`, which
  defaults to `method` when `method` can measure categories (psi, chi_square, jensen_shannon), else
  to jensen_shannon;
- a feature override under `features:` replaces its column's measure and threshold (only a feature read
  from one column has a column to apply to; ks and wasserstein on a category column become jensen_shannon);
- a measure's threshold is `thresholds.<measure>`, else `threshold` when the measure is `method`, else
  the measure's default.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.lang.metrics import DRIFT_DEFAULT_THRESHOLDS
from mlspec.spec.v1.monitors import Drift

CATEGORICAL_TYPES = ("category", "string", "datetime")  # profiled by frequencies, not by quantile bins
CATEGORICAL_METHODS = ("psi", "chi_square", "jensen_shannon")
METHODS = ("psi", "ks", "chi_square", "jensen_shannon", "wasserstein")


@dataclass(frozen=True)
class Measure:
    """How one column or the predictions are judged: the measure, its threshold, the column's kind, and
    the feature whose override set it (None when the monitor's settings did)."""

    method: str
    threshold: float
    kind: str  # "numeric" | "categorical"
    override: str | None = None


def kind_of(column_type: str) -> str:
    """`categorical` for contract types the reference profile counts by value, else `numeric`."""
    return "categorical" if column_type in CATEGORICAL_TYPES else "numeric"


def threshold_of(drift: Drift, method: str) -> float:
    """The threshold a column measured with `method` is compared with."""
    given = getattr(drift.thresholds, method) if drift.thresholds is not None else None
    if given is not None:
        return given
    if method == drift.method and drift.threshold is not None:
        return drift.threshold
    return DRIFT_DEFAULT_THRESHOLDS[method]


def categorical_method(drift: Drift) -> str:
    """The measure of category, string and datetime columns."""
    if drift.categorical is not None:
        return drift.categorical
    return drift.method if drift.method in CATEGORICAL_METHODS else "jensen_shannon"


def column_measures(drift: Drift, column_types: dict[str, str],
                    feature_columns: dict[str, str | None]) -> dict[str, Measure]:
    """Every raw column's measure. `column_types` maps the columns the model reads to their contract
    types; `feature_columns` maps each of the model's features to its column (None for a derived one)."""
    measures = {}
    for column, column_type in sorted(column_types.items()):
        kind = kind_of(column_type)
        method = categorical_method(drift) if kind == "categorical" else drift.method
        measures[column] = Measure(method, threshold_of(drift, method), kind)
    for name in sorted(drift.features):  # sorted: when two features read one column, the last name wins
        feature_column = feature_columns.get(name)
        if feature_column is None or feature_column not in measures:
            continue
        override, kind = drift.features[name], measures[feature_column].kind
        method = override.method or measures[feature_column].method
        if kind == "categorical" and method not in CATEGORICAL_METHODS:
            method = "jensen_shannon"  # validate warns: ks and wasserstein need numbers
        threshold = override.threshold if override.threshold is not None else threshold_of(drift, method)
        measures[feature_column] = Measure(method, threshold, kind, name)
    return measures


def prediction_measure(drift: Drift) -> Measure | None:
    """The predictions' measure: `method` and its threshold (None when predictions are not compared)."""
    if not drift.prediction:
        return None
    return Measure(drift.method, threshold_of(drift, drift.method), "numeric")
