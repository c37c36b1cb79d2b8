"""Semantic checks of the project section: the registry's and the artifact store's URLs, the served models.

The forms come from `mlspec.stateurls`; SQL URLs also get `check_uri`'s credential checks and
folders `check_relative_path`'s. Whether CI could keep that state is not checked here but by
`mlspec compile` (`spec.check_ci`): a laptop's SQLite registry is valid.
"""

from __future__ import annotations

from mlspec import stateurls
from mlspec.diagnostics import Diagnostic, Pointer
from mlspec.spec.check_common import ref
from mlspec.spec.check_data import check_relative_path, check_uri
from mlspec.spec.merge import Entry, SpecSet


def check_project(entry: Entry, diags: list[Diagnostic]) -> None:
    """Check the registry and artifact-store URLs of the project section."""
    project, file = entry.spec, entry.file
    where = ("project", "registry", "uri")
    registry = project.registry.uri
    problem = stateurls.registry_problem(registry)
    if problem is not None:
        diags.append(Diagnostic(problem.code, problem.message, Pointer(file, where), problem.hint))
    elif stateurls.is_local_mlflow(registry):
        check_relative_path(file, where, stateurls.mlflow_sqlite_path(registry), diags)
    elif not stateurls.is_store(registry) and not stateurls.is_mlflow(registry):
        check_uri(file, where, registry, diags)
    artifacts = project.artifacts.uri
    if artifacts is None:
        return
    where = ("project", "artifacts", "uri")
    if "://" not in artifacts:
        check_relative_path(file, where, artifacts, diags)
        return
    if stateurls.is_mlflow(registry):
        diags.append(Diagnostic("MLS220", "with an MLflow registry, MLflow stores the registered models", Pointer(
            file, where), "remove the artifacts line (MLflow's artifact store holds each version's files; "
            "candidates wait in .mlspec/artifacts), or name that project folder"))
        return
    problem = stateurls.artifacts_problem(artifacts)
    if problem is not None:
        diags.append(Diagnostic(problem.code, problem.message, Pointer(file, where), problem.hint))


def check_serve(spec: SpecSet, diags: list[Diagnostic]) -> None:
    """The models `project.serve` names exist."""
    serve = spec.project_entry.spec.serve
    for i, name in enumerate(serve.models if serve is not None else []):
        if name not in spec.models:
            ref(diags, Pointer(spec.project_entry.file, ("project", "serve", "models", i), "value"), "model", name,
                spec.models)
