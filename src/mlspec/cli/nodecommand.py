"""`mlspec node NODE_ID [ARGS]...`: run one node of the committed generated/manifest.json, as its script does.

A generated script (`python generated/model_fraud_gbm.py`) finds the manifest beside itself; this command
finds it in the project folder (`-C`, found as every command finds it), so a container with mlspec
installed and the repository checked out runs a node by its id: the Argo steps do (`emit/argo.py`). The
arguments after NODE_ID are the script's (a gate's `report` or `promote --version N`, a monitor's
`--summary FILE` or `--retrain`), and the exit codes are the same.
"""

from __future__ import annotations

import click

from mlspec.cli.common import project_root
from mlspec.cli.main import cli


@cli.command("node", context_settings={"ignore_unknown_options": True})
@click.argument("node_id")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def node_command(ctx: click.Context, node_id: str, args: tuple[str, ...]) -> None:
    """Run one node (e.g. model.fraud_gbm) of the committed generated/manifest.json, as its generated script
    does: ARGS are the script's (gate: report, promote --version N; monitor: --summary FILE, --retrain)."""
    from mlspec.cli.node import main

    ctx.exit(main(node_id, list(args), project_root(ctx) / "generated" / "manifest.json"))
