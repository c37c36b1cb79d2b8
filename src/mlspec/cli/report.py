"""The pull-request report: assemble it (`mlspec pr-report`) and post it as one comment (`mlspec pr-comment`).

`pr-report` runs in the pull request's own workflow (read-only token, no secrets) and writes a folder:
the Markdown report and the PR number. `pr-comment` runs in a separate `workflow_run` workflow that
never checks out or runs the pull request's code: it treats that folder as untrusted data (expected
file names only, size limits, a numeric PR number) and edits the one comment that carries mlspec's
hidden marker, or creates it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from mlspec.cli.main import cli

MARKER = "<!-- mlspec-report -->"
COMMENT_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters
REPORT_FILES = {"report.md", "pr-number.txt"}


def _guard(text: str, link: str | None) -> str:
    """Keep a comment under GitHub's limit: collapse the details, then truncate with a link."""
    if len(text) <= COMMENT_LIMIT:
        return text
    head, _, rest = text.partition("\n## ")
    collapsed = f"{head}\n<details><summary>Full report</summary>\n\n## {rest}\n</details>\n"
    if len(collapsed) <= COMMENT_LIMIT:
        return collapsed
    tail = f"\n\n_(truncated; the full report is in the workflow run's artifacts{': ' + link if link else ''})_\n"
    return text[: COMMENT_LIMIT - len(tail) - 100].rsplit("\n", 1)[0] + tail


@cli.command("pr-report")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), required=True,
              help="The plan in Markdown (mlspec plan --format md).")
@click.option("--reports", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Folder holding downloaded gate reports (*.md).")
@click.option("--pr", "pr_number", type=click.IntRange(1), required=True, help="The pull request number.")
@click.option("--link", default=None, help="Link to the workflow run, for the artifacts.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Folder to write.")
def pr_report(plan_file: str, reports: str, pr_number: int, link: str | None, output: str) -> None:
    """Assemble the pull-request report (plan + gate reports) into a folder for the comment workflow."""
    parts = [MARKER, "## mlspec plan", "", Path(plan_file).read_text(encoding="utf-8")]
    gate_reports = sorted(Path(reports).rglob("gate-report-*.md"))
    retrain = _planned_models(Path(plan_file).with_suffix(".json"))
    parts += ["## Models against the champion", ""]
    parts += [p.read_text(encoding="utf-8") for p in gate_reports]
    reported = {p.read_text(encoding="utf-8").split("on model `", 1)[-1].split("`", 1)[0] for p in gate_reports}
    missing = [m for m in retrain if m.removeprefix("model.") not in reported]
    for model in missing:
        parts.append(f"- ⚠️ `{model}` was to be retrained but produced no gate report: its training failed, "
                     "or it has no gate. See the workflow run.")
    if not gate_reports and not missing:
        parts.append("No model was trained: this change affects no model.")
    if link and re.fullmatch(r"https://[A-Za-z0-9./_-]+", link):
        parts += ["", f"[Workflow run and artifacts]({link})"]
    text = _guard("\n".join(parts) + "\n", link)
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(text, encoding="utf-8")
    (folder / "pr-number.txt").write_text(f"{pr_number}\n", encoding="utf-8")
    click.echo(text, nl=False)


def _planned_models(plan_json: Path) -> list[str]:
    """Models the plan retrains (empty when the JSON plan is not beside the Markdown one)."""
    try:
        retrain = json.loads(plan_json.read_text(encoding="utf-8")).get("retrain", [])
    except (OSError, ValueError):
        return []
    return [m for m in retrain if isinstance(m, str) and re.fullmatch(r"model\.[a-z][a-z0-9_]{0,47}", m)]


def _read_report(folder: Path) -> tuple[int, str]:
    """The PR number and report, after checking the folder holds only what pr-report writes."""
    found = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if found != REPORT_FILES or any((folder / n).is_symlink() for n in found):
        raise click.ClickException(f"unexpected report contents: {sorted(found)}")
    number = (folder / "pr-number.txt").read_text(encoding="utf-8").strip()
    if not re.fullmatch(r"[1-9][0-9]{0,9}", number):
        raise click.ClickException("the PR number in the report is not a number")
    if (folder / "report.md").stat().st_size > 2 * COMMENT_LIMIT:
        raise click.ClickException("the report is larger than a comment can be")
    text = (folder / "report.md").read_text(encoding="utf-8", errors="replace")
    if not text.startswith(MARKER):
        text = MARKER + "\n" + text
    return int(number), _guard(text, None)


@cli.command("pr-comment")
@click.option("--report", "folder", type=click.Path(file_okay=False, exists=True), required=True,
              help="Folder written by mlspec pr-report (downloaded from the PR's run).")
@click.option("--repo", required=True, help="owner/name of the repository.")
def pr_comment(folder: str, repo: str) -> None:
    """Create or edit (in place) the single mlspec comment on the pull request."""
    from mlspec.cli.monitor import _gh

    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
        raise click.UsageError("--repo must be owner/name")
    number, text = _read_report(Path(folder))
    listing = _gh("api", "--paginate", f"repos/{repo}/issues/{number}/comments", "--jq", ".[] | {id, body}")
    existing = None
    for line in listing.stdout.splitlines():
        try:
            comment = json.loads(line)
        except ValueError:
            continue
        # ours start with the marker: a person quoting it in their own comment must not be overwritten
        if isinstance(comment, dict) and str(comment.get("body") or "").startswith(MARKER):
            existing = comment["id"]
            break
    payload = json.dumps({"body": text})
    if existing is not None:
        _gh("api", "--method", "PATCH", f"repos/{repo}/issues/comments/{int(existing)}", "--input", "-",
            stdin=payload)
        click.echo(f"updated comment {existing} on #{number}")
    else:
        _gh("api", "--method", "POST", f"repos/{repo}/issues/{number}/comments", "--input", "-", stdin=payload)
        click.echo(f"created the mlspec comment on #{number}")
