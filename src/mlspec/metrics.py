"""The metric catalogue: which metrics exist, for which task, their range and direction.

Gates compare metrics, so the compiler must know whether bigger is better and which thresholds
are even possible (`roc_auc >= 1.5` can never pass and is reported as a spec error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlspec.estimators import CLASSIFICATION, REGRESSION


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric: its task, whether higher is better, and the range its values can take."""

    name: str
    task: str
    higher_is_better: bool
    low: float
    high: float
    description: str
    needs_scores: bool = False  # computed from predicted probabilities, not labels

    def in_range(self, value: float) -> bool:
        """True when `value` is a value this metric can take."""
        return self.low <= value <= self.high


_INF = math.inf

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", CLASSIFICATION, True, 0, 1, "Area under the ROC curve.", needs_scores=True),
        Metric("average_precision", CLASSIFICATION, True, 0, 1, "Area under the precision-recall curve.",
               needs_scores=True),
        Metric("accuracy", CLASSIFICATION, True, 0, 1, "Share of correct predictions."),
        Metric("balanced_accuracy", CLASSIFICATION, True, 0, 1, "Mean recall over classes."),
        Metric("precision", CLASSIFICATION, True, 0, 1, "Share of predicted positives that are positive."),
        Metric("recall", CLASSIFICATION, True, 0, 1, "Share of positives that are found."),
        Metric("f1", CLASSIFICATION, True, 0, 1, "Harmonic mean of precision and recall."),
        Metric("log_loss", CLASSIFICATION, False, 0, _INF, "Cross-entropy of predicted probabilities.",
               needs_scores=True),
        Metric("brier", CLASSIFICATION, False, 0, 1, "Mean squared error of predicted probabilities.",
               needs_scores=True),
        Metric("rmse", REGRESSION, False, 0, _INF, "Root mean squared error."),
        Metric("mse", REGRESSION, False, 0, _INF, "Mean squared error."),
        Metric("mae", REGRESSION, False, 0, _INF, "Mean absolute error."),
        Metric("median_absolute_error", REGRESSION, False, 0, _INF, "Median absolute error."),
        Metric("mape", REGRESSION, False, 0, _INF, "Mean absolute percentage error (as a fraction)."),
        Metric("r2", REGRESSION, True, -_INF, 1, "Coefficient of determination."),
    )
}


def metrics_for(task: str) -> list[str]:
    """Names of the metrics that fit `task`, in catalogue order."""
    return [m.name for m in METRICS.values() if m.task == task]


# Drift measures: the range a threshold may take, and the default threshold of each.
DRIFT_THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "psi": (0.0, 10.0), "ks": (0.0, 1.0), "chi_square": (0.0, 1.0),
    "jensen_shannon": (0.0, 1.0), "wasserstein": (0.0, 100.0),
}
DRIFT_DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1, "chi_square": 0.1, "jensen_shannon": 0.1, "wasserstein": 0.1}
