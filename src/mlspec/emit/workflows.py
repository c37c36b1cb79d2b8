"""GitHub Actions workflows built as Python data from the manifest.

Security invariants (the spec is untrusted; these workflows run on main with secrets):
- `permissions: {}` at the top; each job gets only what it needs.
- every action pinned by full SHA from `pins.PINS`; checkout never persists credentials.
- no `${{ }}` inside `run:`; values reach scripts through `env:`. Spec text never appears inside an
  expression or a script: jobs run generated scripts by file name (names are strict identifiers),
  and everything else the scripts need comes from `generated/manifest.json`.
- `timeout-minutes` on every job, `concurrency` on every workflow, no `pull_request_target`.
"""

from __future__ import annotations

import functools
import re
import textwrap

from mlspec import stateurls
from mlspec.emit import CONSTRAINTS_PATH
from mlspec.emit.pins import uses
from mlspec.emit.yamlout import Commented
from mlspec.manifest import GateNode, Manifest, ModelNode, MonitorNode

_ENV_REF = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]{0,63})\}")
READ = {"contents": "read"}
PR_WORKFLOW_NAME = "mlspec: pull request"
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


def _secret_names(manifest: Manifest, uris: list[str]) -> list[str]:
    return sorted({name for uri in uris for name in _env_names(uri or "")})


def registry_secrets(manifest: Manifest) -> list[str]:
    """Environment variables a job touching state needs (mapped from repository secrets of the same name):
    those the registry URL names as ${env:VAR}, and the project's `secrets`."""
    return sorted({*_secret_names(manifest, [manifest.project.registry_uri]), *manifest.project.secrets})


def source_secrets(manifest: Manifest, sources: list[str]) -> list[str]:
    """Environment variables the named SQL sources need."""
    return _secret_names(manifest, [manifest.nodes[f"source.{s}"].uri for s in sources])


def _secrets_env(names: list[str]) -> dict[str, str]:
    # names are validated as [A-Z_][A-Z0-9_]* identifiers; the bracket form keeps them string literals
    return {name: "${{ secrets['" + name + "'] }}" for name in names}


def _setup(manifest: Manifest, *, runtime: bool = False, state: bool = False, cache: bool = False) -> list[dict]:
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


def _script(kind: str, name: str) -> str:
    return f"generated/{kind}_{name}.py"


def _job(name: str, runner: str, minutes: int, steps: list[dict], *, needs: list[str] | None = None,
         permissions: dict | None = None, environment: str | None = None, condition: str | None = None,
         concurrency: str | None = None, outputs: dict | None = None) -> dict:
    job: dict = {"name": name}
    if needs:
        job["needs"] = needs
    if condition:
        job["if"] = condition
    job["runs-on"] = runner
    if environment:
        job["environment"] = environment
    if concurrency:
        job["concurrency"] = {"group": concurrency, "cancel-in-progress": False}
    if outputs:
        job["outputs"] = outputs
    job["timeout-minutes"] = minutes
    job["permissions"] = {scope: Commented(level, PERMISSION_REASONS[scope, level])
                          if (scope, level) in PERMISSION_REASONS else level
                          for scope, level in (permissions if permissions is not None else READ).items()}
    job["steps"] = steps
    return job


def _validate_job(manifest: Manifest) -> dict:
    steps = [*_setup(manifest),
             {"name": "Validate specs", "run": "mlspec validate --output-format github"},
             {"name": "Check generated files are current", "run": "mlspec compile --check"}]
    return _job("Validate specs", manifest.project.runner, SETUP_MINUTES, steps)


def _upload(name: str, paths: list[str], missing: str = "error") -> dict:
    return {"name": "Upload " + name, "uses": uses("actions/upload-artifact"),
            "with": {"name": name, "path": "\n".join(paths), "if-no-files-found": missing,
                     "include-hidden-files": True, "retention-days": 14}}


def _download(name: str) -> dict:
    return {"name": "Download " + name, "uses": uses("actions/download-artifact"),
            "with": {"name": name, "path": "."}}


def _candidate_files(manifest: Manifest, model: ModelNode) -> list[str]:
    # generated/manifest.json makes the repository root the paths' common folder, so downloading the
    # artifact into "." puts every file back where the gate job expects it. The candidate's model file
    # waits in a project folder (the local store, or the cache of a remote one); a file:// store is a
    # folder every job sees, so nothing of it travels.
    files = ["generated/manifest.json", f".mlspec/candidates/{model.name}.json"]
    folder = stateurls.candidate_folder(manifest.project.artifacts_uri)
    return files if folder is None else [*files, f"{folder}/sha256/"]


