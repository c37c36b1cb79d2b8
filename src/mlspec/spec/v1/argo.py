"""`project.argo`: the Argo Workflows target. Present, it makes `mlspec compile` also write generated/argo/.

Every value here reaches a Kubernetes manifest, where Argo substitutes `{{...}}` in most fields, so each is
held to characters that cannot open a template, a quote or a new line: an image pinned by digest, a git
URL without credentials, DNS names, relative paths and resource quantities.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator
from pydantic_core import PydanticCustomError

from mlspec.spec.v1.base import Strict
from mlspec.spec.v1.images import pinned_image

# https://HOST[:PORT]/PATH, ssh://[USER@]HOST[:PORT]/PATH or USER@HOST:PATH; no credentials, query, spaces,
# quotes, braces or `$`
GIT_URL = re.compile(r"(?:https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/|ssh://(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+"
                     r"(?::[0-9]{1,5})?/|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[A-Za-z0-9._~/-]+")
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                           r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")
FOLDER = re.compile(r"\.|[A-Za-z0-9_][A-Za-z0-9._-]*(?:/[A-Za-z0-9_][A-Za-z0-9._-]*)*")  # no `..`, no leading `/`
QUANTITY = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?(?:m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
RUNNER_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as project.runner

_FORMS = {  # field: (pattern, what it is not, the hint)
    "repository": (GIT_URL, "a git URL without credentials", "write https://HOST/PATH, ssh://[USER@]HOST[:PORT]/PATH "
                   "or USER@HOST:PATH, without a password or token (name a Kubernetes Secret in argo.git_secret)"),
    "folder": (FOLDER, "a folder inside the repository", "write the project's folder relative to the repository's "
               "top, e.g. examples/fraud (or . for the top itself)"),
    "namespace": (DNS_LABEL, "a Kubernetes namespace", "lowercase letters, digits and '-', at most 63 characters"),
    "name": (DNS_SUBDOMAIN, "a Kubernetes object name", "lowercase letters, digits, '-' and '.', starting and ending "
             "with a letter or digit"),
    "quantity": (QUANTITY, "a Kubernetes quantity", "write a number of cores (2, \"1.5\", \"500m\") or an amount of "
                 "memory (\"512Mi\", \"4Gi\")"),
}


def _shown(value: str) -> str:
    """A spec value quoted in a message: on one line, ASCII, at most 100 characters."""
    return value[:100].encode("ascii", "backslashreplace").decode().replace("\n", "\\n").replace("\r", "\\r")


def _form(kind: str, noun: str):
    """A validator holding a value to `_FORMS[kind]`, its finding calling the value `noun`."""
    pattern, what, hint = _FORMS[kind]

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise PydanticCustomError("mls_argo", f"{noun} '{_shown(value)}' is not {what}", {
                "hint": hint, "code": "MLS108", "part": "value"})
        return value
    return AfterValidator(check)


def _argo_image(value: str) -> str:
    return pinned_image(value, "argo.image", own_hint=True)


class Requests(Strict):
    """What a step's pod asks Kubernetes for (`resources.requests`)."""

    cpu: str | int = Field("1", description=(
        "CPU cores: a number (2) or a Kubernetes quantity (\"500m\", \"1.5\")."), examples=[2, "500m"])
    memory: Annotated[str, _form("quantity", "memory")] = Field("2Gi", max_length=20, description=(
        "Memory: a Kubernetes quantity (\"512Mi\", \"4Gi\")."), examples=["4Gi"])

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 1024:
            raise PydanticCustomError("mls_argo", f"cpu {value} is not between 1 and 1024 cores", {
                "hint": "write a fraction of a core as a quantity: \"500m\"", "code": "MLS105", "part": "value"})
        if isinstance(value, str) and not QUANTITY.fullmatch(value):
            _, what, hint = _FORMS["quantity"]
            raise PydanticCustomError("mls_argo", f"cpu '{_shown(value)}' is not {what}", {
                "hint": hint, "code": "MLS108", "part": "value"})
        return value


class Argo(Strict):
    """The Argo Workflows target (Argo 3.6 or later): a WorkflowTemplate of the lifecycle, a CronWorkflow per
    monitor, written to generated/argo/ by `mlspec compile`. See README, "Argo Workflows"."""

    image: Annotated[str, AfterValidator(_argo_image)] = Field(max_length=400, description=(
        "The image every step runs in, pinned by digest (NAME[:TAG]@sha256:<64 hex digits>): Python with mlspec "
        "installed as `project.install` says, with the runtime extra and the extras the project needs (what the "
        "generated CI jobs install). It holds no project files: each step checks out `repository`."),
        examples=["ghcr.io/acme/mlspec-runtime:0.1.0@sha256:" + "0" * 64])
    repository: Annotated[str, _form("repository", "argo.repository")] = Field(max_length=300, description=(
        "The git repository each step checks out (Argo's git artifact) at the workflow's `revision` parameter "
        "(default: project.default_branch; the CronWorkflows run the default branch). No credentials in the URL: "
        "name a Secret in `git_secret`."), examples=["https://github.com/acme/ml.git", "git@github.com:acme/ml.git"])
    folder: Annotated[str, _form("folder", "argo.folder")] = Field(".", max_length=200, description=(
        "The project's folder inside the repository (the one holding specs/), relative to its top."),
        examples=[".", "examples/fraud"])
    namespace: Annotated[str, _form("namespace", "argo.namespace")] | None = Field(None, description=(
        "The namespace written into each manifest's metadata. Leave out to apply them to any namespace "
        "(kubectl apply -n NAMESPACE)."), examples=["ml"])
    service_account: Annotated[str, _form("name", "argo.service_account")] | None = Field(None, description=(
        "The Kubernetes service account the workflows' pods run as (Argo's default: the namespace's `default`)."),
        examples=["mlspec"])
    secret: Annotated[str, _form("name", "argo.secret")] = Field("mlspec-secrets", description=(
        "The Kubernetes Secret holding the state's credentials: one key per name in project.secrets (and per "
        "${env:VAR} of the registry's and SQL sources' URLs), passed to the steps that touch state as environment "
        "variables of the same names, through secretKeyRef."), examples=["mlspec-secrets"])
    git_secret: Annotated[str, _form("name", "argo.git_secret")] | None = Field(None, description=(
        "A Kubernetes Secret to clone a private repository with: keys `username` and `password` (a token) for an "
        "https URL, `ssh-private-key` for an ssh one. Leave out for a public repository."), examples=["git-creds"])
    requests: Requests = Field(default_factory=Requests, description=(
        "Every step's resource requests, unless `runners` lists its runner label."))
    runners: dict[str, Requests] = Field(
        default_factory=dict, max_length=50, description=(
            "Resource requests per runner label (project.runner, a model's runner): a step gets those of the "
            "label its GitHub job runs on (training, gates and monitors: their model's; the check: the "
            "project's)."), examples=[{"gpu-large": {"cpu": 8, "memory": "30Gi"}}])

    @field_validator("runners")
    @classmethod
    def _runner_labels(cls, value: dict[str, Requests]) -> dict[str, Requests]:
        for label in value:
            if not RUNNER_LABEL.fullmatch(label):
                raise PydanticCustomError("mls_argo", f"argo.runners: '{_shown(label)}' is not a runner label", {
                    "hint": "runner labels use letters, digits, '.', '_' and '-' (as project.runner and models' "
                            "runner)", "code": "MLS108", "part": "key", "field": label})
        return value
