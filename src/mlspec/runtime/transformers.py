"""The few scikit-learn transformers mlspec needs beyond the library's own.

They live inside the saved model pipeline, so scoring applies exactly the transforms used in
training. They hold only plain data (lists, dicts, numbers), which skops can save and load
without pickle. Each one names its output columns (`get_feature_names_out`), so a loaded model's
`model[:-1].get_feature_names_out()` names every column its estimator sees.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from mlspec.runtime.exprs import as_feature, column_values, evaluate
from mlspec.runtime.features import DERIVED_PREFIX


def output_name(feature: str, column: str) -> str:
    """The name of one column the estimator sees: `feature__column`, with a derived feature's internal
    column name (`__f_NAME`) shown as the feature's own name."""
    return f"{feature}__{column.removeprefix(DERIVED_PREFIX)}"


def _names_in(transformer, input_features) -> list[str]:
    """The input names a transformer reports: those given, else those seen at fit, else x0, x1, ..."""
    if input_features is not None:
        return [str(n) for n in input_features]
    seen = getattr(transformer, "feature_names_in_", None)
    if seen is not None:
        return [str(n) for n in seen]
    return [f"x{i}" for i in range(getattr(transformer, "n_features_in_", 0))]


def _record_inputs(transformer, x) -> None:
    """Remember the width and, for a DataFrame, the column names seen at fit (as scikit-learn's own do)."""
    transformer.n_features_in_ = np.shape(x)[1]
    if hasattr(x, "columns"):
        transformer.feature_names_in_ = np.asarray([str(c) for c in x.columns], dtype=object)


class MissingAsNaN(TransformerMixin, BaseEstimator):
    """Make every missing marker of a text column (None, pandas NA, NaN) one value, NaN.

    The loader stores a missing category as None, while scikit-learn's imputers look for NaN: without
    this step `impute:` on a category feature filled nothing and the encoder learnt a `None` category.
    One marker also keeps scoring consistent when a batch spells missing differently (NaN from pandas,
    None from the loader)."""

    def fit(self, x, y=None):
        """Nothing to learn."""
        _record_inputs(self, x)
        return self

    def transform(self, x):
        """An object array with NaN wherever a value is missing."""
        import pandas as pd

        values = np.array(x, dtype=object)
        values[pd.isna(values)] = np.nan
        return values

    def get_feature_names_out(self, input_features=None):
        """Same names as the input."""
        return np.asarray(_names_in(self, input_features), dtype=object)


class DerivedColumns(TransformerMixin, BaseEstimator):
    """Add derived columns, computed from expression trees, to a DataFrame (in dependency order)."""

    def __init__(self, expressions: list | None = None) -> None:
        self.expressions = expressions  # [[name, tree], ...] in dependency order

    def fit(self, frame, y=None):
        """Nothing is learnt (derived values depend only on the row) but the input columns, for naming."""
        _record_inputs(self, frame)
        return self

    def transform(self, frame):
        """Return a copy of `frame` with every derived column added."""
        out = frame.copy()
        columns = {c: column_values(out[c]) for c in out.columns}
        for name, tree in self.expressions or []:
            values = as_feature(evaluate(tree, columns, len(out)))
            out[name] = values
            columns[name] = values
        return out

    def get_feature_names_out(self, input_features=None):
        """Input columns (those seen at fit unless given) followed by derived ones."""
        names = _names_in(self, input_features)
        return np.asarray(names + [n for n, _ in self.expressions or []], dtype=object)


class Log1p(TransformerMixin, BaseEstimator):
    """log(1 + x); negative inputs (outside the contract) become missing rather than an error."""

    def fit(self, x, y=None):
        """Nothing to learn."""
        _record_inputs(self, x)
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
        return np.asarray(_names_in(self, input_features), dtype=object)


class FixedBuckets(TransformerMixin, BaseEstimator):
    """One-hot buckets of a numeric value with fixed inner edges: (-inf, e1), [e1, e2), ..., [en, inf)."""

    def __init__(self, edges: list | None = None) -> None:
        self.edges = edges

    def fit(self, x, y=None):
        """Nothing to learn: the edges come from the spec."""
        _record_inputs(self, x)
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
        names = _names_in(self, input_features)
        return np.asarray([f"{n}_bucket{i}" for n in names for i in range(len(self.edges) + 1)], dtype=object)
