"""The workflows that run on demand or on a schedule: one retrain workflow, one monitors workflow per schedule.

Their size does not grow with the number of models: GitHub starts no run of a workflow file over 500 KB.

Retrain (`mlspec-retrain.yml`) is dispatched with a model (a choice among the project's models) and a
reason, by a person or a monitor's alert. The input is untrusted: GitHub checks a choice against its
options when a person starts the run from its page, but a run started through the API may carry any
text. So it reaches one step only, through `env:`, where `mlspec check-input` refuses anything but a
model of this project; every later job reads the checked name from that job's outputs, and only in
`env:`, `name:`, `if:`, `with:` and concurrency groups, never in a script. Models whose jobs would be
the same but for the names (runner, timeout, secrets, and their gates' approval environments) share
one group of jobs; each group's jobs run when the check names it (`if:`), so every job still has a
static runner, environment and secrets, which reviewers read in the file as before.

Monitors are grouped by schedule: `mlspec-monitors-<schedule>.yml` runs every monitor of one cron
schedule, each in its own job with its own permissions. A manual run names one monitor: its job runs
when its name equals the input (a comparison in `if:`), and a check job, only in manual runs, fails
with what to choose when the input names no monitor of the workflow (whose jobs then all skip).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from mlspec.emit import RETRAIN_WORKFLOW
from mlspec.emit.jobs import (
    READ,
    SETUP_MINUTES,
    candidate_files,
    gate_jobs,
    gates_of,
    job,
    registry_secrets,
    script,
    secrets_env,
    setup,
    source_secrets,
    train_secrets,
    upload,
    validate_job,
)
from mlspec.emit.pins import uses
from mlspec.emit.yamlout import Commented
from mlspec.manifest import Manifest, MonitorNode

CHECKED = "needs.validate.outputs"  # what the retrain workflow's check wrote
_CRON_CHARS = re.compile(r"[0-9A-Za-z*,/ -]+")  # what a valid five-field cron holds


@dataclass(frozen=True)
class RetrainGroup:
    """Models whose retrain jobs are the same but for the model's and its gates' names; `number` is the
    group's in the workflow (job ids `train_<number>`, `gate_<number>_<i>`, `promote_<number>_<i>`)."""

    number: int
    runner: str
    timeout_minutes: int
    secrets: tuple[str, ...]  # the train job's
    approvals: tuple[str | None, ...]  # per gate of a model, in id order: its approval environment or None
    models: tuple[str, ...]


def retrain_groups(manifest: Manifest) -> list[RetrainGroup]:
    """The retrain workflow's groups of models, numbered in the order of their first model's name."""
    by_shape: dict[tuple[str, int, tuple[str, ...], tuple[str | None, ...]], list[str]] = {}
    for model in manifest.of_kind("model"):
        shape = (model.runner, model.timeout_minutes, tuple(train_secrets(manifest, model)),
                 tuple(g.approval_environment for g in gates_of(manifest, model.name)))
        by_shape.setdefault(shape, []).append(model.name)
    return [RetrainGroup(number, shape[0], shape[1], shape[2], shape[3], tuple(models))
            for number, (shape, models) in enumerate(sorted(by_shape.items(), key=lambda item: item[1][0]), 1)]


def retrain_outputs(manifest: Manifest, model: str) -> dict[str, str]:
    """What the retrain workflow's check writes for `model` (a model of `manifest`): the model, its group's
    number and its gates (`gate_1`, `gate_2`, ... in id order)."""
    group = next(g for g in retrain_groups(manifest) if model in g.models)
    gates = {f"gate_{i}": gate.name for i, gate in enumerate(gates_of(manifest, model), 1)}
    return {"model": model, "group": str(group.number), **gates}


def _retrain_check(manifest: Manifest, groups: list[RetrainGroup]) -> dict:
    """The validate job, which first checks the model the run names and says what the other jobs need."""
    check = {"name": "Check the model named", "id": "check", "env": {"MLSPEC_MODEL": "${{ inputs.model }}"},
             "run": 'mlspec check-input model "$MLSPEC_MODEL" --github-output "$GITHUB_OUTPUT"'}
    names = ["model", "group", *(f"gate_{i}" for i in range(1, max(len(g.approvals) for g in groups) + 1))]
    return validate_job(manifest, first=[check],
                        outputs={name: "${{ steps.check.outputs." + name + " }}" for name in names})


