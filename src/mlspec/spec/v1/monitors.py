"""The spec language v1, `monitors:`: drift, quality and performance checks on new data, on a schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from mlspec.spec.v1.base import Description, MetricName, Strict

DriftMethod = Literal["psi", "ks", "chi_square", "jensen_shannon", "wasserstein"]
CategoricalDriftMethod = Literal["psi", "chi_square", "jensen_shannon"]
AlertAction = Literal["open_issue", "retrain"]


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
    on_alert: list[AlertAction] = Field(default_factory=lambda: list[AlertAction](["open_issue"]), max_length=2,
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
