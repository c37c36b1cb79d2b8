"""The metric catalogue: which metrics exist, for which task, their range, direction and definition.

Gates compare metrics, so the compiler must know whether bigger is better and which thresholds
are even possible (`roc_auc >= 1.5` can never pass and is reported as a spec error). Each entry's
description is its definition, the one `mlspec explain METRIC`, the JSON Schema and the
diagnostics print; `runtime.scoring` computes exactly that with scikit-learn.

The names of spec language v1 keep their meaning: `precision`, `recall`, `f1`, `roc_auc` and
`average_precision` are of the positive class on a two-class label and weighted averages over
classes otherwise. The suffixed names (`f1_macro`, `roc_auc_ovo`, ...) say their average whatever
the number of classes, as scikit-learn's scorer names of the same spelling do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlspec.lang.estimators import CLASSIFICATION, REGRESSION


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric: its task, whether higher is better, the range its values can take, and its definition."""

    name: str
    task: str
    higher_is_better: bool
    low: float
    high: float
    description: str
    needs_scores: bool = False  # computed from predicted probabilities, not labels
    binary_only: bool = False  # undefined on a label with more than two classes

    def in_range(self, value: float) -> bool:
        """True when `value` is a value this metric can take."""
        return self.low <= value <= self.high


_INF = math.inf

POSITIVE_CLASS = (
    "On a two-class label the positive class is the label's greater value, as scikit-learn sorts classes: "
    "true for bool, the larger number for int (1 of 0/1), and for text the value that sorts last by code "
    "point ('yes' of no/yes, but 'legit' of fraud/legit: recode such a label, or read the metric as about "
    "'legit'). Its predicted probability is compared with decision_threshold.")

_UNDEFINED = ("A precision or recall with nothing to divide by (a class never predicted, or absent from the "
              "test rows) is undefined: left out of an average, and NaN, which fails every gate, when nothing "
              "is left.")

_PER_CLASS = {
    "precision": "Precision (of the rows predicted as a class, the share that are that class)",
    "recall": "Recall (of the rows of a class, the share predicted as that class)",
    "f1": "F1 (harmonic mean of a class's precision and recall)",
}
_AVERAGES = {
    "macro": "per class, unweighted mean over classes (average='macro'): rare classes count as much as common ones",
    "weighted": "per class, mean weighted by each class's number of true rows (average='weighted')",
    "micro": ("from the true and false positives pooled over all classes (average='micro'); with one class per "
              "row this equals accuracy"),
}


def _averaged(family: str) -> list[Metric]:
    """`family_macro`, `family_weighted` and `family_micro`: per-class values averaged, on any number of classes."""
    return [Metric(f"{family}_{average}", CLASSIFICATION, True, 0, 1,
                   f"{_PER_CLASS[family]} {how}. Two-class labels too (both classes count).")
            for average, how in _AVERAGES.items()]


def _labels_metric(name: str, definition: str) -> Metric:
    """`precision`, `recall` or `f1` as spec language v1 defined them."""
    return Metric(name, CLASSIFICATION, True, 0, 1,
                  f"{definition} Two classes: of the positive class. More classes: the per-class values' mean "
                  f"weighted by each class's number of true rows (the same as {name}_weighted).")


