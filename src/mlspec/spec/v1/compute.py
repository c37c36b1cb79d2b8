"""`compute:`: where a model's hyperparameter search and cross-validation run (on a model, or the project's default).

The address of a Dask scheduler reaches a network connection in the training process, and, written as
`${env:NAME}`, the name of a repository secret that generated train jobs receive. So it is held to one of
two forms: a `tcp://` or `tls://` address of a host and port (nothing that a shell, YAML or `${{ }}` could
read as more), or one `${env:NAME}` reference whose value is only read, and checked, at run time.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from mlspec.spec.v1.base import Strict

# tcp://HOST:PORT or tls://HOST:PORT: a host name, an IPv4 address or a bracketed IPv6 address; nothing after the port
SCHEDULER_ADDRESS = re.compile(r"(?:tcp|tls)://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|"
                               r"\[[0-9A-Fa-f:.]{2,45}\]):(?P<port>[0-9]{1,5})")
ENV_REFERENCE = re.compile(r"\$\{env:(?P<name>[A-Z_][A-Z0-9_]{0,63})\}")
ADDRESS_HINT = ("write the scheduler's address as tcp://HOST:PORT (tls://HOST:PORT with TLS), e.g. "
                "tcp://10.0.0.5:8786, or ${env:DASK_SCHEDULER_ADDRESS} to read it at run time (in CI: a repository "
                "secret of that name)")


def address_problem(value: str) -> tuple[str, str, str] | None:
    """Why `value` is not a scheduler address mlspec accepts, as (code, message, hint), or None.

    Shared with the check of the address a `${env:NAME}` reference holds at run time (mlspec.runtime.cluster
    repeats the pattern, since the runtime never imports the spec modules)."""
    from mlspec.spec.v1.project import secret_name_problem

    reference = ENV_REFERENCE.fullmatch(value)
    if reference is not None:
        problem = secret_name_problem(reference["name"])
        if problem is not None:
            return ("MLS219", f"${{env:{reference['name']}}}: the variable {problem}",
                    "name a repository secret of your own, e.g. ${env:DASK_SCHEDULER_ADDRESS}")
        return None
    match = SCHEDULER_ADDRESS.fullmatch(value)
    if match is None:
        shown = value[:100].encode("ascii", "backslashreplace").decode()
        return ("MLS226", f"'{shown}' is not a Dask scheduler address", ADDRESS_HINT)
    if not 1 <= int(match["port"]) <= 65535:
        return ("MLS226", f"the port of '{value}' is not between 1 and 65535", ADDRESS_HINT)
    return None


class Compute(Strict):
    """Where a model's hyperparameter search and cross-validation run. The final fit always runs in mlspec's
    own process, so the model artifact is the same byte for byte wherever the search ran."""

    backend: Literal["local", "dask"] = Field("local", description=(
        "local (the default): in mlspec's own process. dask: through scikit-learn's joblib backend on a Dask "
        "cluster (needs mlspec-gitops[dask]); each candidate and fold is a task, the best parameters are then "
        "fitted locally. Results (best parameters, cross-validation scores, the artifact's sha256) equal a local "
        "run's with the same seed."), examples=["dask"])
    address: str | None = Field(None, min_length=1, max_length=300, description=(
        "With backend dask: the scheduler, tcp://HOST:PORT or tls://HOST:PORT, or ${env:NAME} to read it from the "
        "environment at run time (generated train jobs then receive the repository secret NAME). Its workers "
        "need the same mlspec, scikit-learn and Python versions as the training. Left out: mlspec starts a local "
        "cluster of worker processes, one per core, for the training and stops it afterwards. A tls:// scheduler "
        "takes its certificates from Dask's configuration (DASK_DISTRIBUTED__COMM__TLS__* variables)."),
        examples=["${env:DASK_SCHEDULER_ADDRESS}", "tcp://10.0.0.5:8786"],
        json_schema_extra={"pattern": f"^(?:{SCHEDULER_ADDRESS.pattern.replace('(?P<port>', '(')}|"
                                      f"{ENV_REFERENCE.pattern.replace('(?P<name>', '(')})$"})

    @field_validator("address")
    @classmethod
    def _address_form(cls, value: str | None) -> str | None:
        problem = None if value is None else address_problem(value)
        if problem is not None:
            code, message, hint = problem
            raise PydanticCustomError("mls_compute", message, {"hint": hint, "code": code, "part": "value"})
        return value

    @model_validator(mode="after")
    def _address_for_dask(self) -> Compute:
        if self.address is not None and self.backend != "dask":
            raise PydanticCustomError("mls_compute", "an address is only for backend: dask", {
                "hint": "add backend: dask, or remove the address", "code": "MLS107", "part": "value",
                "field": "address"})
        return self
