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

    from mlspec.runtime.drift import sorted_quantiles

    data = np.asarray(values, dtype=float)
    present = data[np.isfinite(data)]
    profile = {"kind": "numeric", "count": len(data), "null_rate": float(1 - len(present) / max(len(data), 1))}
    if len(present) == 0:
        return {**profile, "edges": [], "counts": []}
    ordered = np.sort(present)  # one sort gives the edges, the bin counts and the sample
    edges = np.unique(sorted_quantiles(ordered, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.diff(np.searchsorted(ordered, edges, side="left"), prepend=0, append=len(ordered))
    # a compact stand-in for the sorted reference values: exact up to SAMPLE points, quantiles beyond
    sample = ordered if len(ordered) <= SAMPLE else sorted_quantiles(ordered, np.linspace(0, 1, SAMPLE))
    return {**profile, "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "mean": float(present.mean()), "std": float(present.std()), "min": float(ordered[0]),
            "max": float(ordered[-1]), "sample": [float(v) for v in sample]}


def _categorical_profile(values) -> dict:
    from mlspec.runtime.drift import category_counts

    counts, missing = category_counts(values)
    total = sum(counts.values()) + missing
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {"kind": "categorical", "count": total,
            "null_rate": float(missing / max(total, 1)),
            "frequencies": dict(sorted(ranked[:MAX_CATEGORIES])),
            "other": sum(count for _, count in ranked[MAX_CATEGORIES:])}


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
