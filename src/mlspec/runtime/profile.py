"""The reference profile of a model's training data, stored with each registered version.

Monitoring compares live data with this compact summary instead of re-reading the training data:
per input column, quantile bin edges and counts (numeric) or category frequencies (categorical),
and the null rate; the same for the model's predictions on the training rows.
"""

from __future__ import annotations

from mlspec.manifest import ModelNode

BINS = 10
MAX_CATEGORIES = 200
SAMPLE = 2000


def _numeric_profile(values) -> dict:
    import numpy as np

    data = np.asarray(values, dtype=float)
    present = data[~np.isnan(data)]
    profile = {"kind": "numeric", "count": len(data), "null_rate": float(1 - len(present) / max(len(data), 1))}
    if len(present) == 0:
        return {**profile, "edges": [], "counts": []}
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
    index = np.searchsorted(edges, present, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1)
    # a compact stand-in for the sorted reference values: exact up to SAMPLE points, quantiles beyond
    ordered = np.sort(present)
    sample = ordered if len(ordered) <= SAMPLE else np.quantile(ordered, np.linspace(0, 1, SAMPLE))
    return {**profile, "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "mean": float(present.mean()), "std": float(present.std()), "min": float(present.min()),
            "max": float(present.max()), "sample": [float(v) for v in sample]}


def _categorical_profile(values) -> dict:
    import pandas as pd

    series = pd.Series(values, dtype=object)
    present = series.dropna().astype(str)
    counts = present.value_counts()
    top = counts.iloc[:MAX_CATEGORIES]
    return {"kind": "categorical", "count": len(series),
            "null_rate": float(1 - len(present) / max(len(series), 1)),
            "frequencies": {str(k): int(v) for k, v in sorted(top.items())},
            "other": int(counts.iloc[MAX_CATEGORIES:].sum())}


def profile(frame, pipeline, model: ModelNode) -> dict:
    """Profile every input column of `frame` and the model's predictions on it."""
    import numpy as np

    columns = {}
    for name in frame.columns:
        series = frame[name]
        columns[name] = _numeric_profile(series) if series.dtype.kind in "fiub" else _categorical_profile(series)
    if model.task == "classification" and hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(frame)
        prediction = _numeric_profile(proba[:, 1] if proba.shape[1] == 2 else np.max(proba, axis=1))
    else:
        prediction = _numeric_profile(pipeline.predict(frame))
    return {"columns": columns, "prediction": prediction, "bins": BINS}
