"""GitHub, through its command line `gh`: the monitors' issues and retrain dispatches, the pull request's comment.

The one module that talks to GitHub. Calls pass arguments only (never a shell), text goes through
standard input, and `gh` authenticates with the job's GH_TOKEN. A missing `gh` or a refused call is
a `GitHubError` naming the call and what `gh` said.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess

from mlspec.errors import MlspecError


class GitHubError(MlspecError):
    """`gh` is not installed, or GitHub refused a call (a token without permission, an unknown workflow)."""


def gh(*args: str, stdin: str | None = None) -> str:
    """Run `gh ARGS` with `stdin` as its input (an issue's body, a JSON payload); return what it printed."""
    program = shutil.which("gh")
    if program is None:
        raise GitHubError("the GitHub CLI (gh) is not installed on this runner; GitHub-hosted runners have it, a "
                          "self-hosted one needs it installed (https://cli.github.com)")
    try:
        return subprocess.run([program, *args], capture_output=True, text=True, check=True, timeout=120,
                              input=stdin).stdout
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise GitHubError(f"gh {' '.join(args[:2])} failed: {said[0][:300] if said else exc.returncode}") from None
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise GitHubError(f"gh {' '.join(args[:2])} failed: {exc}") from None


def open_or_update_issue(marker: str, title: str, search: str, body: str) -> str:
    """Edit the open issue whose body starts with `marker` (title and body), or open one; say which."""
    # search by title (the marker, in an HTML comment, is not searchable), then trust only the marker
    found = json.loads(gh("issue", "list", "--state", "open", "--search", f'"{search}" in:title', "--limit", "100",
                          "--json", "number,body"))
    for issue in found:
        if str(issue.get("body") or "").startswith(marker):
            gh("issue", "edit", str(issue["number"]), "--title", title, "--body-file", "-", stdin=body)
            return f"updated issue #{issue['number']}"
    return f"opened {gh('issue', 'create', '--title', title, '--body-file', '-', stdin=body).strip()}"


def dispatch(workflow: str, ref: str, inputs: dict[str, str]) -> str:
    """Start `workflow` (a file in .github/workflows/) on `ref` with `inputs`; say so."""
    gh("workflow", "run", workflow, "--ref", ref, *[f for k, v in inputs.items() for f in ("-f", f"{k}={v}")])
    return f"dispatched {workflow}"


def _lines(output: str) -> list[dict]:
    """The JSON objects `gh api --jq` printed, one a line (anything else is skipped)."""
    found = []
    for line in output.splitlines():
        with contextlib.suppress(ValueError):
            found.append(json.loads(line))
    return [item for item in found if isinstance(item, dict)]


def pull_request(repo: str, head_sha: str, head_repo: str, head_branch: str) -> int | None:
    """The open pull request of `repo` whose head is exactly this commit of this repository and branch, or None.

    Asked of the API, never taken from a report: `workflow_run.pull_requests` is empty for forks, and an
    artifact could name any pull request."""
    owner = head_repo.split("/", 1)[0]
    listing = gh("api", "--method", "GET", "--paginate", f"repos/{repo}/pulls", "-f", "state=open",
                 "-f", f"head={owner}:{head_branch}", "--jq",
                 ".[] | {number, sha: .head.sha, repo: .head.repo.full_name}")
    numbers = {pull["number"] for pull in _lines(listing) if pull.get("sha") == head_sha
               and pull.get("repo") == head_repo and isinstance(pull.get("number"), int)}
    return numbers.pop() if len(numbers) == 1 else None


def put_comment(repo: str, number: int, marker: str, text: str) -> str:
    """Edit the comment on #`number` that starts with `marker` (to `text`), or create it; say which."""
    listing = gh("api", "--paginate", f"repos/{repo}/issues/{number}/comments", "--jq", ".[] | {id, body}")
    # ours start with the marker: a person quoting it in their own comment must not be overwritten
    existing = next((c["id"] for c in _lines(listing) if str(c.get("body") or "").startswith(marker)), None)
    payload = json.dumps({"body": text})
    if existing is not None:
        gh("api", "--method", "PATCH", f"repos/{repo}/issues/comments/{int(existing)}", "--input", "-", stdin=payload)
        return f"updated comment {existing} on #{number}"
    gh("api", "--method", "POST", f"repos/{repo}/issues/{number}/comments", "--input", "-", stdin=payload)
    return f"created the mlspec comment on #{number}"