def _group_jobs(manifest: Manifest, group: RetrainGroup, reason: dict[str, str]) -> dict[str, dict]:
    model = "${{ " + CHECKED + ".model }}"
    train = {"name": "Check data, train and evaluate", "env": {**secrets_env(list(group.secrets)),
                                                                "MLSPEC_MODEL": model},
             "run": 'python "generated/model_$MLSPEC_MODEL.py"'}
    files = candidate_files(manifest, model)
    train_id = f"train_{group.number}"
    # the condition carries the group's models, so a reviewer sees which models run where
    runs_for = "\n".join(textwrap.wrap("runs for " + ", ".join(group.models), 64, break_on_hyphens=False))
    condition = Commented(f"{CHECKED}.group == '{group.number}'", runs_for)
    jobs = {train_id: job(f"Train {model}", group.runner, group.timeout_minutes,
                          [*setup(manifest, runtime=True, cache=True), train, upload(f"candidate-{model}", files)],
                          needs=["validate"], condition=condition)}
    for i, approval in enumerate(group.approvals, 1):
        gate = "${{ " + CHECKED + f".gate_{i}" + " }}"
        jobs.update(gate_jobs(manifest, (f"gate_{group.number}_{i}", f"promote_{group.number}_{i}"), gate=gate,
                              model=model, runner=group.runner, approval=approval, needs=["validate", train_id],
                              command='python "generated/gate_$MLSPEC_GATE.py"',
                              step_env={**reason, "MLSPEC_GATE": gate}, promote_needs=("validate",)))
    return jobs


def retrain(manifest: Manifest) -> dict:
    """Retrain one model on demand (a person, or a monitor's alert), through the same gates as main."""
    groups = retrain_groups(manifest)
    reason = {"MLSPEC_REASON": "${{ inputs.reason }}"}
    jobs = {"validate": _retrain_check(manifest, groups)}
    for group in groups:
        jobs.update(_group_jobs(manifest, group, reason))
    models = sorted(m.name for m in manifest.of_kind("model"))
    return {
        "name": "mlspec: retrain",
        "on": {"workflow_dispatch": {"inputs": {
            "model": {"description": "The model to retrain (through its gates)", "required": True, "type": "choice",
                      "options": models},
            "reason": {"description": "Why the model is retrained (recorded in the registry)", "required": True,
                       "type": "string"}}}},
        "permissions": {},
        # per model and commit, as on main: repeated alerts at one commit coalesce into one waiting run, while
        # the gate jobs queue per model across workflows and promotion stays compare-and-set
        "concurrency": {"group": "mlspec-retrain-${{ inputs.model }}-${{ github.sha }}", "cancel-in-progress": False},
        "jobs": jobs,
    }


def schedule_slug(cron: str) -> str:
    """A schedule as a file name's part, one to one: fields joined by `_`, `*` as `x`, `/` as `.`, `,` as
    `+` (none of them occurs otherwise in a cron expression); `30 5 * * MON-FRI` -> `30_5_x_x_MON-FRI`."""
    fields = cron.split()
    if not _CRON_CHARS.fullmatch(" ".join(fields)):
        raise ValueError(f"not a validated cron expression: {cron!r}")
    return "_".join(fields).replace("*", "x").replace("/", ".").replace(",", "+")


def canonical_schedule(cron: str) -> str:
    """One spelling per schedule: fields separated by single spaces, month and weekday names in capitals.

    Cron reads names in any case, so `0 7 * * mon` and `0 7 * * MON` are one schedule; spelt apart they
    would make two workflows whose file names differ only in case, which are one file on a case-insensitive
    file system (macOS, Windows). The only letters a validated schedule holds are those names."""
    return " ".join(cron.split()).upper()


