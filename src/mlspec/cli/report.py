"""The pull-request report: assemble it (`mlspec pr-report`) and post it as one comment (`mlspec pr-comment`).

`pr-report` runs in the pull request's own workflow (read-only token, no secrets) and writes a folder:
the Markdown report and the commit it is about (the PR's head SHA). `pr-comment` runs in a separate
`workflow_run` workflow that never checks out or runs the pull request's code. Everything in the folder
is untrusted (a fork's PR controls it), so it decides nothing about *where* the comment goes: the pull
request is found through the GitHub API from the triggering run's own head SHA, head repository and
branch (the `workflow_run` event, written by GitHub), and the report is posted only when it is about
exactly that commit. Then the one comment carrying mlspec's hidden marker is edited, or created.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from mlspec.cli.main import cli
from mlspec.errors import MlspecError

MARKER = "<!-- mlspec-report -->"
COMMENT_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters
REPORT_FILES = {"report.md", "head-sha.txt"}
_SHA = re.compile(r"[0-9a-f]{40}")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


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
@click.option("--head-sha", required=True, help="The pull request's head commit (40 hex digits).")
@click.option("--link", default=None, help="Link to the workflow run, for the artifacts.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Folder to write.")
def pr_report(plan_file: str, reports: str, head_sha: str, link: str | None, output: str) -> None:
    """Assemble the pull-request report (plan + gate reports) into a folder for the comment workflow."""
    if not _SHA.fullmatch(head_sha):
        raise click.UsageError("--head-sha must be a full commit SHA (40 lowercase hex digits)")
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
    (folder / "head-sha.txt").write_text(f"{head_sha}\n", encoding="utf-8")
    click.echo(text, nl=False)


def _planned_models(plan_json: Path) -> list[str]:
    """Models the plan retrains (empty when the JSON plan is not beside the Markdown one)."""
    try:
        retrain = json.loads(plan_json.read_text(encoding="utf-8")).get("retrain", [])
    except (OSError, ValueError):
        return []
    return [m for m in retrain if isinstance(m, str) and re.fullmatch(r"model\.[a-z][a-z0-9_]{0,47}", m)]


def _read_report(folder: Path) -> tuple[str, str]:
    """The commit the report is about and the report, after checking the folder holds only what pr-report writes."""
    found = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if found != REPORT_FILES or any((folder / n).is_symlink() for n in found):
        raise MlspecError(f"unexpected report contents: {sorted(found)}")
    if (folder / "head-sha.txt").stat().st_size > 100:
        raise MlspecError("the report's head-sha.txt is not a commit SHA")
    sha = (folder / "head-sha.txt").read_text(encoding="utf-8", errors="replace").strip()
    if not _SHA.fullmatch(sha):
        raise MlspecError("the report's head-sha.txt is not a commit SHA")
    if (folder / "report.md").stat().st_size > 2 * COMMENT_LIMIT:
        raise MlspecError("the report is larger than a comment can be")
    text = (folder / "report.md").read_text(encoding="utf-8", errors="replace")
    if not text.startswith(MARKER):
        text = MARKER + "\n" + text
    return sha, _guard(text, None)


@cli.command("pr-comment")
@click.option("--report", "folder", type=click.Path(file_okay=False, exists=True), required=True,
              help="Folder written by mlspec pr-report (downloaded from the PR's run).")
@click.option("--repo", required=True, help="owner/name of the repository.")
@click.option("--head-sha", required=True,
              help="The triggering run's head commit (github.event.workflow_run.head_sha).")
@click.option("--head-repo", required=True,
              help="The triggering run's head repository (github.event.workflow_run.head_repository.full_name).")
@click.option("--head-branch", required=True, help="The triggering run's head branch.")
def pr_comment(folder: str, repo: str, head_sha: str, head_repo: str, head_branch: str) -> None:
    """Create or edit (in place) the single mlspec comment on the pull request the run belongs to."""
    from mlspec import github

    if not _REPO.fullmatch(repo) or not _REPO.fullmatch(head_repo):
        raise click.UsageError("--repo and --head-repo must be owner/name")
    if not _SHA.fullmatch(head_sha):
        raise click.UsageError("--head-sha must be a full commit SHA")
    if not head_branch or len(head_branch) > 255 or any(ord(c) < 32 for c in head_branch):
        raise click.UsageError("--head-branch is not a branch name")
    reported_sha, text = _read_report(Path(folder))
    if reported_sha != head_sha:
        raise MlspecError(f"the report is about commit {reported_sha[:12]}, but the run that uploaded it built "
                          f"{head_sha[:12]}; nothing was posted (a report must describe the commit its run built)")
    number = github.pull_request(repo, head_sha, head_repo, head_branch)
    if number is None:
        click.echo(f"no open pull request has {head_repo}@{head_sha[:12]} as its head (it was closed, or has "
                   "newer commits whose own run will report); nothing was posted")
        return
    click.echo(github.put_comment(repo, number, MARKER, text))
