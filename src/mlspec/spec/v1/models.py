"""The spec language, version 1 (`apiVersion: mlspec/v1`): what a user may write, field by field.

These pydantic models are the public API of mlspec. They are strict (no type coercion), refuse
unknown keys, refuse NaN and infinity, and carry a description on every field, which also feeds
the JSON Schema that editors use for completion. Checks that need more than one field or more
than one file (references, names, expressions) live in `spec.semantics`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import DRIFT_DEFAULT_THRESHOLDS, DRIFT_THRESHOLD_RANGES, METRICS, POSITIVE_CLASS
from mlspec.spec.v1.base import Description, Scalar, Strict, Tags
from mlspec.spec.v1.project import Artifacts, Project, Registry

__all__ = ["DRIFT_DEFAULT_THRESHOLDS", "DRIFT_THRESHOLD_RANGES", "Artifacts", "Description", "Project", "Registry",
           "Scalar", "Strict", "Tags"]

API_VERSION = "mlspec/v1"

# ------------------------------------------------------------------------------------------------
# project: see project.py
# ------------------------------------------------------------------------------------------------

# ------------------------------------------------------------------------------------------------
# sources: the data contract
# ------------------------------------------------------------------------------------------------

ColumnType = Literal["int", "float", "bool", "category", "string", "datetime"]


class Column(Strict):
    """The contract of one column: its type, nullability, range and allowed values."""

    type: ColumnType = Field(description=(
        "Data type: int, float, bool, category (a fixed set of labels), string (free text) or datetime."))
    nullable: bool = Field(False, description="Whether missing values are allowed.")
    min: int | float | None = Field(None, description="Smallest allowed value (int and float columns).")
    max: int | float | None = Field(None, description="Largest allowed value (int and float columns).")
    values: list[str | int] | None = Field(None, min_length=1, max_length=10_000, description=(
        "Allowed values. Required for category columns; values not listed fail the contract."))
    unique: bool = Field(False, description="Whether every non-null value must be distinct.")
    description: Description

    @model_validator(mode="after")
    def _coherent(self) -> Column:
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise PydanticCustomError("mls_column", "min/max apply only to int and float columns, not {type}",
                                      {"type": self.type, "hint": "remove min/max or change the type",
                                       "field": "min" if self.min is not None else "max"})
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("mls_column", "min ({min}) is greater than max ({max})",
                                      {"min": self.min, "max": self.max, "hint": "swap the two values",
                                       "field": "min"})
        if self.type == "category" and not self.values:
            raise PydanticCustomError("mls_column", "a category column must list its allowed values",
                                      {"hint": "add values: [a, b, c], or use type: string for free text",
                                       "field": "type"})
        if self.values is not None and len(set(map(repr, self.values))) != len(self.values):
            raise PydanticCustomError("mls_column", "allowed values contain a duplicate",
                                      {"hint": "list every allowed value once", "field": "values"})
        return self


class RowCheck(Strict):
    """A rule every row must satisfy, written in the expression language."""

    name: str = Field(description="Name of the check, shown when it fails.")
    expr: str = Field(min_length=1, max_length=1000, description=(
        "A boolean expression over columns, e.g. \"amount >= 0 or is_null(amount)\"."),
        examples=["amount >= 0", "end_time >= start_time"])
    description: Description


class Checks(Strict):
    """Checks on the whole dataset, run before anything trains."""

    min_rows: int = Field(1, ge=0, le=10**12, description="Fewest rows the data may have.")
    max_rows: int | None = Field(None, ge=1, le=10**12, description="Most rows the data may have.")
    rows: list[RowCheck] = Field(default_factory=list, max_length=200, description="Row-level rules.")


class LikeContract(Strict):
    """Another source's contract reused: its columns, less those dropped, with some replaced or added."""

    like: str = Field(description=(
        "The source whose schema this one reuses (for example the training source, for a live batch or an "
        "unlabelled file). Only its columns are reused: timestamp and checks are this source's own. A reused "
        "source may itself reuse another; a circle is refused."), examples=["transactions"])
    drop: list[str] = Field(default_factory=list, max_length=2000, description=(
        "Columns of that source this one does not have, such as the label of a batch still waiting for it."),
        examples=[["is_fraud"]])
    override: dict[str, Column] = Field(default_factory=dict, max_length=2000, description=(
        "Columns of that source whose contract differs here, each written in full (for example a label that "
        "may be missing while it arrives late: {type: int, values: [0, 1], nullable: true})."))
    add: dict[str, Column] = Field(default_factory=dict, max_length=2000, description=(
        "Columns this source has beyond that source's, each with its contract."))