def _train_job(manifest: Manifest, model: ModelNode, gates: list[GateNode], *, pr: bool) -> dict:
    env = _secrets_env(sorted({*registry_secrets(manifest), *source_secrets(manifest, [model.source])}))
    only = " --plan plan.json" if pr else ""
    train = {"name": "Check data, train and evaluate", "run": f"python {_script('model', model.name)}{only}"}
    if env:
        train["env"] = env
    steps = [*_setup(manifest, runtime=True, cache=True)]
    if pr:
        steps.append(_download("mlspec-plan"))
    steps.append(train)
    if pr:
        report_env = _secrets_env(registry_secrets(manifest))
        for gate in gates:
            step = {"name": f"Gate report ({gate.name})",
                    "run": f"python {_script('gate', gate.name)} report \\\n"
                           '  --plan plan.json --out reports --summary "$GITHUB_STEP_SUMMARY"\n'}
            if report_env:
                step["env"] = report_env
            steps.append(step)
        if gates:
            steps.append(_upload(f"gate-report-{model.name}", ["reports/"], missing="ignore"))
        needs = ["validate", "plan"]
    else:
        steps.append(_upload(f"candidate-{model.name}", _candidate_files(manifest, model)))
        needs = ["validate"]
    return _job(f"Train {model.name}", model.runner, model.timeout_minutes, steps, needs=needs)


def _model_group(model: ModelNode) -> str:
    # main's and the retrain workflow's gates write the same aliases: one queue per model, so a gate
    # compares against the champion the previous gate left (promotion is compare-and-set regardless)
    return f"mlspec-model-{model.name}"


def _plan_job(manifest: Manifest) -> dict:
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *_setup(manifest)[1:],
             {"name": "Plan against the base branch", "id": "plan", "env": {"BASE_REF": "${{ github.base_ref }}"},
              "run": 'mlspec plan --base "origin/$BASE_REF" --format md -o plan.md > /dev/null\n'
                     'mlspec plan --base "origin/$BASE_REF" --format json -o plan.json \\\n'
                     '  --github-output "$GITHUB_OUTPUT" > /dev/null\n'},
             _upload("mlspec-plan", ["plan.md", "plan.json"])]
    return _job("Plan", manifest.project.runner, SETUP_MINUTES, steps, needs=["validate"],
                outputs=_train_outputs(manifest.of_kind("model")))


def _train_outputs(models: list[ModelNode]) -> dict[str, str]:
    """The plan job's outputs: `train_<model>`, "true" when the plan trains that model."""
    return {f"train_{m.name}": "${{ steps.plan.outputs.train_" + m.name + " }}" for m in models}


def _when_planned(job: dict, model: ModelNode) -> dict:
    """`job` skipped, before it installs anything, unless the plan job trains `model`."""
    return _with_condition(job, f"needs.plan.outputs.train_{model.name} == 'true'")


def _report_job(manifest: Manifest, models: list[ModelNode]) -> dict:
    steps = [*_setup(manifest), _download("mlspec-plan"),
             {"name": "Download gate reports", "uses": uses("actions/download-artifact"),
              "with": {"pattern": "gate-report-*", "path": "reports", "merge-multiple": True}},
             {"name": "Assemble the report",
              "env": {"HEAD_SHA": "${{ github.event.pull_request.head.sha }}",
                      "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"},
              "run": 'mlspec pr-report --plan plan.md --reports reports --head-sha "$HEAD_SHA" \\\n'
                     '  --link "$RUN_URL" -o mlspec-report > /dev/null\n'
                     'cat mlspec-report/report.md >> "$GITHUB_STEP_SUMMARY"\n'},
             _upload("mlspec-report", ["mlspec-report/"])]
    needs = ["plan", *[f"train_{m.name}" for m in models]]
    return _job("Report", manifest.project.runner, SETUP_MINUTES, steps, needs=needs, condition="always()")


