"""How generated CI jobs install mlspec: the forms `project.install` accepts and the pip arguments they become.

The value is spec text that ends up as a pip argument on a runner holding secrets, so only four
forms are accepted, each naming exactly one thing to install:

- **pin**: `mlspec-gitops==1.2.3`, optionally with extras (`mlspec-gitops[postgres]==1.2.3`). The
  default is this compiler's own version, pinned.
- **lock**: a requirements file in the repository (`requirements/mlspec.txt`) whose every line has
  `--hash=`; installed with `pip install --require-hashes -r FILE`, so the file is the whole lock.
- **git**: `git+https://HOST/OWNER/REPO@<40-hex commit>` (or `mlspec-gitops[extras] @ git+https://...`).
- **path**: `.`, `./sub` or `.[extras]`: a package in the repository itself (mlspec's own repository).

Everything else is refused: anything starting with `-` (pip would read an option), unpinned or
loosely pinned names, wildcards, other URLs, paths leaving the repository. Jobs that only validate,
compile, plan, report or comment install the package alone; jobs that train, gate, promote or
monitor add the `runtime` extra and the extras the spec needs (see `mlspec.stateurls.extras_for`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mlspec.errors import MlspecError

DIST = "mlspec-gitops"
EXTRAS = ("dask", "duckdb", "mlflow", "objectstore", "postgres", "runtime", "serve", "state")
RUNTIME = "runtime"
STATE = "state"
SERVE = "serve"
FORMS_HINT = (f'accepted: "{DIST}==X.Y.Z" (extras: "{DIST}[postgres]==X.Y.Z"), a hashed requirements file in the '
              f'repository ("requirements/mlspec.txt"), "git+https://HOST/OWNER/REPO@<40-hex commit>", or a path in '
              'the repository (".", "./sub", ".[extras]")')

_NAME = re.compile(r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[(?P<extras>[^\]]*)\])?"
                   r"(?P<op>===|==|~=|>=|<=|!=|>|<)?(?P<version>.*)$")
_VERSION = re.compile(r"^[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?"
                      r"(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?$")
_EXTRA = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_GIT = re.compile(r"^(?:(?P<name>[A-Za-z0-9._-]+)(?:\[(?P<extras>[^\]]*)\])? @ )?"
                  r"git\+https://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?)"
                  r"(?P<path>(?:/[A-Za-z0-9._~-]+)+)@(?P<ref>[^@/#?\s]*)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_PATH = re.compile(r"^\.(?P<sub>(?:/[^\[\]]*)?)(?:\[(?P<extras>[^\]]*)\])?$")


class InstallError(MlspecError, ValueError):
    """`project.install` is not one of the accepted forms: a message and a hint saying what to write."""

    def __init__(self, message: str, hint: str = FORMS_HINT) -> None:
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class Install:
    """A parsed `project.install`: its form, what it names (version, file, URL or folder) and its extras."""

    form: str  # pin | lock | git | path
    target: str
    extras: tuple[str, ...] = ()

    def light(self) -> str:
        """The pip argument for jobs that only validate, compile, plan, report or comment: no extras."""
        return self._argument(())

    def runtime(self, extras: Iterable[str] = ()) -> str:
        """The pip argument for jobs that run models: the `runtime` extra, `extras` and the spec's own."""
        return self._argument(sorted({RUNTIME, *self.extras, *extras}))

    def state(self, extras: Iterable[str] = ()) -> str:
        """The pip argument for jobs that only read or write run records: the `state` extra and `extras`."""
        return self._argument(sorted({STATE, *self.extras, *extras}))

    def serving(self, extras: Iterable[str] = ()) -> str:
        """The pip argument for a serving image: the `serve` extra (which brings the runtime) and `extras`."""
        return self._argument(sorted({SERVE, *self.extras, *extras}))

    def _argument(self, extras: Iterable[str]) -> str:
        suffix = f"[{','.join(extras)}]" if extras else ""
        if self.form == "pin":
            return f"{DIST}{suffix}=={self.target}"
        if self.form == "git":
            return f"{DIST}{suffix} @ {self.target}"
        if self.form == "path":
            return f"{self.target}{suffix}"
        return self.target  # a lock file is the whole environment


def normalize(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): lowercase, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def default(version: str) -> Install:
    """The install used when the spec names none: this mlspec's version, pinned."""
    return Install("pin", version)


def parse(text: str) -> Install:
    """Parse `project.install`, or raise `InstallError` saying why it is refused and what to write."""
    if not text:
        raise InstallError("project.install is empty")
    if text.startswith("-"):
        raise InstallError(f"'{text}' starts with '-', which pip would read as an option")
    if text != text.strip() or any(c.isspace() for c in text.replace(" @ ", "")):
        raise InstallError(f"'{text}' contains whitespace; it must name exactly one thing to install")
    if text.startswith(".") and (len(text) == 1 or text[1] in "/[."):
        return _path(text)
    if text.endswith(".txt") and "==" not in text and "[" not in text and "://" not in text:
        return Install("lock", _relative(text, text, "requirements file"))
    if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
        raise InstallError(f"'{text}' is an absolute path, outside the repository",
                           "write a path relative to the repository root: \"./sub\" or \"requirements/mlspec.txt\"")
    if "git+" in text or "://" in text:
        return _url(text)
    return _pin(text)


