"""The building blocks of generated jobs: the job mapping, setup steps, secrets, artifacts, gate jobs.

Security invariants (the spec is untrusted; these jobs run on main with secrets):
- each job gets only the permissions it needs, with the reason beside every one beyond reading;
- every action pinned by full SHA from `pins.PINS`; checkout never persists credentials;
- no `${{ }}` inside `run:`; values reach scripts through `env:`. Spec text never appears inside an
  expression or a script: jobs run generated scripts by file name (names are strict identifiers),
  and everything else the scripts need comes from `generated/manifest.json`;
- `timeout-minutes` on every job.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

from mlspec import stateurls
from mlspec.emit import CONSTRAINTS_PATH
from mlspec.emit.pins import uses
from mlspec.emit.yamlout import Commented
from mlspec.manifest import GateNode, Manifest, ModelNode

_ENV_REF = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]{0,63})\}")
READ = {"contents": "read"}
# every permission beyond reading the repository, with the reason a reviewer reads beside it
PERMISSION_REASONS = {
    ("issues", "write"): "open or update the monitor's issue",
    ("actions", "write"): "dispatch the retrain workflow",
    ("pull-requests", "write"): "post the report comment",
    ("actions", "read"): "download the report artifact of the pull request's run",
    ("issues", "read"): "find the monitor's issue",
    ("pull-requests", "read"): "read the pull request",
}
SETUP_MINUTES = 15


@functools.lru_cache(maxsize=1024)
def _env_names(uri: str) -> tuple[str, ...]:
    return tuple(_ENV_REF.findall(uri))


def _secret_names(uris: list[str | None]) -> list[str]:
    return sorted({name for uri in uris for name in _env_names(uri or "")})


MLFLOW_TOKEN = "MLFLOW_TRACKING_TOKEN"  # noqa: S105 (a secret's name, not its value)
MLFLOW_URI = "MLFLOW_TRACKING_URI"


def registry_secrets(manifest: Manifest) -> list[str]:
    """Environment variables a job touching state needs (mapped from repository secrets of the same name):
    those the registry URL names as ${env:VAR}, the project's `secrets`, and an MLflow server's token (MLflow
    reads MLFLOW_TRACKING_TOKEN itself; the server's address is the spec's)."""
    mlflow = [MLFLOW_TOKEN] if _mlflow_server(manifest.project.registry_uri) else []
    return sorted({*_secret_names([manifest.project.registry_uri]), *manifest.project.secrets, *mlflow})


def _mlflow_server(uri: str) -> bool:
    return uri.startswith(("mlflow+http://", "mlflow+https://"))


def tracking_secrets(manifest: Manifest) -> list[str]:
    """What mirroring training runs needs besides the registry's secrets: with `project.tracking: mlflow` and a
    registry that is not an MLflow server, the tracking server's address and token (MLFLOW_TRACKING_URI and
    MLFLOW_TRACKING_TOKEN, repository secrets: read-only ones for the registry, allowed to write the
    experiment)."""
    if manifest.project.tracking != "mlflow" or _mlflow_server(manifest.project.registry_uri):
        return []
    return [MLFLOW_TOKEN, MLFLOW_URI]


def source_secrets(manifest: Manifest, sources: list[str]) -> list[str]:
    """Environment variables the named SQL sources need."""
    return _secret_names([manifest.source(s).uri for s in sources])


def compute_secrets(model: ModelNode) -> list[str]:
    """The environment variable a model's Dask scheduler address names (`${env:NAME}`), if it names one: the
    address then reaches the job only as the repository secret NAME, through `env:`, never the spec's text."""
    address = model.compute.address if model.compute is not None else None
    return _secret_names([address]) if address else []


def train_secrets(manifest: Manifest, model: ModelNode) -> list[str]:
    """What a model's train job receives: the state's secrets, its source's, the tracker's and its cluster's."""
    return sorted({*registry_secrets(manifest), *source_secrets(manifest, [model.source]),
                   *tracking_secrets(manifest), *compute_secrets(model)})


def secrets_env(names: list[str]) -> dict[str, str]:
    """Step `env:` entries mapping each name to the repository (or environment) secret of that name."""
    # names are validated as [A-Z_][A-Z0-9_]* identifiers; the bracket form keeps them string literals
    return {name: "${{ secrets['" + name + "'] }}" for name in names}


