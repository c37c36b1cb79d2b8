"""The spec language v1, `features:`: a column or expression of a source, and the transform that prepares it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from mlspec.spec.v1.base import Description, Strict, Tags

ImputeStrategy = Literal["mean", "median", "most_frequent", "constant"]


class _FeatureBase(Strict):
    source: str = Field(description="The source whose rows this feature is computed from.")
    column: str | None = Field(None, description="The source column this feature reads. Give column or expr.")
    expr: str | None = Field(None, min_length=1, max_length=1000, description=(
        "A derived value in the expression language over columns and other derived features "
        "(never Python). Give column or expr."), examples=["hour < 6", "amount / (num_items + 1)"])
    impute: ImputeStrategy | None = Field(None, description=(
        "Fill missing values first, with this strategy (learned on the training split), for every kind of "
        "column: mean and median need a numeric one; category and string columns take most_frequent or "
        "constant."))
    fill_value: int | float | str | None = Field(None, description=(
        "The value used by impute: constant: a number for a numeric column; for a category or string column "
        "it is used as text, a category of its own unless it is one of the column's values."))
    description: Description
    tags: Tags

    @model_validator(mode="after")
    def _column_or_expr(self):
        if (self.column is None) == (self.expr is None):
            raise PydanticCustomError("mls_feature", "a feature needs exactly one of column or expr",
                                      {"hint": "use column: NAME for a source column, or expr: \"...\" to derive one"})
        if (self.impute == "constant") != (self.fill_value is not None):
            raise PydanticCustomError("mls_feature", "fill_value goes with impute: constant, and only with it",
                                      {"hint": "set impute: constant and fill_value together",
                                       "field": "fill_value" if self.fill_value is not None else "impute"})
        return self


class Passthrough(_FeatureBase):
    """Use the value as it is (numeric)."""

    transform: Literal["passthrough"] = Field("passthrough", description="No transform.")


class Impute(_FeatureBase):
    """Fill missing values, then use the value as it is."""

    transform: Literal["impute"] = Field(description="Fill missing values only (median unless `impute` says).")


class Standardize(_FeatureBase):
    """Scale to zero mean and unit variance (learned on the training split)."""

    transform: Literal["standardize"] = Field(description="Standard scaling.")


class MinMax(_FeatureBase):
    """Scale to [0, 1] (learned on the training split)."""

    transform: Literal["minmax"] = Field(description="Min-max scaling.")


class Log1p(_FeatureBase):
    """log(1 + x), for skewed non-negative values."""

    transform: Literal["log1p"] = Field(description="Natural log of 1 + x; the column must be >= 0.")


class Bucketize(_FeatureBase):
    """Cut a numeric value into buckets, one-hot encoded."""

    transform: Literal["bucketize"] = Field(description="Bucket a numeric value.")
    bins: list[int | float] | None = Field(None, min_length=1, max_length=1000, description=(
        "Inner bucket edges, strictly increasing. Give bins or n_bins."), examples=[[10, 100, 1000]])
    n_bins: int | None = Field(None, ge=2, le=1000, description="Number of buckets learned from the data.")
    strategy: Literal["quantile", "uniform"] = Field("quantile", description="How n_bins edges are learned.")

    @model_validator(mode="after")
    def _bins(self) -> Bucketize:
        if (self.bins is None) == (self.n_bins is None):
            raise PydanticCustomError("mls_feature", "bucketize needs exactly one of bins or n_bins",
                                      {"hint": "give fixed edges (bins: [10, 100]) or a count (n_bins: 5)"})
        if self.bins is not None and any(b >= a for b, a in zip(self.bins, self.bins[1:], strict=False)):
            raise PydanticCustomError("mls_feature", "bins must be strictly increasing",
                                      {"hint": "sort the edges and remove repeats", "field": "bins"})
        return self


class OneHot(_FeatureBase):
    """One column per category."""

    transform: Literal["one_hot"] = Field(description="One-hot encode a category.")
    max_categories: int | None = Field(None, ge=2, le=10_000, description=(
        "Keep at most this many most frequent categories; the rest become one 'infrequent' column."))
    handle_unknown: Literal["ignore", "error"] = Field("ignore", description=(
        "At scoring time, a category never seen in training is all zeros (ignore) or an error. A missing "
        "value is a category of its own unless `impute` fills it."))


def _transform_tag(value: object) -> str:
    if isinstance(value, dict):
        tag = value.get("transform", "passthrough")
        return tag if isinstance(tag, str) else "?"
    return getattr(value, "transform", "?")


Feature = Annotated[
    Annotated[Passthrough, Tag("passthrough")] | Annotated[Impute, Tag("impute")]
    | Annotated[Standardize, Tag("standardize")] | Annotated[MinMax, Tag("minmax")]
    | Annotated[Log1p, Tag("log1p")] | Annotated[Bucketize, Tag("bucketize")] | Annotated[OneHot, Tag("one_hot")],
    Discriminator(_transform_tag, custom_error_type="invalid_transform",
                  custom_error_message="unknown transform",
                  custom_error_context={"discriminator": "transform"}),
]

TRANSFORMS = ("passthrough", "impute", "standardize", "minmax", "log1p", "bucketize", "one_hot")