def _schema_tag(value: object) -> str:
    if isinstance(value, LikeContract) or (isinstance(value, dict) and isinstance(value.get("like"), str)):
        return "like"
    return "columns"


# A source's contract: its columns written out, or `{like: SOURCE, ...}` (a column named `like` is a mapping, so
# a `like` whose value is text can only mean the reuse).
Contract = Annotated[
    Annotated[Annotated[dict[str, Column], Field(min_length=1, max_length=2000)], Tag("columns")]
    | Annotated[LikeContract, Tag("like")],
    Discriminator(_schema_tag),
]

_PATH_DOC = ("Path of the file, relative to the project root; or an object-store URL (s3://BUCKET/KEY, "
             "gs://BUCKET/KEY, az://CONTAINER/KEY) read with the credentials listed in project.secrets.")
_SOURCE_COMMON_DOC = (
    "Data contract: every column the project uses, with its type and constraints; or another source's contract "
    "reused, {like: SOURCE, drop: [COLUMN], override: {...}, add: {...}}, which validate and compile resolve "
    "into the full list of columns.")


class _SourceBase(Strict):
    timestamp: str | None = Field(None, description=(
        "Name of a datetime column that orders rows in time (needed for time splits and monitoring windows)."))
    columns: Contract = Field(alias="schema", description=_SOURCE_COMMON_DOC)
    checks: Checks = Field(default_factory=Checks, description="Dataset-level checks.")
    description: Description
    tags: Tags


class CsvSource(_SourceBase):
    """A CSV file in the repository."""

    format: Literal["csv"] = Field(description="File format: csv.")
    path: str = Field(min_length=1, max_length=500, description=_PATH_DOC,
                      examples=["data/transactions.csv", "s3://acme-data/batches/latest.csv"])
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator, one character.")


class ParquetSource(_SourceBase):
    """A Parquet file in the repository."""

    format: Literal["parquet"] = Field(description="File format: parquet.")
    path: str = Field(min_length=1, max_length=500, description=_PATH_DOC)


class SqlSource(_SourceBase):
    """A SQL query or table, read through SQLAlchemy."""

    format: Literal["sql"] = Field(description="Read with SQL through SQLAlchemy.")
    uri: str = Field(min_length=1, max_length=500, description=(
        "SQLAlchemy URL. Passwords only as ${env:VAR}; relative SQLite paths are relative to the project."),
        examples=["sqlite:///data/warehouse.db", "postgresql://reader:${env:PGPASSWORD}@localhost/shop"])
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$",
                              description="Table to read whole. Give either table or query.")
    query: str | None = Field(None, min_length=1, max_length=20_000, description=(
        "A read-only SELECT statement. Give either table or query."))

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise PydanticCustomError("mls_source", "a sql source needs exactly one of table or query",
                                      {"hint": "add table: NAME, or query: SELECT ..."})
        return self


Source = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="format")]

# ------------------------------------------------------------------------------------------------
# features
# ------------------------------------------------------------------------------------------------

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

# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------