def setup(manifest: Manifest, *, runtime: bool = False, state: bool = False, cache: bool = False) -> list[dict]:
    """Check out, set up Python, install mlspec: the light package, with `runtime` its runtime extra too, or
    with `state` only what reaching the registry needs (main's plan and record jobs).

    `cache` restores and saves pip's download cache (setup-python's, keyed by the constraints or lock
    file). Only jobs that train ask for it: they install the heavy runtime on every model change. Jobs
    that register or promote models (gate, promote) or act on alerts (monitor) release something, so
    they never restore a cache: nothing another job left in one (pip does not check hashes of cached
    wheels without a lock) can reach the code that writes the registry with its credentials. zizmor's
    cache-poisoning audit asks the same of workflows triggered by releases or tags; it does not flag
    ours (pushes, schedules, dispatches), so this is a choice, not a finding. Light jobs (validate,
    plan, report, comment) install a few small wheels and do not cache: they would share the training
    jobs' key, and one saving first would leave the runtime out of the cache.
    """
    install = manifest.project.install
    package = install.runtime if runtime else (install.state or install.light) if state else install.light
    name = "Install mlspec and its runtime" if runtime else "Install mlspec and its state drivers" if state \
        else "Install mlspec"
    return list(_setup_steps(manifest.project.python, install.form, package, name, cache))


@functools.lru_cache(maxsize=32)
def _setup_steps(python: str, form: str, package: str, name: str, cache: bool) -> tuple[dict, ...]:
    # the same three steps open almost every job: built once (never changed afterwards)
    if form == "lock":  # a hashed requirements file is the whole environment: no other constraints
        locked = package
        install = {"name": name, "env": {"MLSPEC_REQUIREMENTS": package},
                   "run": 'python -m pip install --require-hashes -r "$MLSPEC_REQUIREMENTS"'}
    elif form == "git":  # `NAME[extras] @ URL` in two variables, so each is one word (YAML linters fold none)
        locked = CONSTRAINTS_PATH
        name_part, url = package.split(" @ ", 1)
        install = {"name": name, "env": {"MLSPEC_PACKAGE": name_part, "MLSPEC_SOURCE": url},
                   "run": f'python -m pip install -c {CONSTRAINTS_PATH} "$MLSPEC_PACKAGE @ $MLSPEC_SOURCE"'}
    else:
        locked = CONSTRAINTS_PATH
        install = {"name": name, "env": {"MLSPEC_PACKAGE": package},
                   "run": f'python -m pip install -c {CONSTRAINTS_PATH} "$MLSPEC_PACKAGE"'}
    python_with: dict = {"python-version": python}
    if cache:
        python_with.update({"cache": "pip", "cache-dependency-path": locked})
    return (
        {"name": "Check out the repository", "uses": uses("actions/checkout"), "with": {"persist-credentials": False}},
        {"name": "Set up Python", "uses": uses("actions/setup-python"), "with": python_with},
        install,
    )


def script(kind: str, name: str) -> str:
    """The generated script of a node (names are strict identifiers)."""
    return f"generated/{kind}_{name}.py"


def job(name: str, runner: str, minutes: int, steps: list[dict], *, needs: list[str] | None = None,
        permissions: dict | None = None, environment: str | None = None, condition: str | Commented | None = None,
        concurrency: str | None = None, outputs: dict | None = None) -> dict:
    """A job mapping, its keys in the order reviewers read them; `contents: read` unless `permissions` say."""
    out: dict = {"name": name}
    if needs:
        out["needs"] = needs
    if condition:
        out["if"] = condition
    out["runs-on"] = runner
    if environment:
        out["environment"] = environment
    if concurrency:
        out["concurrency"] = {"group": concurrency, "cancel-in-progress": False}
    if outputs:
        out["outputs"] = outputs
    out["timeout-minutes"] = minutes
    out["permissions"] = {scope: Commented(level, PERMISSION_REASONS[scope, level])
                          if (scope, level) in PERMISSION_REASONS else level
                          for scope, level in (permissions if permissions is not None else READ).items()}
    out["steps"] = steps
    return out


def with_condition(document: dict, condition: str) -> dict:
    """The job `document` with an `if:` (placed where `job` puts it, after `needs`)."""
    out = {}
    for key, value in document.items():
        out[key] = value
        if key == "needs":
            out["if"] = condition
    return out


def validate_job(manifest: Manifest, *, first: Sequence[dict] = (), outputs: dict | None = None) -> dict:
    """Validate the specs and check the generated files are current; `first` runs before (after the install)."""
    steps = [*setup(manifest), *first,
             {"name": "Validate specs", "run": "mlspec validate --output-format github"},
             {"name": "Check generated files are current", "run": "mlspec compile --check"}]
    return job("Validate specs", manifest.project.runner, SETUP_MINUTES, steps, outputs=outputs)


