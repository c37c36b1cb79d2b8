"""A check only `mlspec compile` runs: state the generated CI would lose when a job ends (MLS221).

Every generated job starts on a fresh machine. The main workflow registers models; the retrain and
monitor workflows, and the pull request's comparison with the champion, read what it registered. A
SQLite file or a folder in the repository (and, on GitHub-hosted runners, a file:// folder) dies with
the job, so a valid spec with local state would compile into workflows that can never work. `mlspec
validate` and `mlspec run` accept such state (it is right on a laptop); compile refuses it unless
`ci_state: ephemeral` says the workflows are a demonstration. With a PostgreSQL registry the artifacts
are kept in the database too, and an MLflow registry keeps them in MLflow's artifact store, so a local
artifact folder is only a cache there (an MLflow store in a SQLite file is local like any SQLite file).
"""

from __future__ import annotations

from mlspec import stateurls
from mlspec.diagnostics import HINT_BREAK, Diagnostic, Pointer
from mlspec.spec.merge import SpecSet

HOSTED_PREFIXES = ("ubuntu-", "windows-", "macos-")  # GitHub-hosted runner images: a new machine per job
_EXAMPLE = (HINT_BREAK + '    registry: {uri: "s3://YOUR-BUCKET/mlspec"}' + HINT_BREAK
            + "    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]" + HINT_BREAK)
_REGISTRY_HINT = ("keep the registry where every job can reach it, e.g. under project: (with your bucket, and the two "
                  "secrets set in the repository's settings)" + _EXAMPLE +
                  "or a PostgreSQL registry; for a demonstration only, ci_state: ephemeral (models registered in CI "
                  "are then lost). See `mlspec explain MLS221`")


def ci_state_problems(spec: SpecSet) -> list[Diagnostic]:
    """MLS221 for a registry or artifact store a CI job loses, unless nothing is registered (no gate, no
    monitor: CI only trains and uploads candidates) or the spec opted out; diagnostics point at the
    `registry`/`artifacts` line, or at `project:` when it is absent."""
    project, file = spec.project_entry.spec, spec.project_entry.file
    if project.ci_state == "ephemeral" or not (spec.gates or spec.monitors):
        return []
    runners = {project.runner, *(m.spec.runner for m in spec.models.values() if m.spec.runner)}
    hosted = any(r.startswith(HOSTED_PREFIXES) for r in runners)
    registry = project.registry.uri
    kind = stateurls.scheme(registry)
    diags = []
    where = (Pointer(file, ("project", "registry", "uri")) if "registry" in project.model_fields_set
             else Pointer(file, ("project",), "key"))
    if kind == "sqlite":
        what = "is a SQLite file" if "registry" in project.model_fields_set else "is not set, so it is a SQLite file"
        diags.append(Diagnostic("MLS221", f"the registry {what} in the repository: each CI job loses what it "
                                "registered when it ends", where, _REGISTRY_HINT))
    elif stateurls.is_local_mlflow(registry):
        diags.append(Diagnostic("MLS221", "the registry is an MLflow store in a SQLite file of the repository: each "
                                "CI job loses what it registered when it ends", where,
                                "point it at an MLflow server every job can reach (mlflow+https://HOST), or see "
                                "`mlspec explain MLS221`"))
    elif kind == "file" and hosted:
        diags.append(Diagnostic("MLS221", "the registry is a folder on the runner (file://): each GitHub-hosted "
                                "job loses what it registered when it ends", where, _REGISTRY_HINT))
    artifacts = project.artifacts.uri
    if artifacts is None or kind in ("postgresql", "mlflow"):
        # the default follows the registry; PostgreSQL and MLflow keep the bytes (a project folder is a cache)
        return diags
    where = Pointer(file, ("project", "artifacts", "uri"))
    beside = (registry.rstrip("/") + "/artifacts" if stateurls.is_object(registry)
              else "s3://YOUR-BUCKET/mlspec/artifacts")
    hint = ("remove the artifacts line (artifacts then go beside an object-store registry), or write a URL every "
            f"job can reach:{HINT_BREAK}    artifacts: {{uri: \"{beside}\"}}{HINT_BREAK}for a demonstration only, "
            "ci_state: ephemeral")
    if "://" not in artifacts:
        diags.append(Diagnostic("MLS221", "the artifact store is a folder in the repository: each CI job loses the "
                                "models it stored when it ends", where, hint))
    elif stateurls.is_file(artifacts) and hosted:
        diags.append(Diagnostic("MLS221", "the artifact store is a folder on the runner (file://): each "
                                "GitHub-hosted job loses the models it stored when it ends", where, hint))
    return diags
