"""The resolved manifest: the versioned contract between the compiler and the runtime.

The compiler resolves specs (defaults filled in, references checked, expressions parsed into
trees) into these models and writes them as `generated/manifest.json`. The runtime reads only
this, never the spec modules. Every node has an id like `model.fraud_gbm`, its dependencies, and
a hash of its own settings, which `plan` and the step cache compare.

The file leaves out what its reader derives (see `mlspec.manifest.fileform`), and says which shape it has
in `schema_version`. Version 1 wrote every value of every node; it reads into the same models, so a plan
can compare with such a base, but generated scripts refuse it (`read_json`): `mlspec compile` writes the
current version.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, overload

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from mlspec import gcpause
from mlspec.errors import MlspecError
from mlspec.manifest import fileform

SCHEMA_VERSION = 2  # 2: the file leaves out defaults and derived values (1 wrote every value of every node)
OLDEST_READABLE = 1  # the oldest version that still reads into these models


class ManifestVersionError(MlspecError, ValueError):
    """A manifest written by another version of mlspec than this one reads; `hint` says what to do. A ValueError
    too, as every other manifest that cannot be read is."""


class _Frozen(BaseModel):
    # finite numbers only: JSON has no NaN or infinity (and the spec loader refuses them already)
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class InstallSettings(_Frozen):
    """What generated CI jobs install with pip, in the form the spec chose (see `mlspec.installs`).

    `light` is for jobs that only validate, compile, plan, report or comment; `runtime` adds the
    runtime extra and `extras` (inferred from the spec's URLs, plus the spec's own) for jobs that
    train, gate, promote or monitor; `state` adds the `state` extra and `extras` for jobs that only
    read or write run records (main's plan and record jobs). A `lock` form names a hashed requirements file for both.
    """

    form: Literal["pin", "lock", "git", "path"]
    light: str
    runtime: str
    state: str = ""  # light plus what reaching the state needs (SQLAlchemy, drivers): planning, recording runs
    extras: list[str] = Field(default_factory=list)


class ServeSettings(_Frozen):
    """How `mlspec compile` packages `mlspec serve` (`project.serve` with `dockerfile: true`): the base image
    pinned by digest, the models served (every model when the spec names none), the port, the workers, and
    what pip installs in the image (the spec's install form with the serve extra and the state's extras)."""

    base_image: str
    models: list[str]
    port: int
    workers: int
    install: str


class ArgoRequests(_Frozen):
    """A pod's resource requests, as Kubernetes quantities."""

    cpu: str
    memory: str


class ArgoSettings(_Frozen):
    """The Argo Workflows target (`project.argo`): the steps' image pinned by digest, the repository they check out
    and the project's folder in it, the namespace and service account when given, the Secrets holding the state's
    credentials and the git credentials, and the resource requests (per runner label, else `requests`)."""

    image: str
    repository: str
    folder: str
    namespace: str | None = None
    service_account: str | None = None
    secret: str
    git_secret: str | None = None
    requests: ArgoRequests
    runners: dict[str, ArgoRequests] = Field(default_factory=dict)


class ProjectSettings(_Frozen):
    """Project-wide settings after defaults.

    `artifacts_uri` is always filled: beside a store registry (`<registry_uri>/artifacts`) or
    `.mlspec/artifacts` when the spec names none. `secrets` are environment variables (repository
    secrets of the same name) that generated jobs touching state receive.
    """

    name: str
    description: str | None = None
    registry_uri: str
    artifacts_uri: str
    tracking: Literal["mlflow"] | None = None  # mirror training runs (left out of the JSON when None)
    secrets: list[str] = Field(default_factory=list)
    default_branch: str = "main"
    state_environment: str = "mlspec-state"
    python: str
    runner: str
    timeout_minutes: int
    seed: int
    install: InstallSettings
    serve: ServeSettings | None = None  # left out of the JSON when None, so projects without it keep their bytes
    argo: ArgoSettings | None = None  # likewise

    @model_serializer(mode="wrap")
    def _without_serve(self, handler):
        data = handler(self)
        for optional in ("serve", "tracking", "argo"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


class NodeBase(_Frozen):
    """What every node has: identity, dependencies, selection tags, origin file and a settings hash."""

    id: str
    name: str
    depends_on: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    file: str
    description: str | None = None
    config_hash: str = ""


class ColumnContract(_Frozen):
    """One column's contract."""

    type: str
    nullable: bool = False
    min: int | float | None = None
    max: int | float | None = None
    values: list[str | int] | None = None
    unique: bool = False


class ColumnOrigin(_Frozen):
    """Where a column's contract is written, when not in its own source's schema (a reused contract): the
    spec file and the key path of its entry, which the runtime turns into a line when data breaks it."""

    file: str
    path: list[str]


class RowCheckNode(_Frozen):
    """A row rule: its name, its text and its parsed expression tree."""

    name: str
    text: str
    expr: dict[str, Any]


class TrainingRead(_Frozen):
    """The part of a source read by DuckDB that models train on: a seeded sample, a window of time, or both."""

    sample_rows: int | None = None
    window: str | None = None  # 12h, 90d, 8w: rows at most this long before the latest timestamp


class SourceNode(NodeBase):
    """A data source and its contract."""

    kind: Literal["source"] = "source"
    format: Literal["csv", "parquet", "sql"]
    path: str | None = None
    delimiter: str | None = None
    uri: str | None = None
    table: str | None = None
    query: str | None = None
    timestamp: str | None = None
    columns: dict[str, ColumnContract]
    min_rows: int
    max_rows: int | None = None
    row_checks: list[RowCheckNode] = Field(default_factory=list)
    # columns reused from another source's contract: where each is written (not hashed: it says where, not what)
    column_origins: dict[str, ColumnOrigin] = Field(default_factory=dict)
    # what computes the contract, profile and drift (None: chosen by size at run time), and what models train
    # on from a source read by DuckDB; both left out of the JSON (and the hash) when not set
    engine: Literal["pandas", "duckdb"] | None = None
    training: TrainingRead | None = None

    @property
    def data_path(self) -> str:
        """The path or URL a CSV or Parquet source reads (ValueError for a SQL source, which reads none)."""
        if self.path is None:
            raise ValueError(f"source '{self.name}' reads SQL, not a file")
        return self.path

    @model_serializer(mode="wrap")
    def _without_engine(self, handler):
        data = handler(self)
        for optional in ("engine", "training"):
            if data.get(optional) is None:
                data.pop(optional, None)
        return data


class TransformSpec(_Frozen):
    """A feature's transform and its settings."""

    kind: str
    impute: str | None = None
    fill_value: int | float | str | None = None
    bins: list[int | float] | None = None
    n_bins: int | None = None
    strategy: str | None = None
    max_categories: int | None = None
    handle_unknown: str | None = None


class FeatureNode(NodeBase):
    """A feature: a column or a derived expression, and its transform."""

    kind: Literal["feature"] = "feature"
    source: str
    column: str | None = None
    expr: dict[str, Any] | None = None
    expr_text: str | None = None
    inputs: list[str]
    derived_inputs: list[str] = Field(default_factory=list)
    input_type: str
    transform: TransformSpec


class SplitSpec(_Frozen):
    """Train/test split after defaults."""

    method: str
    test_fraction: float


class SearchSpec(_Frozen):
    """Hyperparameter search after defaults."""

    method: str
    space: dict[str, Any]
    n_iter: int
    folds: int
    metric: str


class ComputeSettings(_Frozen):
    """Where a model's search and cross-validation run when not in mlspec's own process: a Dask cluster."""

    backend: Literal["dask"] = Field(description="dask: scikit-learn's joblib backend on a Dask cluster.")
    address: str | None = Field(None, description=(
        "The scheduler (tcp://HOST:PORT, tls://HOST:PORT) or ${env:NAME}, read when the model trains; None: a local "
        "cluster started and stopped for the training."))


class ModelNode(NodeBase):
    """A model: its data, features, estimator with resolved parameters, split and metrics."""

    kind: Literal["model"] = "model"
    task: str
    source: str
    label: str
    label_type: str
    features: list[str]
    estimator: str
    class_path: str
    params: dict[str, Any]
    split: SplitSpec
    cv_folds: int | None = None
    search: SearchSpec | None = None
    metrics: list[str]
    primary_metric: str
    slices: list[str] = Field(default_factory=list)
    decision_threshold: float
    runner: str
    timeout_minutes: int
    # where the search and cross-validation run: not what the model is (the artifact is the same either way), so
    # not hashed (resolve's _NOT_HASHED) and left out of the JSON when local
    compute: ComputeSettings | None = Field(None, description=(
        "The model's own compute, else the project's, when it is a Dask cluster; None: everything runs in "
        "mlspec's process."))

    @model_serializer(mode="wrap")
    def _without_compute(self, handler):
        data = handler(self)
        if data.get("compute", 0) is None:  # a local model dumps as it did before the field existed
            del data["compute"]
        return data


class SliceGate(_Frozen):
    """Requirements applied within every slice of a column."""

    column: str
    requirements: list[dict[str, Any]]
    min_rows: int


class GateNode(NodeBase):
    """A gate on a model: requirements, first-run policy, slice rules, approval and promotion policy."""

    kind: Literal["gate"] = "gate"
    model: str
    requirements: list[dict[str, Any]]
    first_run: str | None = None
    slices: list[SliceGate] = Field(default_factory=list)
    approval_environment: str | None = None
    promote: Literal["always", "if_better"] = "always"  # a manifest from before the field meant always

    @property
    def primary_metric(self) -> str:
        """The metric of the first requirement: what `promote: if_better` compares with the champion's."""
        return self.requirements[0]["metric"]


DriftMethod = Literal["psi", "ks", "chi_square", "jensen_shannon", "wasserstein"]


class DriftMeasure(_Frozen):
    """How one column, or the predictions, is judged: its measure and the score above which it has drifted.

    `kind` is how the reference profile describes the column (numeric: quantile bins; categorical: value
    frequencies); `override` names the feature whose override under `features:` set it."""

    method: DriftMethod
    threshold: float
    kind: Literal["numeric", "categorical"] = "numeric"
    override: str | None = None


class DriftSettings(_Frozen):
    """A monitor's drift check after resolution: every column the model reads, and the predictions, with
    an explicit measure and threshold, so the runtime applies them as written and never chooses."""

    method: DriftMethod  # numeric columns and predictions (what the spec said, for readers of the manifest)
    categorical: DriftMethod  # category, string and datetime columns
    columns: dict[str, DriftMeasure]
    predictions: DriftMeasure | None = None  # None: predictions are not compared
    share: float
    min_rows: int
    bins: int


class MonitorNode(NodeBase):
    """A monitor: model, live data, schedule, checks with resolved thresholds, and actions."""

    kind: Literal["monitor"] = "monitor"
    model: str
    data: str
    schedule: str
    drift: DriftSettings | None = None
    quality: dict[str, Any] | None = None
    performance: dict[str, Any] | None = None
    on_alert: list[str]


Node = Annotated[SourceNode | FeatureNode | ModelNode | GateNode | MonitorNode, Field(discriminator="kind")]
NODE_KINDS = ("source", "feature", "model", "gate", "monitor")
N = TypeVar("N", SourceNode, FeatureNode, ModelNode, GateNode, MonitorNode)


class Manifest(_Frozen):
    """The whole resolved project."""

    schema_version: int = SCHEMA_VERSION
    project: ProjectSettings
    nodes: dict[str, Node]
    files: list[str] = Field(default_factory=list)  # every file `mlspec compile` generated, for safe cleanup

    @model_validator(mode="before")
    @classmethod
    def _restore_derived(cls, data: Any) -> Any:
        return fileform.restore(data)

    @model_validator(mode="after")
    def _keys_are_ids(self) -> Manifest:
        for key, node in self.nodes.items():
            if node.id != key or key != f"{node.kind}.{node.name}":
                raise ValueError(f"node {key!r} has id {node.id!r}, kind {node.kind!r} and name {node.name!r}")
        return self

    @classmethod
    def model_validate_json(cls, json_data, **kwargs) -> Manifest:
        """Pydantic's, with the cyclic garbage collector paused: a large manifest is about a million acyclic
        objects, and the collector's passes over them while they are built cost as much as building them
        (the file form's reader needs them as Python objects; see `mlspec.gcpause`)."""
        with gcpause.paused():
            return super().model_validate_json(json_data, **kwargs)

    @overload
    def of_kind(self, kind: Literal["source"]) -> list[SourceNode]: ...
    @overload
    def of_kind(self, kind: Literal["feature"]) -> list[FeatureNode]: ...
    @overload
    def of_kind(self, kind: Literal["model"]) -> list[ModelNode]: ...
    @overload
    def of_kind(self, kind: Literal["gate"]) -> list[GateNode]: ...
    @overload
    def of_kind(self, kind: Literal["monitor"]) -> list[MonitorNode]: ...

    def of_kind(self, kind: str) -> list[Any]:
        """Nodes of one kind, in id order."""
        return [n for n in self.nodes.values() if n.kind == kind]

    def node(self, node_id: str, kind: type[N]) -> N:
        """The node with this id, which must be of this kind: KeyError when there is no such node, TypeError
        when it is another kind (a bug of the caller, not of the manifest)."""
        found = self.nodes[node_id]
        if not isinstance(found, kind):
            raise TypeError(f"{node_id} is a {found.kind}, not a {kind.__name__}")
        return found

    def source(self, name: str) -> SourceNode:
        """The source of this name."""
        return self.node(f"source.{name}", SourceNode)

    def feature(self, name: str) -> FeatureNode:
        """The feature of this name."""
        return self.node(f"feature.{name}", FeatureNode)

    def model(self, name: str) -> ModelNode:
        """The model of this name."""
        return self.node(f"model.{name}", ModelNode)

    def gate(self, name: str) -> GateNode:
        """The gate of this name."""
        return self.node(f"gate.{name}", GateNode)

    def monitor(self, name: str) -> MonitorNode:
        """The monitor of this name."""
        return self.node(f"monitor.{name}", MonitorNode)

    def to_data(self) -> dict:
        """The manifest as the file holds it: JSON data without defaults and derived values (`fileform`)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["schema_version"] = SCHEMA_VERSION  # this shape's, whatever the manifest was read from

        def full_value(key: str, name: str) -> Any:
            return self.nodes[key].model_dump(mode="json", include={name})[name]

        return fileform.lean(data, full_value)

    def to_json(self) -> str:
        """The canonical JSON of `generated/manifest.json`: `to_data` with sorted keys, two-space indentation,
        ASCII (as every generated file: text outside it is escaped, `\\u00e9`), a final newline; equal
        manifests give equal bytes. One orjson call is the canonical form (the models refuse NaN and infinity)."""
        text = orjson.dumps(self.to_data(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode()
        return (text if text.isascii() else _NON_ASCII.sub(_json_escape, text)) + "\n"

    @classmethod
    def read_json(cls, text: str | bytes, *, oldest: int = SCHEMA_VERSION) -> Manifest:
        """A manifest from its file's text, refusing (ManifestVersionError) one whose version is older than
        `oldest` or newer than this mlspec's; ValueError when it is not JSON or not a valid manifest."""
        with gcpause.paused():  # see model_validate_json
            return cls._from_data(orjson.loads(text), oldest)

    @classmethod
    def _from_data(cls, data: Any, oldest: int) -> Manifest:
        version = data.get("schema_version", 1) if isinstance(data, dict) else None
        if isinstance(version, int) and not isinstance(version, bool):
            if version > SCHEMA_VERSION:
                raise ManifestVersionError(
                    f"the manifest was written by a newer mlspec (manifest version {version}; this mlspec reads "
                    f"up to version {SCHEMA_VERSION})", hint="upgrade mlspec (pip install -U mlspec-gitops)")
            if version < max(oldest, OLDEST_READABLE):
                raise ManifestVersionError(
                    f"the manifest was written by an older mlspec (manifest version {version}; this mlspec "
                    f"reads version {SCHEMA_VERSION})", hint="run `mlspec compile` and commit the result")
        return cls.model_validate(data)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # only ever inside JSON strings


def _json_escape(match: re.Match) -> str:
    """One character as a JSON escape (beyond U+FFFF: its UTF-16 surrogate pair)."""
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
