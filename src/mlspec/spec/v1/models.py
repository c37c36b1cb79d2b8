"""The spec language, version 1 (`apiVersion: mlspec/v1`): what a user may write, field by field.

These pydantic models are the public API of mlspec. They are strict (no type coercion), refuse
unknown keys, refuse NaN and infinity, and carry a description on every field, which also feeds
the JSON Schema that editors use for completion. Checks that need more than one field or more
than one file (references, names, expressions) live in `spec.semantics`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import POSITIVE_CLASS
from mlspec.spec.v1.base import Description, MetricName, Scalar, Strict, Tags
from mlspec.spec.v1.compute import Compute
from mlspec.spec.v1.features import Feature
from mlspec.spec.v1.monitors import Monitor
from mlspec.spec.v1.project import Project
from mlspec.spec.v1.sources import Source

API_VERSION = "mlspec/v1"

# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------


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
    compute: Compute | None = Field(None, description=(
        "Where this model's search and cross-validation run: {backend: dask, address: ...} for a Dask cluster "
        "(see README, Training on a Dask cluster). Replaces project.compute as a whole; left out, the project's "
        "applies (by default: local)."), examples=[{"backend": "dask", "address": "${env:DASK_SCHEDULER_ADDRESS}"}])
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
