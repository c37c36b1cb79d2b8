"""The `project:` section of the spec language: names, state (registry, artifacts, secrets), CI settings.

State is addressed by URL. Locally the defaults keep it in the project (`.mlspec/`: a SQLite registry
and an artifact folder); CI jobs start on fresh machines, so `mlspec compile` asks for state that
outlives a job (an object store or PostgreSQL) unless `ci_state: ephemeral` says a demonstration may
lose it. The forms of each URL are checked in `mlspec.stateurls` (via `spec.semantics`); the forms
of `install` in `mlspec.installs`, here, so its JSON Schema description and its check stay together.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from mlspec import installs
from mlspec.spec.v1.argo import Argo
from mlspec.spec.v1.base import Description, Strict
from mlspec.spec.v1.compute import Compute
from mlspec.spec.v1.images import IMAGE_HINT, pinned_image

SECRET_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
# names a generated job sets itself, or that would change how its shell, Python or loader behave
RESERVED_NAMES = frozenset({"GH_TOKEN", "GITHUB_TOKEN", "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CI"})
RESERVED_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_", "MLSPEC_", "PYTHON", "LD_")


def secret_name_problem(name: str) -> str | None:
    """Why `name` cannot be a secret passed to generated jobs as an environment variable, or None."""
    if not SECRET_NAME.match(name):
        return "is not an upper-case environment variable name ([A-Z_][A-Z0-9_]*, at most 64 characters)"
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        return ("is reserved (GitHub's own variables and tokens, mlspec's MLSPEC_*, or one that changes how "
                "the job runs)")
    return None


def _secret_name(name: str) -> str:
    problem = secret_name_problem(name)
    if problem is not None:
        raise PydanticCustomError("mls_secret", f"secret '{name}' {problem}", {
            "hint": "list the names of repository secrets, e.g. [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]",
            "code": "MLS219", "part": "value"})
    return name


SecretName = Annotated[str, AfterValidator(_secret_name)]


class Registry(Strict):
    """Where model versions, aliases and lineage are recorded."""

    uri: str = Field("sqlite:///.mlspec/registry.db", min_length=1, max_length=500, description=(
        "Where the registry lives. A SQLAlchemy URL: SQLite (a file relative to the project, the default; "
        "local use) or PostgreSQL (passwords only as ${env:VAR}). Or an object store that every CI job can "
        "reach: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX (no credentials in the URL: list "
        "their variables in project.secrets), or file:///ABSOLUTE/PATH on a shared disk. Or an MLflow model "
        "registry (needs mlspec-gitops[mlflow]): mlflow+https://HOST[:PORT][/PATH] (a tracking server; its token "
        "comes from MLFLOW_TRACKING_TOKEN), mlflow+sqlite:///relative.db (MLflow's own store in a file, no "
        "server) or mlflow+databricks (untested); each model is a registered model, champion and challenger are "
        "its aliases."),
        examples=["s3://acme-ml/mlspec", "postgresql://mlspec:${env:PGPASSWORD}@db:5432/mlspec",
                  "sqlite:///.mlspec/registry.db", "mlflow+https://mlflow.acme.internal"])


class Artifacts(Strict):
    """Where trained model files are stored (content-addressed by sha256)."""

    uri: str | None = Field(None, min_length=1, max_length=500, description=(
        "Where model artifacts are stored: a folder relative to the project, or s3://, gs://, az:// or file:/// "
        "URL. By default beside an object-store or file:// registry (REGISTRY/artifacts), else .mlspec/artifacts "
        "(with a PostgreSQL registry the artifacts are also kept in the database, so a folder is only a cache; with "
        "an MLflow registry MLflow stores them, and this can only be the project folder where candidates wait)."),
        examples=["s3://acme-ml/mlspec/artifacts", ".mlspec/artifacts"])


def _image_by_digest(value: str) -> str:
    return pinned_image(value, "base image")


class Serve(Strict):
    """How `mlspec compile` packages `mlspec serve` for deployment."""

    dockerfile: bool = Field(False, description=(
        "Generate generated/Dockerfile.serve: an image that runs `mlspec serve` for `models` on `port` as a "
        "non-root user, with mlspec installed as `project.install` says (plus the serve extra, pinned by "
        "generated/constraints.txt) and the specs and generated files copied in. Build it from the repository "
        "root: docker build -f generated/Dockerfile.serve ."))
    base_image: Annotated[str, AfterValidator(_image_by_digest)] | None = Field(
        None, max_length=400, description=(
            "The image the serving image starts from, pinned by digest (NAME[:TAG]@sha256:<64 hex digits>), so a "
            "build never picks up a different base. A Python image whose version matches project.python; "
            "required when `dockerfile` is true."),
        examples=["python:3.11-slim@sha256:" + "0" * 64])
    models: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]] = Field(
        default_factory=list, max_length=100, description=(
            "The models the image serves (their champions). Empty: every model of the project."),
        examples=[["fraud_gbm"]])
    port: int = Field(8080, ge=1, le=65535, description="The port the server listens on inside the container.")
    workers: int = Field(1, ge=1, le=64, description=(
        "Worker processes (`mlspec serve --workers`); each loads the models and pins one BLAS/OpenMP thread."))

    @field_validator("models")
    @classmethod
    def _models_once(cls, value: list[str]) -> list[str]:
        return _listed_once(value, "model", "mls_serve", "MLS200")

    @model_validator(mode="after")
    def _base_for_dockerfile(self) -> Serve:
        if self.dockerfile and self.base_image is None:
            raise PydanticCustomError("mls_image", "a serving Dockerfile needs serve.base_image, pinned by digest", {
                "hint": IMAGE_HINT, "code": "MLS225", "part": "value", "field": "dockerfile"})
        return self


class Project(Strict):
    """Settings for the whole project. Exactly one file under specs/ holds this section."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$", description=(
        "Project name: lowercase letters, digits, '-' and '_', starting with a letter."),
        examples=["fraud-detection"])
    description: Description
    registry: Registry = Field(default_factory=Registry, description="The model registry.")
    artifacts: Artifacts = Field(default_factory=Artifacts, description="The artifact store.")
    tracking: Literal["mlflow"] | None = Field(None, description=(
        "Mirror every training run to an experiment tracker: mlflow records each run of every model "
        "(parameters, metrics on the train and test splits, cross-validation results, each search trial as a "
        "child run, tags for the model's config hash, the data's sha256 and the git commit) in the MLflow "
        "experiment mlspec/<project name>. The server is the registry's when project.registry.uri is an MLflow "
        "registry, else the one MLFLOW_TRACKING_URI names (in CI: the repository secret of that name; "
        "MLFLOW_TRACKING_TOKEN is passed too). Any registry backend works. A run that cannot be mirrored "
        "says so and still succeeds: the registry, not the tracker, is the record. Leave out for no tracking."),
        examples=["mlflow"])
    secrets: list[SecretName] = Field(default_factory=list, max_length=50, description=(
        "Names of the secrets that every generated job touching state (plan, train, gate, promote, record, "
        "monitor, the pull request's gate report) receives as environment variables of the same name: the "
        "object store's or database's credentials and settings, e.g. [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_REGION]. Jobs that write state take them from the GitHub Environment `state_environment` (or the "
        "gate's approval environment): the read-write credential; the others from the repository secrets: a "
        "read-only one. Upper-case names; GitHub's own (GITHUB_*, ACTIONS_*, RUNNER_*) are refused."),
        examples=[["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]])
    ci_state: Literal["durable", "ephemeral"] = Field("durable", description=(
        "durable (the default): `mlspec compile` refuses a registry or artifact store that a CI job loses when "
        "it ends (a SQLite file, a project folder), because the generated main, retrain and monitor workflows "
        "need the models registered before. ephemeral: accept them, for demonstrations only; every model "
        "registered in CI is then lost when its job ends."))
    default_branch: str = Field("main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$",
                                description=(
        "The branch that holds production: generated workflows train and release on pushes to it, check "
        "pull requests into it, and a monitor's alert dispatches retraining on it. A plain branch name "
        "(letters, digits, '.', '_', '-', '/'; no wildcards)."), examples=["main", "master", "release/ml"])
    state_environment: str = Field("mlspec-state", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description=(
        "The GitHub Environment whose secrets hold the read-write state credential (the names in `secrets`). "
        "The generated jobs that write state on the default branch (gate, promote without approval, "
        "recording a successful run) run in it; every other job, pull requests included, gets the repository "
        "secrets of the same names, which should hold a read-only credential. Restrict the environment's "
        "deployment branches to the default branch so no other branch reaches the write credential. A gate's "
        "`approval.environment` must hold the write credential too. Until the environment has secrets, "
        "its jobs fall back to the repository secrets (one credential everywhere)."),
        examples=["mlspec-state", "ml-registry-write"])
    python: str = Field("3.11", pattern=r"^3\.(1[1-9]|[2-9][0-9])$", description=(
        "Python version for generated CI jobs: 3.11 or later, quoted (\"3.12\"; unquoted 3.10 would read as 3.1)."),
        examples=["3.11", "3.12"])
    runner: str = Field("ubuntu-24.04", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                        description="Default GitHub Actions runner label for generated jobs.")
    timeout_minutes: int = Field(60, ge=1, le=360, description="Default time limit of a generated CI job.")
    install: str | None = Field(None, min_length=1, max_length=300, description=(
        f"What generated CI jobs install with pip. By default this mlspec version, pinned "
        f"(\"{installs.DIST}==X.Y.Z\"). Otherwise one of: an exact pin \"{installs.DIST}==X.Y.Z\" (with extras: "
        f"\"{installs.DIST}[postgres]==X.Y.Z\"); a requirements file in the repository whose every line is hashed "
        "(\"requirements/mlspec.txt\", installed with --require-hashes by every job, so it locks "
        f"{installs.DIST}[runtime] and the extras the project needs); a git URL pinned to a full commit "
        "(\"git+https://github.com/OWNER/REPO@<40-hex SHA>\"); or a path in the repository (\".\", \"./sub\", "
        "\".[extras]\"). Jobs that train, gate, promote or monitor add the runtime extra and the extras the spec "
        "needs (postgres, objectstore); all jobs but the lock file's install with -c generated/constraints.txt."),
        examples=[f"{installs.DIST}==0.1.0", "requirements/mlspec.txt", "."])
    compute: Compute | None = Field(None, description=(
        "Where every model's search and cross-validation run unless the model says otherwise (its own compute "
        "wins as a whole): {backend: dask, address: ${env:DASK_SCHEDULER_ADDRESS}} for a Dask cluster, needing "
        "mlspec-gitops[dask] (see README, Training on a Dask cluster). Left out: local."),
        examples=[{"backend": "dask", "address": "${env:DASK_SCHEDULER_ADDRESS}"}])
    seed: int = Field(42, ge=0, le=2**32 - 1, description=(
        "Random seed injected into splits and estimators, so identical inputs give identical models."))
    serve: Serve | None = Field(None, description=(
        "Deployment of `mlspec serve`: with `dockerfile: true`, `mlspec compile` writes "
        "generated/Dockerfile.serve (see README, Serving). Leave out to generate nothing for serving."))
    argo: Argo | None = Field(None, description=(
        "The Argo Workflows target: with it, `mlspec compile` also writes generated/argo/, a WorkflowTemplate of "
        "the lifecycle (check, train, gate, approve, promote; each step `mlspec node ...` in `image`) and a "
        "CronWorkflow per monitor (see README, Argo Workflows). The GitHub workflows are written either way. "
        "Leave out to generate nothing for Argo."))

    @field_validator("install")
    @classmethod
    def _install_form(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                installs.parse(value)
            except installs.InstallError as exc:
                raise PydanticCustomError("mls_install", f"install {exc.message}",
                                          {"hint": exc.hint, "code": "MLS218", "part": "value"}) from None
        return value

    @field_validator("default_branch")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        # what git refuses in a branch name, beyond the pattern's characters
        if ".." in value or "//" in value or value.endswith(("/", ".", ".lock")) or "/." in value:
            raise PydanticCustomError("mls_branch", f"'{value}' is not a valid git branch name", {
                "hint": "write the branch as git shows it, e.g. main or release/ml", "part": "value"})
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets_once(cls, value: list[str]) -> list[str]:
        return _listed_once(value, "secret", "mls_secret", "MLS219")


def _listed_once(value: list[str], noun: str, error: str, code: str) -> list[str]:
    """`value` unchanged, or the finding for the first name listed a second time (pointing at that entry)."""
    for i, name in enumerate(value):
        if name in value[:i]:
            raise PydanticCustomError(error, f"{noun} '{name}' is listed twice", {
                "hint": f"list each {noun} once", "code": code, "part": "value", "field": i})
    return value