def _gate_jobs(manifest: Manifest, gate: GateNode, model: ModelNode, reason_env: dict | None) -> dict[str, dict]:
    env = {**_secrets_env(registry_secrets(manifest)), **(reason_env or {})}
    evaluate = {"name": "Evaluate the gate and register", "id": "gate", "run": f"python {_script('gate', gate.name)}"}
    if env:
        evaluate["env"] = env
    steps = [*_setup(manifest, runtime=True), _download(f"candidate-{model.name}"), evaluate]
    gate_job = f"gate_{gate.name}"
    # the gate registers (and, without approval, promotes): it writes state, so it runs in the environment
    # that holds the read-write credential
    jobs = {gate_job: _job(f"Gate {gate.name}", model.runner, SETUP_MINUTES, steps,
                           needs=[f"train_{model.name}"], environment=manifest.project.state_environment,
                           concurrency=_model_group(model),
                           outputs={"version": "${{ steps.gate.outputs.version }}",
                                    "promote": "${{ steps.gate.outputs.promote }}"} if gate.approval_environment
                           else None)}
    if gate.approval_environment:
        # The version comes from the gate job's outputs, which live as long as the run: an approval may come
        # after the candidate's files (kept 14 days) expire, and promoting needs only the registry. No
        # concurrency group: a pending approval may wait for days and must not hold back (or, as GitHub
        # cancels all but one pending run per group, cancel) later runs; compare-and-set keeps it safe.
        promote = {"name": "Promote to champion",
                   "env": {**env, "VERSION": "${{ needs." + gate_job + ".outputs.version }}"},
                   "run": f'python {_script("gate", gate.name)} promote --version "$VERSION"'}
        jobs[f"promote_{gate.name}"] = _job(
            f"Promote {model.name} (approval: {gate.approval_environment})", model.runner, SETUP_MINUTES,
            [*_setup(manifest, state=True), promote], needs=[gate_job], environment=gate.approval_environment,
            condition=f"needs.{gate_job}.outputs.promote == 'true'")
    return jobs


def _gates_of(manifest: Manifest, model: str) -> list[GateNode]:
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


def pull_request(manifest: Manifest) -> dict:
    """Validate, plan, train and evaluate the affected models, report; the comment is posted by pr_comment()."""
    models = manifest.of_kind("model")
    jobs = {"validate": _validate_job(manifest), "plan": _plan_job(manifest)}
    for model in models:
        jobs[f"train_{model.name}"] = _when_planned(
            _train_job(manifest, model, _gates_of(manifest, model.name), pr=True), model)
    jobs["report"] = _report_job(manifest, models)
    return {
        "name": PR_WORKFLOW_NAME,
        "on": {"pull_request": {"branches": [manifest.project.default_branch]}},
        "permissions": {},
        "concurrency": {"group": "mlspec-pr-${{ github.event.pull_request.number }}", "cancel-in-progress": True},
        "jobs": jobs,
    }


def pr_comment(manifest: Manifest) -> dict:
    """Post the PR report as one comment, from a workflow_run that never runs the pull request's code.

    Fork pull requests get a read-only token and no secrets, so their workflow cannot comment. This
    workflow runs on the default branch's code with a token that may comment; it only downloads the
    report artifact and hands it, as data, to `mlspec pr-comment`, which checks its files and size. Which
    pull request to comment on comes from the triggering run (head SHA, repository and branch, set by
    GitHub) and the API, never from the artifact, and the report must be about exactly that commit.
    """
    steps = [{"name": "Check out the default branch (never the pull request)", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False}},
             *_setup(manifest)[1:],
             {"name": "Download the report", "uses": uses("actions/download-artifact"),
              "with": {"name": "mlspec-report", "path": "mlspec-report",
                       "run-id": "${{ github.event.workflow_run.id }}", "github-token": "${{ github.token }}"}},
             {"name": "Create or update the comment",
              "env": {"GH_TOKEN": "${{ github.token }}", "REPO": "${{ github.repository }}",
                      "HEAD_SHA": "${{ github.event.workflow_run.head_sha }}",
                      "HEAD_REPO": "${{ github.event.workflow_run.head_repository.full_name }}",
                      "HEAD_BRANCH": "${{ github.event.workflow_run.head_branch }}"},
              "run": 'mlspec pr-comment --report mlspec-report --repo "$REPO" --head-sha "$HEAD_SHA" \\\n'
                     '  --head-repo "$HEAD_REPO" --head-branch "$HEAD_BRANCH"\n'}]
    job = _job("Comment on the pull request", manifest.project.runner, SETUP_MINUTES, steps,
               permissions={"actions": "read", "pull-requests": "write"},
               condition="github.event.workflow_run.event == 'pull_request'")
    return {
        "name": "mlspec: pull request comment",
        "on": {"workflow_run": Commented({"workflows": [PR_WORKFLOW_NAME], "types": ["completed"]},
                                         _WORKFLOW_RUN_NOTE)},
        "permissions": {},
        "concurrency": {"group": "mlspec-pr-comment-${{ github.event.workflow_run.id }}", "cancel-in-progress": False},
        "jobs": {"comment": job},
    }


