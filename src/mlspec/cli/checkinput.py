"""`mlspec check-input`: check what a manual run of a generated workflow names, before any job uses it.

A workflow_dispatch input is untrusted text: GitHub checks a choice against its options when a person
starts the run from its page, but a run started through the API may carry anything. The retrain and
monitors workflows pass the input here through an environment variable (never into a script). This
command reads `generated/manifest.json` (the same job then runs `mlspec compile --check`), refuses
anything but a name of it with what to choose instead, and writes what the other jobs use to
GITHUB_OUTPUT: names the manifest holds and numbers, never the input itself.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlspec.cli.common import project_root
from mlspec.cli.main import cli
from mlspec.emit import MANIFEST_PATH, WORKFLOW_DIR
from mlspec.errors import MlspecError
from mlspec.manifest import Manifest

_LISTED = 20  # a hint lists at most this many names


def _shown(text: str) -> str:
    """Untrusted text as one quoted ASCII line (escaped, cut short): it can neither break the log's lines nor
    start a workflow command."""
    return ascii(text[:80] + ("..." if len(text) > 80 else ""))


def _choices(names: list[str], text: str) -> str:
    from mlspec.spec.names import did_you_mean

    close = did_you_mean(text[:100], names)
    listed = ", ".join(names[:_LISTED]) + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")
    return (f"did you mean '{close}'? " if close else "") + f"choose one of: {listed}"


def _manifest(ctx: click.Context) -> Manifest:
    path = project_root(ctx) / MANIFEST_PATH
    try:
        return Manifest.read_json(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise MlspecError(f"cannot read {MANIFEST_PATH}: {exc}",
                          hint=getattr(exc, "hint", "run `mlspec compile` and commit the result")) from None


def _model_outputs(manifest: Manifest, name: str) -> dict[str, str]:
    from mlspec.emit.ondemand import retrain_outputs

    models = sorted(m.name for m in manifest.of_kind("model"))
    if name not in models:
        raise MlspecError(f"the retrain workflow was started for {_shown(name)}, which is not a model of this project",
                          hint=_choices(models, name) if models else "the project has no models")
    outputs = retrain_outputs(manifest, name)
    gates = [value for key, value in outputs.items() if key.startswith("gate_")]
    click.echo(f"retraining {name}: the jobs of group {outputs['group']}, through "
               + (f"the gates {', '.join(gates)}" if gates else "no gate (it has none)"), err=True)
    return outputs


def _monitor_outputs(manifest: Manifest, name: str, schedule: str) -> dict[str, str]:
    from mlspec.emit.ondemand import canonical_schedule, monitor_schedules, monitors_file

    schedules = monitor_schedules(manifest)
    here = schedules.get(canonical_schedule(schedule))
    if here is None:
        raise MlspecError(f"no monitor runs on the schedule {_shown(schedule)}",
                          hint="run `mlspec compile` and commit the result (the workflows are older than the specs)")
    names = [node.name for node in here]
    if name not in names:
        elsewhere = next((cron for cron, nodes in schedules.items() if any(n.name == name for n in nodes)), None)
        if elsewhere is not None:
            raise MlspecError(f"the monitor {name} runs on the schedule '{elsewhere}', not on this workflow's "
                              f"('{' '.join(schedule.split())}')",
                              hint=f"run it from {WORKFLOW_DIR}/{monitors_file(elsewhere)}")
        raise MlspecError(f"this workflow was started for {_shown(name)}, which is not one of its monitors",
                          hint=_choices(names, name))
    click.echo(f"running the monitor {name}", err=True)
    return {"monitor": name}


@cli.command("check-input")
@click.argument("kind", type=click.Choice(["model", "monitor"]))
@click.argument("name")
@click.option("--schedule", default=None, metavar="CRON",
              help="With monitor: the schedule of the workflow that was started (its monitors may be named).")
@click.option("--github-output", type=click.Path(dir_okay=False), default=None,
              help="Append what the workflow's other jobs need to this file ($GITHUB_OUTPUT): with model, the "
                   "model, its group of jobs and its gates (gate_1, gate_2, ...).")
@click.pass_context
def check_input_command(ctx: click.Context, kind: str, name: str, schedule: str | None,
                        github_output: str | None) -> None:
    """Check the model (retrain workflow) or monitor (monitors workflow) a manual run names: exit 1 with what
    to choose when the project has no such model, or the workflow no such monitor."""
    if (kind == "monitor") != (schedule is not None):
        raise click.UsageError("--schedule goes with monitor, and monitor needs it")
    manifest = _manifest(ctx)
    outputs = _model_outputs(manifest, name) if kind == "model" else _monitor_outputs(manifest, name, schedule or "")
    if github_output:
        with Path(github_output).open("a", encoding="utf-8") as handle:
            handle.write("".join(f"{key}={value}\n" for key, value in outputs.items()))