# A metric's name: any text to the validator (which says MLS203 with a "did you mean"), the catalogue with
# each metric's definition to editors (the YAML language server shows a `const`'s description when completing).
MetricName = Annotated[str, WithJsonSchema({
    "type": "string",
    "anyOf": [{"const": m.name, "description": f"({m.task}) {m.description}"} for m in METRICS.values()]})]
_METRICS_DOC = ("Names from the metric catalogue (`mlspec explain METRIC` defines each; `mlspec explain MLS203` "
                "lists them): classification metrics for classification, regression metrics for regression. "
                + POSITIVE_CLASS)


# An estimator's name: any text to the validator (MLS205 with a "did you mean"), the allowlist with each one's tasks
# and description to editors, so completion offers every estimator.
EstimatorName = Annotated[str, WithJsonSchema({
    "type": "string",
    "anyOf": [{"const": e.name, "description": f"({' and '.join(e.tasks)}) {e.description}"
               + (" Takes missing values." if e.accepts_missing else "")} for e in ESTIMATORS.values()]})]


class Split(Strict):
    """How rows are split into training and held-out test data."""

    method: Literal["random", "stratified", "time"] = Field("random", description=(
        "random, stratified (keeps the label's class balance; classification only), or time "
        "(the latest rows by the source's timestamp are the test set)."))
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of rows held out for evaluation.")


class CrossValidation(Strict):
    """K-fold cross-validation on the training split, reported beside the held-out metrics."""

    folds: int = Field(5, ge=2, le=20, description="Number of folds.")


class Range(Strict):
    """A numeric range to sample from in a random search."""

    low: int | float = Field(description="Lower bound.")
    high: int | float = Field(description="Upper bound.")
    log: bool = Field(False, description="Sample on a log scale (for learning rates and regularisation).")


class Search(Strict):
    """Hyperparameter search on the training split (grid or random), scored by cross-validation."""

    method: Literal["grid", "random"] = Field(description="grid tries every combination; random samples n_iter.")
    space: dict[str, list[Scalar] | Range] = Field(min_length=1, max_length=20, description=(
        "Parameter -> candidate values (a list), or a range {low, high, log} for random search."))
    n_iter: int = Field(20, ge=1, le=1000, description="Candidates tried by a random search.")
    folds: int = Field(3, ge=2, le=20, description="Cross-validation folds per candidate.")
    metric: MetricName | None = Field(None, description=(
        "Metric that picks the winner (one of the model's metrics); the model's first metric by default."))


class Model(Strict):
    """A model trained from one source's features, evaluated on a held-out split."""

    task: Literal["classification", "regression"] = Field(description="What the model predicts.")
    source: str = Field(description="The training data source.")
    label: str = Field(description="The column the model predicts. Never also a feature.")
    features: list[str] = Field(min_length=1, max_length=2000, description="Features used, by name.")
    estimator: EstimatorName = Field(description=(
        "An estimator from the allowlist (`mlspec explain MLS205` lists them, `mlspec explain ESTIMATOR` shows one's "
        "parameters with their bounds and defaults)."))
    params: dict[str, Scalar] = Field(default_factory=dict, max_length=50, description=(
        "Estimator parameters, checked against the estimator's table of types and bounds."))
    split: Split = Field(default_factory=Split, description="Train/test split.")
    cv: CrossValidation | None = Field(None, description="Optional cross-validation.")
    search: Search | None = Field(None, description="Optional hyperparameter search.")
    metrics: list[MetricName] = Field(min_length=1, max_length=20, description=(
        "Metrics computed on the held-out split; the first is the primary metric (a search's default). "
        + _METRICS_DOC), examples=[["roc_auc", "average_precision", "recall"], ["f1_macro", "roc_auc_ovr", "log_loss"]])
    slices: list[str] = Field(default_factory=list, max_length=10, description=(
        "Columns to compute metrics per value of (for example merchant_category)."))
    decision_threshold: float = Field(0.5, gt=0, lt=1, description=(
        "On a two-class label: the predicted probability of the positive class (the label's greater value: "
        "true, 1, or the text that sorts last) at or above which a row is predicted positive; it changes every metric "
        "computed from predicted classes (accuracy, precision, recall, f1 and their averages). More classes: "
        "the most probable class is predicted."))
    runner: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                               description="GitHub Actions runner label for this model's jobs.")
    timeout_minutes: int | None = Field(None, ge=1, le=360, description="Time limit of this model's CI jobs.")
    description: Description
    tags: Tags