def upload(name: str, paths: list[str], missing: str = "error") -> dict:
    """Upload `paths` as the artifact `name`, kept 14 days."""
    return {"name": "Upload " + name, "uses": uses("actions/upload-artifact"),
            "with": {"name": name, "path": "\n".join(paths), "if-no-files-found": missing,
                     "include-hidden-files": True, "retention-days": 14}}


def download(name: str) -> dict:
    """Download the artifact `name` into the repository's folder."""
    return {"name": "Download " + name, "uses": uses("actions/download-artifact"),
            "with": {"name": name, "path": "."}}


def candidate_files(manifest: Manifest, model: str) -> list[str]:
    """What a train job hands to the gate jobs: the manifest, the candidate's record, its model file."""
    # generated/manifest.json makes the repository root the paths' common folder, so downloading the
    # artifact into "." puts every file back where the gate job expects it. The candidate's model file
    # waits in a project folder (the local store, or the cache of a remote one); a file:// store is a
    # folder every job sees, so nothing of it travels.
    files = ["generated/manifest.json", f".mlspec/candidates/{model}.json"]
    folder = stateurls.candidate_folder(manifest.project.artifacts_uri)
    return files if folder is None else [*files, f"{folder}/sha256/"]


def gates_of(manifest: Manifest, model: str) -> list[GateNode]:
    """The gates of `model`, in id order."""
    # computed once per manifest: scanning every node per model made large projects quadratic
    index = _GATE_INDEX.get(id(manifest))
    if index is None or index[0] is not manifest:
        by_model: dict[str, list[GateNode]] = {}
        for gate in manifest.of_kind("gate"):
            by_model.setdefault(gate.model, []).append(gate)
        index = (manifest, by_model)
        _GATE_INDEX.clear()
        _GATE_INDEX[id(manifest)] = index
    return index[1].get(model, [])


_GATE_INDEX: dict[int, tuple[Manifest, dict[str, list[GateNode]]]] = {}


def gate_jobs(manifest: Manifest, ids: tuple[str, str], *, gate: str, model: str, runner: str,
              approval: str | None, needs: list[str], command: str, step_env: dict[str, str] | None = None,
              promote_needs: tuple[str, ...] = ()) -> dict[str, dict]:
    """A gate's job (it registers, and promotes when the gate asks for no approval) and, with `approval`,
    the promote job that waits in that environment. `ids` are the two job ids; `gate` and `model` are
    names, or expressions that give them (the retrain workflow's); `command` runs the gate's script,
    `step_env` adds to its steps' environment; `promote_needs` are needed by the promote job too."""
    env = {**secrets_env(registry_secrets(manifest)), **(step_env or {})}
    evaluate: dict[str, Any] = {"name": "Evaluate the gate and register", "id": "gate", "run": command}
    if env:
        evaluate["env"] = env
    steps = [*setup(manifest, runtime=True), download(f"candidate-{model}"), evaluate]
    gate_id, promote_id = ids
    # the gate registers (and, without approval, promotes): it writes state, so it runs in the environment
    # that holds the read-write credential. Main's and the retrain workflow's gates write the same aliases:
    # one queue per model, so a gate compares against the champion the previous gate left (promotion is
    # compare-and-set regardless)
    jobs = {gate_id: job(f"Gate {gate}", runner, SETUP_MINUTES, steps, needs=needs,
                         environment=manifest.project.state_environment, concurrency=f"mlspec-model-{model}",
                         outputs={"version": "${{ steps.gate.outputs.version }}",
                                  "promote": "${{ steps.gate.outputs.promote }}"} if approval else None)}
    if approval:
        # The version comes from the gate job's outputs, which live as long as the run: an approval may come
        # after the candidate's files (kept 14 days) expire, and promoting needs only the registry. No
        # concurrency group: a pending approval may wait for days and must not hold back (or, as GitHub
        # cancels all but one pending run per group, cancel) later runs; compare-and-set keeps it safe.
        version = "${{ needs." + gate_id + ".outputs.version }}"
        promote = {"name": "Promote to champion", "env": {**env, "VERSION": version},
                   "run": f'{command} promote --version "$VERSION"'}
        jobs[promote_id] = job(f"Promote {model} (approval: {approval})", runner, SETUP_MINUTES,
                               [*setup(manifest, state=True), promote], needs=[*promote_needs, gate_id],
                               environment=approval, condition=f"needs.{gate_id}.outputs.promote == 'true'")
    return jobs
