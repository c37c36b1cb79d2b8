"""GitHub Actions workflows built as Python data from the manifest: the pull request's, its comment's and
the default branch's (`mlspec.emit.ondemand` adds the retrain and monitor workflows).

Security invariants (the spec is untrusted; these workflows run on main with secrets), besides the
jobs' own (`mlspec.emit.jobs`): `permissions: {}` at the top, `concurrency` on every workflow, no
`pull_request_target`.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from mlspec.emit import ondemand
from mlspec.emit.jobs import (
    SETUP_MINUTES,
    candidate_files,
    download,
    gate_jobs,
    gates_of,
    job,
    registry_secrets,
    script,
    secrets_env,
    setup,
    train_secrets,
    upload,
    validate_job,
    with_condition,
)
from mlspec.emit.pins import uses
from mlspec.emit.yamlout import Commented
from mlspec.manifest import GateNode, Manifest, ModelNode

PR_WORKFLOW_NAME = "mlspec: pull request"


def _train_job(manifest: Manifest, model: ModelNode, gates: list[GateNode], *, pr: bool) -> dict:
    env = secrets_env(train_secrets(manifest, model))
    only = " --plan plan.json" if pr else ""
    train: dict[str, Any] = {"name": "Check data, train and evaluate",
                             "run": f"python {script('model', model.name)}{only}"}
    if env:
        train["env"] = env
    steps = [*setup(manifest, runtime=True, cache=True)]
    if pr:
        steps.append(download("mlspec-plan"))
    steps.append(train)
    if pr:
        report_env = secrets_env(registry_secrets(manifest))
        for gate in gates:
            step: dict[str, Any] = {"name": f"Gate report ({gate.name})",
                    "run": f"python {script('gate', gate.name)} report \\\n"
                           '  --plan plan.json --out reports --summary "$GITHUB_STEP_SUMMARY"\n'}
            if report_env:
                step["env"] = report_env
            steps.append(step)
        if gates:
            steps.append(upload(f"gate-report-{model.name}", ["reports/"], missing="ignore"))
        needs = ["validate", "plan"]
    else:
        steps.append(upload(f"candidate-{model.name}", candidate_files(manifest, model.name)))
        needs = ["validate"]
    return job(f"Train {model.name}", model.runner, model.timeout_minutes, steps, needs=needs)


def _plan_job(manifest: Manifest) -> dict:
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *setup(manifest)[1:],
             {"name": "Plan against the base branch", "id": "plan", "env": {"BASE_REF": "${{ github.base_ref }}"},
              "run": 'mlspec plan --base "origin/$BASE_REF" --format md -o plan.md > /dev/null\n'
                     'mlspec plan --base "origin/$BASE_REF" --format json -o plan.json \\\n'
                     '  --github-output "$GITHUB_OUTPUT" > /dev/null\n'},
             upload("mlspec-plan", ["plan.md", "plan.json"])]
    return job("Plan", manifest.project.runner, SETUP_MINUTES, steps, needs=["validate"],
                outputs=_train_outputs(manifest.of_kind("model")))


def _train_outputs(models: list[ModelNode]) -> dict[str, str]:
    """The plan job's outputs: `train_<model>`, "true" when the plan trains that model."""
    return {f"train_{m.name}": "${{ steps.plan.outputs.train_" + m.name + " }}" for m in models}


def _when_planned(document: dict, model: ModelNode) -> dict:
    """`job` skipped, before it installs anything, unless the plan job trains `model`."""
    return with_condition(document, f"needs.plan.outputs.train_{model.name} == 'true'")