_WORKFLOW_RUN_NOTE = ("Safe use of workflow_run: the job only downloads the report artifact as data; it never\n"
                      "checks out or runs the pull request's code (see mlspec pr-comment).\n"
                      "zizmor: ignore[dangerous-triggers]")


def _main_plan_job(manifest: Manifest, models: list[ModelNode]) -> dict:
    """Which models this push trains: the change since the last successful run (`mlspec plan --last-run`).

    A manual dispatch trains every model. The result is one job output per model, read by the job-level
    conditions of the train jobs, so an unaffected model's jobs are skipped before they install anything.
    """
    env = _secrets_env(registry_secrets(manifest))
    run = 'mlspec plan --last-run --event "$GITHUB_EVENT_NAME" --github-output "$GITHUB_OUTPUT"'
    plan = {"name": "Plan against the last successful run", "id": "plan", **({"env": env} if env else {}),
            "run": run}
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *_setup(manifest, state=True)[1:], plan]
    return _job("Plan", manifest.project.runner, SETUP_MINUTES, steps, needs=["validate"],
                outputs=_train_outputs(models))


def _record_job(manifest: Manifest, needs: list[str]) -> dict:
    """After a run whose jobs all succeeded (or were skipped), record it: the next push plans against it."""
    env = {**_secrets_env(registry_secrets(manifest)), "COMMIT": "${{ github.sha }}"}
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *_setup(manifest, state=True)[1:],
             {"name": "Record this run", "env": env, "run": 'mlspec record-run --commit "$COMMIT"'}]
    return _job("Record the run", manifest.project.runner, SETUP_MINUTES, steps, needs=needs,
                environment=manifest.project.state_environment,
                # a job GitHub cancelled (a queued gate superseded in its group) did not run: not a success
                condition="!cancelled() && !contains(needs.*.result, 'failure') "
                          "&& !contains(needs.*.result, 'cancelled')")


def main(manifest: Manifest) -> dict:
    """On the default branch: plan against the last successful run, train what changed, gate, register,
    promote (behind the gate's Environment when it asks for approval), and record the run."""
    models = manifest.of_kind("model")
    jobs = {"validate": _validate_job(manifest), "plan": _main_plan_job(manifest, models)}
    recorded = ["validate", "plan"]
    for model in models:
        train = _train_job(manifest, model, [], pr=False)
        train["needs"] = ["validate", "plan"]
        jobs[f"train_{model.name}"] = _when_planned(train, model)
        recorded.append(f"train_{model.name}")
        for gate in _gates_of(manifest, model.name):
            jobs.update(_gate_jobs(manifest, gate, model, None))
            recorded.append(f"gate_{gate.name}")  # not the promote job: an approval may wait for days
    jobs["record"] = _record_job(manifest, recorded)
    return {
        "name": "mlspec: train and release",
        "on": {"push": {"branches": [manifest.project.default_branch]}, "workflow_dispatch": {}},
        "permissions": {},
        # one run per commit (a dispatch of a commit already running waits for it); never one group for
        # every push: a run waiting days for an approval would hold back, and GitHub would cancel, later ones
        "concurrency": {"group": "mlspec-main-${{ github.sha }}", "cancel-in-progress": False},
        "jobs": jobs,
    }


def _with_condition(job: dict, condition: str) -> dict:
    """`job` with an `if:` (placed where `_job` puts it, after `needs`)."""
    out = {}
    for key, value in job.items():
        out[key] = value
        if key == "needs":
            out["if"] = condition
    return out


