"""The reference profile of a model's training data, stored with each registered version.

Monitoring compares live data with this compact summary instead of re-reading the training data:
per input column, quantile bin edges and counts (numeric) or category frequencies (categorical),
and the null rate; the same for the model's predictions.

The prediction reference is made of held-out predictions (the test split's, plus out-of-fold ones on
the training split while there are fewer than REFERENCE_ROWS), because live rows are rows the model
has not seen: a forest's predictions on its own training rows are far more confident than on new
rows, so an in-sample reference raised prediction drift on unchanged data. The model's predictions
on the whole training data are kept too (`prediction_on_training_data`), for a batch that is that
data itself, whose rows the model has seen.
"""

from __future__ import annotations

from mlspec.manifest import ModelNode

BINS = 10
MAX_CATEGORIES = 200
SAMPLE = 2000
REFERENCE_ROWS = 2000  # held-out predictions wanted: fewer make a noisy reference (sampling error ~ 1/sqrt(n))
FOLDS = 5


def _numeric_profile(values) -> dict:
    import numpy as np

    from mlspec.runtime.monitoring.drift import sorted_quantiles

    data = np.asarray(values, dtype=float)
    present = data[np.isfinite(data)]
    if len(present) == 0:
        return numeric_profile_from(len(data), 0)
    ordered = np.sort(present)  # one sort gives the edges, the bin counts and the sample
    edges = np.unique(sorted_quantiles(ordered, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.diff(np.searchsorted(ordered, edges, side="left"), prepend=0, append=len(ordered))
    # a compact stand-in for the sorted reference values: exact up to SAMPLE points, quantiles beyond
    sample = ordered if len(ordered) <= SAMPLE else sorted_quantiles(ordered, np.linspace(0, 1, SAMPLE))
    return numeric_profile_from(len(data), len(present), edges, counts, sample, float(present.mean()),
                                float(present.std()), float(ordered[0]), float(ordered[-1]))


def numeric_profile_from(count: int, present: int, edges=(), counts=(), sample=(), mean: float = 0.0,
                         std: float = 0.0, low: float = 0.0, high: float = 0.0) -> dict:
    """A numeric column's profile from its statistics: rows, finite values, decile edges with the count of
    values in each bin, the sorted quantile sketch, and the mean, (population) standard deviation, min, max.
    Both engines end here, so their profiles have one shape."""
    profile = {"kind": "numeric", "count": count, "null_rate": float(1 - present / max(count, 1))}
    if present == 0:
        return {**profile, "edges": [], "counts": []}
    return {**profile, "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "mean": mean, "std": std, "min": low, "max": high, "sample": [float(v) for v in sample]}


def _categorical_profile(values) -> dict:
    from mlspec.runtime.monitoring.drift import category_counts

    return categorical_profile_from(*category_counts(values))


def categorical_profile_from(counts: dict[str, int], missing: int) -> dict:
    """A categorical column's profile from its category counts ({text: count}) and missing values: the
    MAX_CATEGORIES most frequent categories, the rest counted together."""
    total = sum(counts.values()) + missing
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {"kind": "categorical", "count": total,
            "null_rate": float(missing / max(total, 1)),
            "frequencies": dict(sorted(ranked[:MAX_CATEGORIES])),
            "other": sum(count for _, count in ranked[MAX_CATEGORIES:])}


def scores(pipeline, frame, task: str):
    """What prediction drift compares: the positive class's probability (two classes), the top class's
    probability (more), or the prediction itself (regression, or a classifier without probabilities)."""
    import numpy as np

    if task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(frame)
        return proba[:, 1] if proba.shape[1] == 2 else np.max(proba, axis=1)
    return np.asarray(pipeline.predict(frame))


def _out_of_fold(pipeline, model: ModelNode, x, y, wanted: int, seed: int) -> list:
    """Predictions on training rows by copies of the model fitted without them, fold after fold, until
    `wanted` rows are predicted (at most FOLDS fits; none when a class is too small to fold)."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    if model.task == "classification":
        folds = min(FOLDS, int(y.value_counts().min()))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        folds = min(FOLDS, len(y))
        splitter = KFold(folds, shuffle=True, random_state=seed)
    parts: list = []
    if folds < 2 or wanted <= 0:
        return parts
    for fit_rows, held_rows in splitter.split(x, y):
        try:
            fold = clone(pipeline).fit(x.iloc[fit_rows], y.iloc[fit_rows])
        except ValueError:
            break  # the model itself trained; a fold that cannot leaves the reference to the rows so far
        parts.append(scores(fold, x.iloc[held_rows], model.task))
        wanted -= len(held_rows)
        if wanted <= 0:
            break
    return parts


def profile(model: ModelNode, pipeline, train_part, test_part, columns: list[str], seed: int) -> dict:
    """Profile every input column of the training split, and the fitted `pipeline`'s predictions: held
    out (the reference for live data) and on the whole training data (train and test split)."""
    import numpy as np

    frame = train_part[columns]
    profiled = {}
    for name in frame.columns:
        series = frame[name]
        profiled[name] = _numeric_profile(series) if series.dtype.kind in "fiub" else _categorical_profile(series)
    on_test = scores(pipeline, test_part[columns], model.task)
    held = [on_test, *_out_of_fold(pipeline, model, frame, train_part[model.label], REFERENCE_ROWS - len(on_test),
                                   seed)]
    return {"columns": profiled, "prediction": _numeric_profile(np.concatenate(held)),
            "prediction_on_training_data": _numeric_profile(np.concatenate([scores(pipeline, frame, model.task),
                                                                            on_test])),
            "bins": BINS}