def monitor_schedules(manifest: Manifest) -> dict[str, list[MonitorNode]]:
    """The monitors by schedule (`canonical_schedule`), schedules and monitors sorted."""
    by_schedule: dict[str, list[MonitorNode]] = {}
    for node in manifest.of_kind("monitor"):
        by_schedule.setdefault(canonical_schedule(node.schedule), []).append(node)
    return dict(sorted(by_schedule.items()))


def monitors_file(cron: str) -> str:
    """The file name of the workflow that runs the monitors of schedule `cron`."""
    return f"mlspec-monitors-{schedule_slug(cron)}.yml"


def _monitor_job(manifest: Manifest, node: MonitorNode) -> dict:
    model = manifest.model(node.model)
    live = [] if node.data.startswith("predictions:") else [node.data]  # the prediction log is in the store
    env = {**secrets_env(sorted({*registry_secrets(manifest), *source_secrets(manifest, live)})),
           "GH_TOKEN": "${{ github.token }}"}
    permissions = dict(READ)
    if "open_issue" in node.on_alert:
        permissions["issues"] = "write"
    if "retrain" in node.on_alert:
        permissions["actions"] = "write"
    steps = [*setup(manifest, runtime=True),
             {"name": "Run the monitor", "env": env,
              "run": f'python {script("monitor", node.name)} --summary "$GITHUB_STEP_SUMMARY"'},
             {"name": "Upload the monitor report", "if": "always()", "uses": uses("actions/upload-artifact"),
              "with": {"name": f"monitor-{node.name}", "path": f".mlspec/reports/monitor.{node.name}/",
                       "if-no-files-found": "ignore", "include-hidden-files": True, "retention-days": 30}}]
    # a scheduled run runs every monitor, a manual one the monitor it names (comparing the input runs nothing
    # of it; the check job beside says why a run that names no monitor of this workflow ran none)
    return job(f"Monitor {node.name}", model.runner, model.timeout_minutes, steps,
               condition=f"github.event_name == 'schedule' || inputs.monitor == '{node.name}'",
               permissions=permissions, concurrency=f"mlspec-monitor-{node.name}")


def monitors(manifest: Manifest, cron: str, nodes: list[MonitorNode]) -> dict:
    """Run the monitors of one schedule, each in its job; report, open or update issues, dispatch retrains."""
    check = {"name": "Check the monitor named", "env": {"MLSPEC_MONITOR": "${{ inputs.monitor }}",
                                                        "MLSPEC_SCHEDULE": cron},
             "run": 'mlspec check-input monitor "$MLSPEC_MONITOR" --schedule "$MLSPEC_SCHEDULE"'}
    jobs = {"check": job("Check the monitor named", manifest.project.runner, SETUP_MINUTES,
                         [*setup(manifest), check], condition="github.event_name == 'workflow_dispatch'")}
    for node in nodes:
        jobs[f"monitor_{node.name}"] = _monitor_job(manifest, node)
    return {
        "name": f"mlspec: monitors at {cron}",
        "on": {"schedule": [{"cron": cron}], "workflow_dispatch": {"inputs": {"monitor": {
            "description": "The monitor to run (a scheduled run runs them all)", "required": True, "type": "choice",
            "options": [node.name for node in nodes]}}}},
        "permissions": {},
        # a run waits for the last one of its kind (the schedule's, or a manual one of the same monitor); each
        # monitor's job also queues behind any other run of it
        "concurrency": {"group": f"mlspec-monitors-{schedule_slug(cron)}-" + "${{ inputs.monitor }}",
                        "cancel-in-progress": False},
        "jobs": jobs,
    }


def workflows(manifest: Manifest) -> dict[str, tuple[dict, list[str]]]:
    """The retrain workflow (when there are models) and one monitors workflow per schedule: file name ->
    (document, spec files it comes from)."""
    out = {}
    models = manifest.of_kind("model")
    if models:
        files = {m.file for m in models} | {g.file for g in manifest.of_kind("gate")}
        out[RETRAIN_WORKFLOW] = (retrain(manifest), sorted(files))
    for cron, nodes in monitor_schedules(manifest).items():
        out[monitors_file(cron)] = (monitors(manifest, cron, nodes), sorted({n.file for n in nodes}))
    return out
