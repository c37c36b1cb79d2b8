"""The few scikit-learn transformers mlspec needs beyond the library's own.

They live inside the saved model pipeline, so scoring applies exactly the transforms used in
training. They hold only plain data (lists, dicts, numbers), which skops can save and load
without pickle.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from mlspec.runtime.exprs import as_feature, evaluate


class DerivedColumns(TransformerMixin, BaseEstimator):
    """Add derived columns, computed from expression trees, to a DataFrame (in dependency order)."""

    def __init__(self, expressions: list | None = None) -> None:
        self.expressions = expressions  # [[name, tree], ...] in dependency order

    def fit(self, frame, y=None):
        """Nothing is learnt; derived values depend only on the row."""
        return self

    def transform(self, frame):
        """Return a copy of `frame` with every derived column added."""
        out = frame.copy()
        columns = {c: out[c].to_numpy() for c in out.columns}
        for name, tree in self.expressions or []:
            values = as_feature(evaluate(tree, columns, len(out)))
            out[name] = values
            columns[name] = values
        return out

    def get_feature_names_out(self, input_features=None):
        """Input columns followed by derived ones."""
        names = list(input_features or [])
        return np.asarray(names + [n for n, _ in self.expressions or []], dtype=object)


class Log1p(TransformerMixin, BaseEstimator):
    """log(1 + x); negative inputs (outside the contract) become missing rather than an error."""

    def fit(self, x, y=None):
        """Nothing to learn."""
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def transform(self, x):
        """Apply log1p elementwise."""
        values = np.asarray(x, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.log1p(values)
        out[~np.isfinite(out)] = np.nan
        return out

    def get_feature_names_out(self, input_features=None):
        """Same names as the input."""
        return np.asarray(input_features if input_features is not None else [], dtype=object)


class FixedBuckets(TransformerMixin, BaseEstimator):
    """One-hot buckets of a numeric value with fixed inner edges: (-inf, e1), [e1, e2), ..., [en, inf)."""

    def __init__(self, edges: list | None = None) -> None:
        self.edges = edges

    def fit(self, x, y=None):
        """Nothing to learn: the edges come from the spec."""
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def transform(self, x):
        """Indicator columns, one per bucket per input column; missing values get all zeros."""
        values = np.asarray(x, dtype=float)
        edges = np.asarray(self.edges, dtype=float)
        blocks = []
        for j in range(values.shape[1]):
            column = values[:, j]
            index = np.searchsorted(edges, column, side="right")
            block = np.zeros((len(column), len(edges) + 1))
            valid = ~np.isnan(column)
            block[np.flatnonzero(valid), index[valid]] = 1.0
            blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(values), 0))

    def get_feature_names_out(self, input_features=None):
        """`name_bucket0`, `name_bucket1`, ..."""
        names = list(input_features or [])
        return np.asarray([f"{n}_bucket{i}" for n in names for i in range(len(self.edges) + 1)], dtype=object)