def _pin(text: str) -> Install:
    match = _NAME.match(text)
    if match is None:
        raise InstallError(f"'{text}' is not a package requirement")
    name, op, version = match["name"], match["op"], match["version"]
    if op is None and version:
        raise InstallError(f"'{text}' is not a package requirement")
    extras = _extras(match["extras"], text, known=True)
    written = f"{DIST}[{','.join(extras)}]" if extras else DIST
    if normalize(name) == "mlspec":
        example = f"{written}=={version}" if op == "==" and _VERSION.match(version) else f"{written}==X.Y.Z"
        raise InstallError(f"'{text}' names the distribution 'mlspec', which on PyPI is another project: mlspec "
                           f"is published as {DIST}", f'write "{example}"')
    if normalize(name) != DIST:
        raise InstallError(f"'{text}' installs '{name}', not {DIST}")
    if op is None:
        raise InstallError(f"'{text}' is not pinned, so each run could install another version",
                           f'pin an exact version: "{written}==X.Y.Z"')
    if op != "==":
        raise InstallError(f"'{text}' is not an exact pin ({op})", f'pin an exact version: "{written}==X.Y.Z"')
    if "*" in version:
        raise InstallError(f"'{text}' pins with a wildcard", f'pin an exact version: "{written}==X.Y.Z"')
    if not _VERSION.match(version):
        raise InstallError(f"'{version}' is not a version number", f'pin an exact version: "{written}==X.Y.Z"')
    return Install("pin", version, extras)


def _url(text: str) -> Install:
    if not text.startswith("git+https://") and " @ git+https://" not in text:
        raise InstallError(f"'{text}' is not an install form mlspec accepts (only git+https:// URLs, pinned to "
                           "a commit)")
    if any(c in text for c in "#?"):
        raise InstallError(f"'{text}' has a '#' or '?' part", "write git+https://HOST/OWNER/REPO@<40-hex commit>, "
                           "with nothing after the commit")
    match = _GIT.match(text)
    if match is None or "@" in text.split("://", 1)[1].split("/", 1)[0]:
        raise InstallError(f"'{text}' is not a git URL of the form git+https://HOST/OWNER/REPO@<40-hex commit>",
                           "no user name or password in the URL; the repository must be readable without them")
    if any(segment in (".", "..") for segment in match["path"].split("/")):
        raise InstallError(f"'{text}' has a '.' or '..' path segment")
    if match["name"] is not None and normalize(match["name"]) != DIST:
        raise InstallError(f"'{text}' installs '{match['name']}', not {DIST}")
    if not _SHA.match(match["ref"]):
        raise InstallError(f"'{text}' does not pin a commit ('{match['ref']}' could move)",
                           "write the full 40-character commit SHA after '@'")
    extras = _extras(match["extras"], text, known=True)
    return Install("git", text.split(" @ ", 1)[-1], extras)


def _path(text: str) -> Install:
    match = _PATH.match(text)
    if text.startswith(".."):
        raise InstallError(f"path '{text}' leaves the repository (..)")
    if match is None:
        raise InstallError(f"'{text}' is not a path form such as '.', './sub' or '.[extras]'")
    sub = match["sub"].strip("/")
    folder = "." if not sub else "./" + _relative(sub, text, "path")
    return Install("path", folder, _extras(match["extras"], text, known=False))


def _relative(path: str, text: str, what: str) -> str:
    """`path` (from `text`) if it stays inside the repository, or an `InstallError`."""
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path) or "\\" in path:
        raise InstallError(f"{what} '{text}' is not a relative path inside the repository")
    parts = path.split("/")
    if ".." in parts:
        raise InstallError(f"{what} '{text}' leaves the repository (..)")
    if any(not _SEGMENT.match(part) for part in parts):
        raise InstallError(f"{what} '{text}' has an empty part, a part starting with '-' or '.', or characters "
                           "other than letters, digits, '.', '_' and '-'")
    return path


def _extras(text: str | None, whole: str, *, known: bool) -> tuple[str, ...]:
    if text is None:
        return ()
    names = [e.strip() for e in text.split(",")]
    for name in names:
        if not _EXTRA.match(name):
            raise InstallError(f"'{whole}' has an invalid extra '{name}'", "extras are lowercase names: [postgres]")
        if known and name not in EXTRAS:
            raise InstallError(f"'{whole}' asks for the extra '{name}', which {DIST} does not have",
                               f"choose from {', '.join(EXTRAS)}")
    return tuple(sorted(set(names)))


def lock_problems(path: str, text: str | None) -> list[str]:
    """What would make `pip install --require-hashes -r path` fail or miss the runtime in a generated job
    (`text` is the file's content, None when it is missing): warnings for `mlspec compile`."""
    if text is None:
        return [f"project.install names {path}, which is not in the repository: the generated jobs' install "
                "would fail"]
    requirements = [line.strip() for line in text.replace("\\\n", " ").splitlines()
                    if line.strip() and not line.lstrip().startswith(("#", "-"))]
    names = {normalize(re.split(r"[\[=<>!~;@ ]", line, maxsplit=1)[0]) for line in requirements}
    problems = []
    if any("--hash=" not in line for line in requirements):
        problems.append(f"{path} has requirements without --hash=, which pip install --require-hashes refuses")
    if DIST not in names:
        problems.append(f"{path} does not list {DIST}, so the generated jobs would not install mlspec")
    elif not {"pandas", "scikit-learn"} <= names:
        problems.append(f"{path} does not pin pandas and scikit-learn: lock {DIST}[runtime] (and the extras the "
                        "project needs), which the jobs that train, gate, promote and monitor install from it")
    return problems