_OVR = "one-vs-rest (each class's probability against all other classes)"
_OVO = "one-vs-one (every pair of classes, Hand and Till)"

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", CLASSIFICATION, True, 0, 1,
               "Area under the ROC curve of the predicted probabilities. Two classes: of the positive class's "
               "probability. More classes: one-vs-rest, averaged weighted by each class's number of true rows "
               "(the same as roc_auc_ovr_weighted).", needs_scores=True),
        Metric("roc_auc_ovr", CLASSIFICATION, True, 0, 1,
               f"Area under the ROC curve, {_OVR}, unweighted mean over classes (scikit-learn's roc_auc_ovr: "
               "multi_class='ovr', average='macro'). Two classes: equal to roc_auc.", needs_scores=True),
        Metric("roc_auc_ovr_weighted", CLASSIFICATION, True, 0, 1,
               f"Area under the ROC curve, {_OVR}, mean weighted by each class's number of true rows "
               "(multi_class='ovr', average='weighted'). Two classes: equal to roc_auc.", needs_scores=True),
        Metric("roc_auc_ovo", CLASSIFICATION, True, 0, 1,
               f"Area under the ROC curve, {_OVO}, unweighted mean over pairs (scikit-learn's roc_auc_ovo: "
               "multi_class='ovo', average='macro'); insensitive to class imbalance. Two classes: equal to "
               "roc_auc.", needs_scores=True),
        Metric("roc_auc_ovo_weighted", CLASSIFICATION, True, 0, 1,
               f"Area under the ROC curve, {_OVO}, mean over pairs weighted by the classes' prevalence "
               "(multi_class='ovo', average='weighted'). Two classes: equal to roc_auc.", needs_scores=True),
        Metric("average_precision", CLASSIFICATION, True, 0, 1,
               "Area under the precision-recall curve (average precision) of the predicted probabilities. Two "
               "classes: of the positive class. More classes: per class one-vs-rest, averaged weighted by each "
               "class's number of true rows (the same as average_precision_weighted).", needs_scores=True),
        Metric("average_precision_macro", CLASSIFICATION, True, 0, 1,
               "Average precision per class, one-vs-rest, unweighted mean over classes (average='macro'). "
               "Two-class labels too (both classes count).", needs_scores=True),
        Metric("average_precision_weighted", CLASSIFICATION, True, 0, 1,
               "Average precision per class, one-vs-rest, mean weighted by each class's number of true rows "
               "(average='weighted'). Two-class labels too (both classes count).", needs_scores=True),
        Metric("average_precision_micro", CLASSIFICATION, True, 0, 1,
               "Average precision of one precision-recall curve over every (row, class) pair of the "
               "one-vs-rest table (average='micro'). Two-class labels too (both classes count).", needs_scores=True),
        Metric("accuracy", CLASSIFICATION, True, 0, 1, "Share of rows whose predicted class is the true class."),
        Metric("balanced_accuracy", CLASSIFICATION, True, 0, 1,
               "Mean over classes of each class's recall (the same as recall_macro)."),
        _labels_metric("precision", "Of the rows predicted positive, the share that are positive."),
        *_averaged("precision"),
        _labels_metric("recall", "Of the positive rows, the share predicted positive."),
        *_averaged("recall"),
        _labels_metric("f1", "Harmonic mean of precision and recall."),
        *_averaged("f1"),
        Metric("log_loss", CLASSIFICATION, False, 0, _INF,
               "Cross-entropy: the mean over rows of -log(predicted probability of the true class). Any number "
               "of classes.", needs_scores=True),
        Metric("brier", CLASSIFICATION, False, 0, 1,
               "Brier score: the mean squared difference between the positive class's predicted probability "
               "and the outcome (1 positive, 0 not). Two-class labels only.", needs_scores=True,
               binary_only=True),
        Metric("rmse", REGRESSION, False, 0, _INF,
               "Root mean squared error: sqrt(mean((label - prediction)^2)), in the label's units."),
        Metric("mse", REGRESSION, False, 0, _INF, "Mean squared error: mean((label - prediction)^2)."),
        Metric("mae", REGRESSION, False, 0, _INF, "Mean absolute error: mean(|label - prediction|)."),
        Metric("median_absolute_error", REGRESSION, False, 0, _INF,
               "Median absolute error: median(|label - prediction|); robust to outliers."),
        Metric("mape", REGRESSION, False, 0, _INF,
               "Mean absolute percentage error, as a fraction: mean(|label - prediction| / |label|) (0.1 is "
               "10%); labels near 0 make it huge."),
        Metric("r2", REGRESSION, True, -_INF, 1,
               "Coefficient of determination: 1 - sum((label - prediction)^2) / sum((label - mean label)^2); "
               "1 is perfect, 0 is no better than predicting the mean, below 0 worse."),
    )
}


def metrics_for(task: str) -> list[str]:
    """Names of the metrics that fit `task`, in catalogue order."""
    return [m.name for m in METRICS.values() if m.task == task]


def names_text(task: str) -> str:
    """The metric names of `task`, each family on one entry: `f1[_macro|_weighted|_micro]` (for hints)."""
    families: dict[str, list[str]] = {}
    for name in metrics_for(task):
        base = next((b for b in families if name.startswith(b + "_")), None)
        if base is None:
            families[name] = []
        else:
            families[base].append(name[len(base):])
    return ", ".join(f"{b}[{'|'.join(v)}]" if v else b for b, v in families.items())


def explain_metric(name: str) -> str | None:
    """What `mlspec explain NAME` prints for a metric: its definition, task and direction (None: no such metric)."""
    metric = METRICS.get(name.lower())
    if metric is None:
        return None
    direction = "higher is better" if metric.higher_is_better else "lower is better"
    low = "-inf" if metric.low == -_INF else f"{metric.low:g}"
    high = "inf" if metric.high == _INF else f"{metric.high:g}"
    notes = [f"{metric.name}: a {metric.task} metric, {direction}, from {low} to {high}.", "", metric.description]
    if metric.needs_scores:
        notes += ["", "Computed from predicted probabilities: NaN (failing every gate) for an estimator without them."]
    if metric.task == CLASSIFICATION:
        notes += ["", POSITIVE_CLASS]
        if metric.name.startswith(("precision", "recall", "f1")):
            notes += ["", _UNDEFINED]
    return "\n".join(notes) + "\n"


def catalogue_text(task: str) -> str:
    """Every metric of `task` with its definition, one paragraph each (for `mlspec explain`)."""
    return "\n".join(f"  {m.name}: {m.description}" for m in METRICS.values() if m.task == task)


# Drift measures: the range a threshold may take, and the default threshold of each.
DRIFT_THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "psi": (0.0, 10.0), "ks": (0.0, 1.0), "chi_square": (0.0, 1.0),
    "jensen_shannon": (0.0, 1.0), "wasserstein": (0.0, 100.0),
}
DRIFT_DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1, "chi_square": 0.1, "jensen_shannon": 0.1, "wasserstein": 0.1}