# ------------------------------------------------------------------------------------------------
# gates
# ------------------------------------------------------------------------------------------------


class SliceRequirement(Strict):
    """Requirements that must hold in every slice of a column, not only overall."""

    column: str = Field(description="A slice column listed in the model's slices.")
    require: list[str] = Field(min_length=1, max_length=50, description="Requirements, as in the gate.")
    min_rows: int = Field(30, ge=1, le=10**9, description="Slices with fewer test rows are skipped (and reported).")


class Approval(Strict):
    """Manual approval before promotion, through a GitHub Environment with required reviewers."""

    environment: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description=(
        "GitHub Environment name; configure its required reviewers in the repository settings, restrict its "
        "deployment branches to the default branch, and give it the read-write state credential as "
        "environment secrets (the names in project.secrets): the promote job waits for its reviewers and "
        "is the only job that moves this gate's champion."),
        examples=["production"])


class Gate(Strict):
    """Requirements a newly trained model must meet before it is registered and promoted (see approval, promote)."""

    model: str = Field(description="The model this gate guards.")
    require: list[str] = Field(min_length=1, max_length=50, description=(
        "Requirements: `metric OP number` or `metric OP champion.metric [+|-|* number]`, OP one of >= <= > <. "
        "The metric of the first requirement is the gate's primary metric (see promote). A tolerance such as "
        "`r2 >= champion.r2 - 0.02` passes a candidate up to 0.02 worse than the champion, and with promote: "
        "always that candidate becomes the champion."),
        examples=[["roc_auc >= 0.90", "roc_auc >= champion.roc_auc - 0.005"]])
    first_run: Literal["skip_champion_checks", "fail"] | None = Field(None, description=(
        "What requirements against the champion do when there is no champion yet: skip_champion_checks "
        "(only absolute requirements apply) or fail. Required when a requirement names champion."))
    slices: list[SliceRequirement] = Field(default_factory=list, max_length=10,
                                           description="Per-slice requirements.")
    approval: Approval | None = Field(None, description=(
        "Manual approval before promotion: a passing candidate is registered as challenger and becomes the "
        "champion only once a reviewer approves. Without it, a passing candidate is promoted by the gate itself."))
    promote: Literal["always", "if_better"] = Field("always", description=(
        "Which passing candidates are promoted to champion (with approval: put up for it as challenger). "
        "always (the default): every candidate that meets the requirements, including one worse than the "
        "champion within a requirement's tolerance. if_better: only a candidate strictly better than the "
        "champion on the gate's primary metric, the metric of its first requirement, higher or lower as that "
        "metric is better; a tie, or the metric missing or NaN on either side, is not better. A passing "
        "candidate that is not better is registered as a version without an alias and the champion stays. "
        "Before there is a champion, a passing candidate is promoted either way. With if_better the move is "
        "compare-and-set: when the champion changed after the gate compared with it, nothing moves, and "
        "running the gate again compares with the new champion."))
    description: Description


# ------------------------------------------------------------------------------------------------
# monitors
# ------------------------------------------------------------------------------------------------

DriftMethod = Literal["psi", "ks", "chi_square", "jensen_shannon", "wasserstein"]
CategoricalDriftMethod = Literal["psi", "chi_square", "jensen_shannon"]


