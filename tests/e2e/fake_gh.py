"""A stand-in for the GitHub CLI in act runs: it keeps a tiny repository state in a JSON file.

Only the calls mlspec makes are understood (open pull requests and issue comments through `gh api`,
`gh issue list | create | edit`, `gh workflow run`); anything else fails loudly, so a changed call
cannot pass unnoticed. Each call is appended to `$MLSPEC_FAKE_GH/calls` (arguments separated by tabs,
then whether GH_TOKEN was set), and the state lives in `$MLSPEC_FAKE_GH/state.json`: {"comments": [...],
"issues": [...], "dispatches": [...], "pulls": [{"number", "sha", "repo", "branch"}]}.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO = re.compile(r"repos/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/")


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _body(args: list[str]) -> str:
    path = _option(args, "--body-file")
    if path == "-":  # as gh does: the body on standard input
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8") if path else ""


def _api(args: list[str], state: dict) -> str:
    path = next(a for a in args if a.startswith("repos/"))
    method = _option(args, "--method") or "GET"
    rest = REPO.sub("", path, count=1)
    if method == "GET" and rest == "pulls":
        # what `-f state=open -f head=OWNER:BRANCH --jq '.[] | {number, sha: .head.sha, repo: .head.repo.full_name}'`
        # prints: the open pull requests whose head is that owner's branch
        fields = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-f")
        owner, _, branch = fields["head"].partition(":")
        return "".join(json.dumps({"number": p["number"], "sha": p["sha"], "repo": p["repo"]}) + "\n"
                       for p in state.get("pulls", []) if p.get("state", "open") == fields.get("state", "open")
                       and p["repo"].split("/")[0] == owner and p["branch"] == branch)
    if method == "GET" and re.fullmatch(r"issues/\d+/comments", rest):
        number = int(rest.split("/")[1])
        # what `--jq '.[] | {id, body}'` prints: one JSON object per line
        return "".join(json.dumps({"id": c["id"], "body": c["body"]}) + "\n"
                       for c in state["comments"] if c["issue"] == number)
    payload = json.loads(sys.stdin.read()) if _option(args, "--input") == "-" else {}
    if method == "POST" and re.fullmatch(r"issues/\d+/comments", rest):
        comment = {"id": 1000 + len(state["comments"]) + 1, "issue": int(rest.split("/")[1]), "body": payload["body"]}
        state["comments"].append(comment)
        return json.dumps({"id": comment["id"]}) + "\n"
    if method == "PATCH" and re.fullmatch(r"issues/comments/\d+", rest):
        comment = next(c for c in state["comments"] if c["id"] == int(rest.split("/")[2]))
        comment["body"] = payload["body"]
        comment["edits"] = comment.get("edits", 0) + 1
        return json.dumps({"id": comment["id"]}) + "\n"
    raise SystemExit(f"fake gh: unsupported api call {method} {path}")


def _repository() -> str:
    """owner/name of the repository the workflow runs in (act sets GITHUB_REPOSITORY from origin)."""
    return os.environ.get("GITHUB_REPOSITORY") or "acme/fraud"


def _issue(args: list[str], state: dict) -> str:
    action = args[1]
    if action == "list":
        assert _option(args, "--state") == "open" and _option(args, "--json") == "number,body", args
        search = _option(args, "--search") or ""
        words = re.findall(r'"([^"]+)"\s+in:title', search)
        found = [i for i in state["issues"] if i["state"] == "open" and all(w in i["title"] for w in words)]
        return json.dumps([{"number": i["number"], "body": i["body"]} for i in found]) + "\n"
    if action == "create":
        number = 1 + max([0, *(i["number"] for i in state["issues"])])
        state["issues"].append({"number": number, "title": _option(args, "--title"), "body": _body(args),
                                "state": "open", "edits": 0})
        return f"https://github.com/{_repository()}/issues/{number}\n"
    if action == "edit":
        issue = next(i for i in state["issues"] if i["number"] == int(args[2]))
        issue.update(title=_option(args, "--title"), body=_body(args), edits=issue["edits"] + 1)
        return f"https://github.com/{_repository()}/issues/{issue['number']}\n"
    raise SystemExit(f"fake gh: unsupported issue call {args}")


def _workflow(args: list[str], state: dict) -> str:
    if args[1] != "run":
        raise SystemExit(f"fake gh: unsupported workflow call {args}")
    inputs = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-f")
    state["dispatches"].append({"workflow": args[2], "ref": _option(args, "--ref"), "inputs": inputs})
    return ""


def main(args: list[str]) -> None:
    """Run one gh call against the state file."""
    folder = Path(os.environ["MLSPEC_FAKE_GH"])
    state_file = folder / "state.json"
    with (folder / "calls").open("a", encoding="utf-8") as calls:
        calls.write("\t".join([*args, f"GH_TOKEN={'set' if os.environ.get('GH_TOKEN') else ''}"]) + "\n")
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else \
        {"comments": [], "issues": [], "dispatches": []}
    handlers = {"api": _api, "issue": _issue, "workflow": _workflow}
    if not args or args[0] not in handlers:
        raise SystemExit(f"fake gh: unsupported command {args}")
    output = handlers[args[0]](args, state)
    state_file.write_text(json.dumps(state, indent=1), encoding="utf-8")
    sys.stdout.write(output)


class FakeGitHub:
    """For tests: this file installed as `gh` in `tmp_path/bin`, keeping its state in `tmp_path/gh`."""

    def __init__(self, tmp_path: Path) -> None:
        self.bin, self.folder = tmp_path / "bin", tmp_path / "gh"
        self.bin.mkdir()
        self.folder.mkdir()
        (self.bin / "gh").write_text(f"#!{sys.executable}\n" + Path(__file__).read_text(encoding="utf-8"),
                                     encoding="utf-8")
        (self.bin / "gh").chmod(0o755)

    def seed(self, **state: list) -> None:
        """Start from this repository state (comments, issues)."""
        (self.folder / "state.json").write_text(json.dumps({"comments": [], "issues": [], "dispatches": [],
                                                            **state}), encoding="utf-8")

    def state(self) -> dict:
        """The repository state after the calls so far."""
        return json.loads((self.folder / "state.json").read_text(encoding="utf-8"))

    def calls(self) -> list[list[str]]:
        """Every call so far: its arguments, then whether GH_TOKEN was set."""
        return [line.split("\t") for line in (self.folder / "calls").read_text(encoding="utf-8").splitlines()]

    def step_env(self) -> dict[str, str]:
        """The environment a process needs to use this fake."""
        return {"MLSPEC_FAKE_GH": str(self.folder)}


if __name__ == "__main__":
    main(sys.argv[1:])
