"""Compute the metrics a spec names, from labels, predictions and scores.

A metric that cannot be computed (one class in the test labels, say) is NaN, never a made-up
number; gates treat NaN as a failure.
"""

from __future__ import annotations

import math
import warnings


def trained_inputs(pipeline, fallback: list[str]) -> list[str]:
    """The raw columns a trained pipeline was fitted on: what its feature step saw, less the columns its
    derive step added (a pipeline of another shape: `fallback`)."""
    steps = getattr(pipeline, "named_steps", {})
    seen = getattr(steps.get("features"), "feature_names_in_", None)
    if seen is None:
        return fallback
    derived = {name for name, _tree in (getattr(steps.get("derive"), "expressions", None) or [])}
    return [str(c) for c in seen if str(c) not in derived]


PREDICT_THREADS = 1


def one_thread():
    """Limit BLAS and OpenMP to one thread (as a context manager, or until process exit when not used as one).

    Prediction is pinned because a thread pool's start-up dwarfs small batches (issue #17; the figures are in
    benchmarks/README.md § Figures behind code comments). `mlspec serve` pins each worker; `mlspec score` pins its
    predictions."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=PREDICT_THREADS)


def predict(pipeline, frame, task: str, threshold: float):
    """Predictions and, for classification, probabilities (None when the estimator has none)."""
    import numpy as np

    if task == "regression":
        return pipeline.predict(frame), None
    classes = pipeline.classes_
    if hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(frame)
        if len(classes) == 2:
            predicted = np.where(proba[:, 1] >= threshold, classes[1], classes[0])
        else:
            predicted = classes[np.argmax(proba, axis=1)]
        return predicted, proba
    return pipeline.predict(frame), None


def compute(names: list[str], task: str, y_true, y_pred, proba, classes=None) -> dict[str, float]:
    """Every named metric as a float (NaN when undefined for this data)."""
    out = {}
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = _metric(name, task, y_true, y_pred, proba, classes)
        except (ValueError, ZeroDivisionError, IndexError):
            value = math.nan
        out[name] = float(value) if value is not None and math.isfinite(float(value)) else math.nan
    return out


# the suffixed names of the catalogue (mlspec.lang.metrics): family -> average, whatever the number of classes
_LABEL_FAMILIES = ("precision", "recall", "f1")
_AVERAGES = ("macro", "weighted", "micro")
_ROC_AUC = {"roc_auc_ovr": ("ovr", "macro"), "roc_auc_ovr_weighted": ("ovr", "weighted"),
            "roc_auc_ovo": ("ovo", "macro"), "roc_auc_ovo_weighted": ("ovo", "weighted")}


def _metric(name: str, task: str, y_true, y_pred, proba, classes):
    import numpy as np
    from sklearn import metrics as m

    if task == "regression":
        if name == "rmse":
            return math.sqrt(m.mean_squared_error(y_true, y_pred))
        return {"mse": m.mean_squared_error, "mae": m.mean_absolute_error, "r2": m.r2_score,
                "median_absolute_error": m.median_absolute_error,
                "mape": m.mean_absolute_percentage_error}[name](y_true, y_pred)
    binary = classes is not None and len(classes) == 2
    family, _, average = name.rpartition("_")
    labels_fn = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}
    if name == "accuracy":
        return m.accuracy_score(y_true, y_pred)
    if name == "balanced_accuracy":
        return m.balanced_accuracy_score(y_true, y_pred)
    if name in _LABEL_FAMILIES:  # spec language v1: the positive class, or weighted over more classes
        pos = {"pos_label": classes[1]} if binary else {}
        return labels_fn[name](y_true, y_pred, average="binary" if binary else "weighted", zero_division=np.nan,
                               **pos)
    if family in _LABEL_FAMILIES and average in _AVERAGES:
        return labels_fn[family](y_true, y_pred, average=average, zero_division=np.nan)
    if proba is None:
        return math.nan
    if len(np.unique(y_true)) < 2:
        return math.nan
    if name == "roc_auc" or (binary and name in _ROC_AUC):  # on two classes every average is the one curve
        return m.roc_auc_score(y_true, proba[:, 1]) if binary else \
            m.roc_auc_score(y_true, proba, multi_class="ovr", average="weighted", labels=classes)
    if name in _ROC_AUC:
        multi_class, how = _ROC_AUC[name]
        return m.roc_auc_score(y_true, proba, multi_class=multi_class, average=how, labels=classes)
    if name == "average_precision":
        if binary:
            return m.average_precision_score(y_true, proba[:, 1], pos_label=classes[1])
        return m.average_precision_score(_one_vs_rest(y_true, classes), proba, average="weighted")
    if family == "average_precision" and average in _AVERAGES:
        return m.average_precision_score(_one_vs_rest(y_true, classes), proba, average=average)
    if name == "log_loss":
        return m.log_loss(y_true, proba, labels=classes)
    if name == "brier":
        if not binary:
            return math.nan  # refused by validate when the contract lists the classes, and before training
        return m.brier_score_loss(y_true, proba[:, 1], pos_label=classes[1])
    raise ValueError(f"unknown metric {name}")


def _one_vs_rest(y_true, classes):
    """One 0/1 column per class, in `classes` order (label_binarize's table, with both columns on two classes)."""
    import numpy as np

    return (np.asarray(y_true)[:, None] == np.asarray(classes)[None, :]).astype(int)