class FeatureDrift(Strict):
    """Drift settings for one feature, overriding the monitor's."""

    method: DriftMethod | None = Field(None, description=(
        "Drift measure for this feature's column. A category or string column takes psi, chi_square or "
        "jensen_shannon; ks or wasserstein on one is measured with jensen_shannon (validate warns)."))
    threshold: float | None = Field(None, gt=0, description=(
        "Drift score above which this feature's column has drifted, in the units of the measure the column is "
        "measured with (this feature's method, else the monitor's for its kind of column)."))


class DriftThresholds(Strict):
    """A threshold per drift measure: wherever a measure is used (a numeric column, a category column, the
    predictions or a feature override without a threshold), its score is compared with its own threshold."""

    psi: float | None = Field(None, gt=0, description="Threshold of psi, in (0, 10]. Default 0.2.")
    ks: float | None = Field(None, gt=0, description="Threshold of ks (the KS statistic), in (0, 1]. Default 0.1.")
    chi_square: float | None = Field(None, gt=0, description="Threshold of chi_square (Cramér's V), in (0, 1]. "
                                     "Default 0.1.")
    jensen_shannon: float | None = Field(None, gt=0, description="Threshold of jensen_shannon (distance, base 2), "
                                         "in (0, 1]. Default 0.1.")
    wasserstein: float | None = Field(None, gt=0, description="Threshold of wasserstein (in reference standard "
                                      "deviations), in (0, 100]. Default 0.1.")


class Drift(Strict):
    """Data drift: live data compared with the training data's reference profile.

    Every column and the predictions get one measure and one threshold, resolved at compile time and
    written in the manifest; the report says which each column was measured with."""

    method: DriftMethod = Field("wasserstein", description=(
        "Effect-size measure of numeric (int, float, bool) columns and of the predictions: wasserstein (earth "
        "mover's distance in reference standard deviations; the default), psi, ks (KS statistic), chi_square "
        "(Cramér's V) or jensen_shannon (distance). Category, string and datetime columns are measured with "
        "`categorical`."))
    categorical: CategoricalDriftMethod | None = Field(None, description=(
        "Measure of category, string and datetime columns: psi, chi_square or jensen_shannon. Default: `method` "
        "when it is one of those, else jensen_shannon."))
    threshold: float | None = Field(None, gt=0, description=(
        "Threshold of `method`: the score above which a column measured with it (and the predictions) has "
        "drifted. It does not apply to columns measured with another measure (category columns under ks or "
        "wasserstein): set those under thresholds. Defaults: wasserstein 0.1, psi 0.2, ks 0.1, chi_square 0.1, "
        "jensen_shannon 0.1."))
    thresholds: DriftThresholds | None = Field(None, description=(
        "A threshold per measure, for every column measured with it, e.g. {wasserstein: 0.2, "
        "jensen_shannon: 0.15}. The threshold of `method` is given here or in threshold, not both."),
        examples=[{"wasserstein": 0.2, "jensen_shannon": 0.15}])
    features: dict[str, FeatureDrift] = Field(default_factory=dict, description=(
        "Per-feature overrides of method and threshold (a feature read from one column applies to that column)."))
    share: float = Field(0.3, gt=0, le=1, description=(
        "The dataset counts as drifted when at least this share of the features that had enough data to "
        "judge drifted."))
    prediction: bool = Field(True, description=(
        "Also compare the distribution of the model's predictions with its held-out predictions at training "
        "time (test split, and out-of-fold on the training split when the test split is small), measured with "
        "`method` and compared with its threshold."))
    min_rows: int = Field(200, ge=10, le=10**9, description=(
        "Fewer live rows than this give the verdict insufficient_data, never 'no drift'. Rows are counted "
        "whether or not a value is missing in them; a column with no value at all is insufficient_data."))
    bins: int = Field(10, ge=2, le=100, description="Quantile bins of the numeric reference profile.")


class Quality(Strict):
    """Data quality: the live source's contract, applied to the live batch."""

    max_failed_rows: float = Field(0.0, ge=0, le=1, description=(
        "Share of rows allowed to break the contract before the monitor alerts."))