def _report_job(manifest: Manifest, models: list[ModelNode]) -> dict:
    steps = [*setup(manifest), download("mlspec-plan"),
             {"name": "Download gate reports", "uses": uses("actions/download-artifact"),
              "with": {"pattern": "gate-report-*", "path": "reports", "merge-multiple": True}},
             {"name": "Assemble the report",
              "env": {"HEAD_SHA": "${{ github.event.pull_request.head.sha }}",
                      "RUN_URL": "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"},
              "run": 'mlspec pr-report --plan plan.md --reports reports --head-sha "$HEAD_SHA" \\\n'
                     '  --link "$RUN_URL" -o mlspec-report > /dev/null\n'
                     'cat mlspec-report/report.md >> "$GITHUB_STEP_SUMMARY"\n'},
             upload("mlspec-report", ["mlspec-report/"])]
    needs = ["plan", *[f"train_{m.name}" for m in models]]
    return job("Report", manifest.project.runner, SETUP_MINUTES, steps, needs=needs, condition="always()")


def pull_request(manifest: Manifest) -> dict:
    """Validate, plan, train and evaluate the affected models, report; the comment is posted by pr_comment()."""
    models = manifest.of_kind("model")
    jobs = {"validate": validate_job(manifest), "plan": _plan_job(manifest)}
    for model in models:
        jobs[f"train_{model.name}"] = _when_planned(
            _train_job(manifest, model, gates_of(manifest, model.name), pr=True), model)
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
             *setup(manifest)[1:],
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
    comment = job("Comment on the pull request", manifest.project.runner, SETUP_MINUTES, steps,
               permissions={"actions": "read", "pull-requests": "write"},
               condition="github.event.workflow_run.event == 'pull_request'")
    return {
        "name": "mlspec: pull request comment",
        "on": {"workflow_run": Commented({"workflows": [PR_WORKFLOW_NAME], "types": ["completed"]},
                                         _WORKFLOW_RUN_NOTE)},
        "permissions": {},
        "concurrency": {"group": "mlspec-pr-comment-${{ github.event.workflow_run.id }}", "cancel-in-progress": False},
        "jobs": {"comment": comment},
    }


_WORKFLOW_RUN_NOTE = ("Safe use of workflow_run: the job only downloads the report artifact as data; it never\n"
                      "checks out or runs the pull request's code (see mlspec pr-comment).\n"
                      "zizmor: ignore[dangerous-triggers]")


def _main_plan_job(manifest: Manifest, models: list[ModelNode]) -> dict:
    """Which models this push trains: the change since the last successful run (`mlspec plan --last-run`).

    A manual dispatch trains every model. The result is one job output per model, read by the job-level
    conditions of the train jobs, so an unaffected model's jobs are skipped before they install anything.
    """
    env = secrets_env(registry_secrets(manifest))
    run = 'mlspec plan --last-run --event "$GITHUB_EVENT_NAME" --github-output "$GITHUB_OUTPUT"'
    plan = {"name": "Plan against the last successful run", "id": "plan", **({"env": env} if env else {}),
            "run": run}
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *setup(manifest, state=True)[1:], plan]
    return job("Plan", manifest.project.runner, SETUP_MINUTES, steps, needs=["validate"],
                outputs=_train_outputs(models))


def _record_job(manifest: Manifest, needs: list[str]) -> dict:
    """After a run whose jobs all succeeded (or were skipped), record it: the next push plans against it."""
    env = {**secrets_env(registry_secrets(manifest)), "COMMIT": "${{ github.sha }}"}
    steps = [{"name": "Check out the repository with history", "uses": uses("actions/checkout"),
              "with": {"persist-credentials": False, "fetch-depth": 0}},
             *setup(manifest, state=True)[1:],
             {"name": "Record this run", "env": env, "run": 'mlspec record-run --commit "$COMMIT"'}]
    return job("Record the run", manifest.project.runner, SETUP_MINUTES, steps, needs=needs,
                environment=manifest.project.state_environment,
                # a job GitHub cancelled (a queued gate superseded in its group) did not run: not a success
                condition="!cancelled() && !contains(needs.*.result, 'failure') "
                          "&& !contains(needs.*.result, 'cancelled')")


def _main_gate_jobs(manifest: Manifest, gate: GateNode, model: ModelNode) -> dict[str, dict]:
    return gate_jobs(manifest, (f"gate_{gate.name}", f"promote_{gate.name}"), gate=gate.name, model=model.name,
                     runner=model.runner, approval=gate.approval_environment, needs=[f"train_{model.name}"],
                     command=f"python {script('gate', gate.name)}")