def retrain(manifest: Manifest, model: ModelNode) -> dict:
    """Retrain one model on demand (a person, or a monitor's alert), through the same gates."""
    reason_env = {"MLSPEC_REASON": "${{ inputs.reason }}"}
    jobs = {"validate": _validate_job(manifest), f"train_{model.name}": _train_job(manifest, model, [], pr=False)}
    for gate in _gates_of(manifest, model.name):
        jobs.update(_gate_jobs(manifest, gate, model, reason_env))
    return {
        "name": f"mlspec: retrain {model.name}",
        "on": {"workflow_dispatch": {"inputs": {"reason": {
            "description": "Why the model is retrained (recorded in the registry)", "required": True,
            "type": "string"}}}},
        "permissions": {},
        # per commit, as on main: repeated alerts at one commit coalesce into one waiting run, while the gate
        # jobs queue per model across workflows and promotion stays compare-and-set
        "concurrency": {"group": f"mlspec-retrain-{model.name}-" + "${{ github.sha }}", "cancel-in-progress": False},
        "jobs": jobs,
    }


def monitor(manifest: Manifest, node: MonitorNode) -> dict:
    """Run one monitor on its schedule; report, open or update its issue, dispatch a retrain on alert."""
    model = manifest.nodes[f"model.{node.model}"]
    live = [] if node.data.startswith("predictions:") else [node.data]  # the prediction log is in the store
    env = {**_secrets_env(sorted({*registry_secrets(manifest), *source_secrets(manifest, live)})),
           "GH_TOKEN": "${{ github.token }}"}
    permissions = dict(READ)
    if "open_issue" in node.on_alert:
        permissions["issues"] = "write"
    if "retrain" in node.on_alert:
        permissions["actions"] = "write"
    steps = [*_setup(manifest, runtime=True),
             {"name": "Run the monitor", "env": env,
              "run": f'python {_script("monitor", node.name)} --summary "$GITHUB_STEP_SUMMARY"'},
             {"name": "Upload the monitor report", "if": "always()", "uses": uses("actions/upload-artifact"),
              "with": {"name": f"monitor-{node.name}", "path": f".mlspec/reports/monitor.{node.name}/",
                       "if-no-files-found": "ignore", "include-hidden-files": True, "retention-days": 30}}]
    return {
        "name": f"mlspec: monitor {node.name}",
        "on": {"schedule": [{"cron": node.schedule}], "workflow_dispatch": {}},
        "permissions": {},
        "concurrency": {"group": f"mlspec-monitor-{node.name}", "cancel-in-progress": False},
        "jobs": {"monitor": _job(f"Monitor {node.name}", model.runner, model.timeout_minutes, steps,
                                 permissions=permissions)},
    }


_SECRET_REF = re.compile(r"^\$\{\{ secrets\['([A-Z_][A-Z0-9_]*)'\] \}\}$")


def secrets_note(document: dict) -> str:
    """A comment naming the secrets each job of a workflow receives, and where GitHub takes them from."""
    by_use: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for job_id, job in document.get("jobs", {}).items():
        names = sorted({m.group(1) for step in job.get("steps", []) for value in (step.get("env") or {}).values()
                        if isinstance(value, str) and (m := _SECRET_REF.match(value))})
        if names:
            where = f"secrets of the environment {job['environment']}" if job.get("environment") \
                else "repository secrets"
            by_use.setdefault((tuple(names), where), []).append(job_id)
    if not by_use:
        return "Secrets: none."
    lines = ["Secrets (see the README's \"Secrets\" section; forks' pull requests get none):"]
    for (names, where), jobs in sorted(by_use.items(), key=lambda item: item[1][0]):
        lines += textwrap.wrap(f"{', '.join(jobs)}: {', '.join(names)} ({where})", 100, initial_indent="  ",
                               subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines)


def all_workflows(manifest: Manifest) -> dict[str, tuple[dict, list[str]]]:
    """Every workflow: file name -> (document, spec files it comes from)."""
    every_file = sorted({n.file for n in manifest.nodes.values()})
    out = {"mlspec-pr.yml": (pull_request(manifest), every_file),
           "mlspec-pr-comment.yml": (pr_comment(manifest), every_file),
           "mlspec-main.yml": (main(manifest), every_file)}
    for model in manifest.of_kind("model"):
        files = sorted({model.file, *(g.file for g in _gates_of(manifest, model.name))})
        out[f"mlspec-retrain-{model.name}.yml"] = (retrain(manifest, model), files)
    for node in manifest.of_kind("monitor"):
        out[f"mlspec-monitor-{node.name}.yml"] = (monitor(manifest, node), [node.file])
    return out