class Performance(Strict):
    """Model performance on live data once labels arrive (the live source has the label column)."""

    metrics: list[MetricName] = Field(min_length=1, max_length=20, description=(
        "Metrics to compute on the live batch, each one of the model's metrics (same definitions)."))
    max_drop: float = Field(0.05, ge=0, description=(
        "Alert when a metric is worse than at training time by more than this (absolute)."))
    min_rows: int = Field(100, ge=10, le=10**9, description="Fewer labelled rows give insufficient_data.")


class PredictionLog(Strict):
    """Live data from the prediction log `mlspec serve` writes: the requests the model answered."""

    window: str | None = Field(None, max_length=8, pattern=r"^[1-9][0-9]{0,5}[mhdw]$", description=(
        "How far back to read: a number and a unit, m (minutes), h (hours), d (days) or w (weeks). "
        "Default: the whole log."), examples=["7d", "24h"])


class Monitor(Strict):
    """A scheduled check of a model's live data: drift, quality and performance, with actions."""

    model: str = Field(description="The monitored model.")
    data: str | None = Field(None, description=(
        "A source of recent (live) data with the columns the model uses. Give either data or predictions."))
    predictions: PredictionLog | None = Field(None, description=(
        "Read the live data from the prediction log that `mlspec serve` writes for the monitored model "
        "(predictions/MODEL/ in the artifact store) instead of a source: the rows the champion answered, and "
        "what the challenger answered in shadow. The same data as `mlspec monitor --data predictions:MODEL`. "
        "The log holds no labels, so performance checks need a source. Give either data or predictions."),
        examples=[{"window": "7d"}])
    schedule: str = Field(max_length=100, description=(
        "When to run, as 5-field cron in UTC (GitHub's subset; at most every 5 minutes). Quote it."),
        examples=["0 6 * * *"])
    drift: Drift | None = Field(None, description="Drift settings.")
    quality: Quality | None = Field(None, description="Quality settings.")
    performance: Performance | None = Field(None, description="Performance settings.")
    on_alert: list[Literal["open_issue", "retrain"]] = Field(default_factory=lambda: ["open_issue"], max_length=2,
                                                             description="Actions when the monitor alerts.")
    description: Description

    @model_validator(mode="after")
    def _something_to_check(self) -> Monitor:
        if (self.data is None) == (self.predictions is None):
            raise PydanticCustomError("mls_monitor", "a monitor reads either a source (data) or the prediction "
                                      "log (predictions), {which}",
                                      {"which": "not both" if self.data is not None else "and names neither",
                                       "hint": "data: SOURCE, or predictions: {window: 7d}"})
        if self.drift is None and self.quality is None and self.performance is None:
            raise PydanticCustomError("mls_monitor", "a monitor needs at least one of drift, quality or performance",
                                      {"hint": "add drift: {method: psi}"})
        return self


# ------------------------------------------------------------------------------------------------
# a spec file
# ------------------------------------------------------------------------------------------------


class SpecFile(Strict):
    """One YAML file under specs/. Sections merge across files; names are unique per kind."""

    api_version: Literal["mlspec/v1"] = Field(alias="apiVersion", description="Spec language version: mlspec/v1.")
    project: Project | None = Field(None, description="Project settings (in exactly one file).")
    sources: dict[str, Source] = Field(default_factory=dict, description="Data sources with their contracts.")
    features: dict[str, Feature] = Field(default_factory=dict, description="Features computed from sources.")
    models: dict[str, Model] = Field(default_factory=dict, description="Models to train.")
    gates: dict[str, Gate] = Field(default_factory=dict, description="Release gates on models.")
    monitors: dict[str, Monitor] = Field(default_factory=dict, description="Scheduled monitors.")


SECTIONS = ("sources", "features", "models", "gates", "monitors")
KIND_OF_SECTION = {"sources": "source", "features": "feature", "models": "model", "gates": "gate",
                   "monitors": "monitor"}