def main(manifest: Manifest) -> dict:
    """On the default branch: plan against the last successful run, train what changed, gate, register,
    promote (behind the gate's Environment when it asks for approval), and record the run."""
    models = manifest.of_kind("model")
    jobs = {"validate": validate_job(manifest), "plan": _main_plan_job(manifest, models)}
    recorded = ["validate", "plan"]
    for model in models:
        train = _train_job(manifest, model, [], pr=False)
        train["needs"] = ["validate", "plan"]
        jobs[f"train_{model.name}"] = _when_planned(train, model)
        recorded.append(f"train_{model.name}")
        for gate in gates_of(manifest, model.name):
            jobs.update(_main_gate_jobs(manifest, gate, model))
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


WORKFLOW_LIMIT = 500_000  # bytes: GitHub starts no run of a workflow file over 500 KB (Actions limits)


def too_large(path: str, text: bytes) -> str | None:
    """What to say when the workflow `text` (the file at `path`) is over GitHub's size limit, else None.

    The pull request's and main's workflows hold jobs per model and gate (about 2 and 3 KB a model), so a
    project of some 150 models passes the limit there; the retrain and monitors workflows do not grow so."""
    if len(text) <= WORKFLOW_LIMIT:
        return None
    return (f"{path} is {len(text) / 1000:,.0f} KB; GitHub starts no run of a workflow file over "
            f"{WORKFLOW_LIMIT // 1000} KB, so this workflow will not run. It holds jobs for each model and gate: split "
            "the models between projects (repositories), or run the lifecycle elsewhere (`mlspec run`, or "
            "`project.argo` for Argo Workflows)")


_SECRET_REF = re.compile(r"^\$\{\{ secrets\['([A-Z_][A-Z0-9_]*)'\] \}\}$")


def secrets_note(document: dict) -> str:
    """A comment naming the secrets each job of a workflow receives, and where GitHub takes them from."""
    by_use: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for job_id, spec in document.get("jobs", {}).items():
        names = tuple(sorted({m.group(1) for step in spec.get("steps", []) for value in (step.get("env") or {}).values()
                        if isinstance(value, str) and (m := _SECRET_REF.match(value))}))
        if names:
            where = f"secrets of the environment {spec['environment']}" if spec.get("environment") \
                else "repository secrets"
            by_use.setdefault((names, where), []).append(job_id)
    if not by_use:
        return "Secrets: none."
    lines = ["Secrets (see the README's \"Secrets\" section; forks' pull requests get none):"]
    for (names, where), jobs in sorted(by_use.items(), key=lambda item: item[1][0]):
        lines += textwrap.wrap(f"{', '.join(jobs)}: {', '.join(names)} ({where})", 100, initial_indent="  ",
                               subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines)


def _in_bash(document: dict) -> dict:
    """`document` with bash as its steps' shell, placed before its jobs.

    Every `run:` is bash (quoted "$VARIABLES", `> /dev/null`). Without a shell named, a Windows runner
    (`runner: windows-latest`, or a self-hosted one whose label says nothing) runs it in PowerShell, where
    "$NAME" is an unset PowerShell variable: an empty string, so pip installs nothing. GitHub's Windows and
    macOS runners have bash."""
    out = {key: value for key, value in document.items() if key != "jobs"}
    return {**out, "defaults": {"run": {"shell": "bash"}}, "jobs": document["jobs"]}


def all_workflows(manifest: Manifest) -> dict[str, tuple[dict, list[str]]]:
    """Every workflow: file name -> (document, spec files it comes from)."""
    every_file = sorted({n.file for n in manifest.nodes.values()})
    out = {"mlspec-pr.yml": (pull_request(manifest), every_file),
           "mlspec-pr-comment.yml": (pr_comment(manifest), every_file),
           "mlspec-main.yml": (main(manifest), every_file)}
    out.update(ondemand.workflows(manifest))
    return {name: (_in_bash(document), files) for name, (document, files) in out.items()}
