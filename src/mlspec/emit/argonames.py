"""Spec names as Argo and Kubernetes names: DNS-1123 labels, one to one.

Argo takes template and task names of letters, digits and `-`; Kubernetes object names are DNS-1123 (lower
case, at most 63 characters, and a CronWorkflow at most 52, since each run's name adds 11). Spec names hold
`_`, so a name becomes a *part*:

- a node name (`[a-z][a-z0-9_]*`, which never holds `-`) maps `_` to `-`: `fraud_gbm` -> `fraud-gbm`, and
  `-` back to `_` gives the name again;
- a project name may hold both `-` and `_` (`churn-eu` and `churn_eu` are two projects that could share a
  namespace), so it is kept as it is only when it holds no `_`;
- anything else (a part that would end in `-`, hold `--`, be too long or end like a hashed part, a project
  name with `_`, a node name with `-`) is hashed: its mapped text, shortened, then `-h` and the first 8 hex
  digits of the SHA-256 of the name. Kept parts never end in `-h` and 8 hex digits; hashed ones always do.

Names join parts after a fixed word saying what they are (`train-fraud-gbm`, `gate-fraud-gbm-release`); an
object's name is the project's part, `--`, then that (`fraud-detection--monitor-fraud-gbm-drift`). No part
holds `--`, so the project's part and the rest are told apart, and names of different projects never meet.
An object name over its limit is hashed as a whole (its text without `--`, shortened, `-h`, the digits of
the whole name), which no kept object name can equal (they all hold `--`).

So two names can only meet if two hashed texts share their first 32 bits of SHA-256; `Names` checks every
name a compile writes and refuses the specs (naming both) if that ever happens, rather than write one
object over another.
"""

from __future__ import annotations

import hashlib
import re

from mlspec.errors import MlspecError

LABEL_LIMIT = 63  # a DNS-1123 label; Argo's limit for a WorkflowTemplate's name
CRON_LIMIT = 52  # a CronWorkflow's name: its runs are named NAME-<10-digit time>
PART_LIMIT = 50  # a part, so that a word of up to 12 characters and `-` still fit in a label
_DIGITS = 8
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_HASHED = re.compile(r"-h[0-9a-f]{8}$")


def _kept(text: str, limit: int) -> bool:
    return len(text) <= limit and _LABEL.fullmatch(text) is not None and "--" not in text \
        and _HASHED.search(text) is None


def _hashed(raw: str, text: str, limit: int) -> str:
    """`text` shortened to fit `limit` with `-h` and the digits of `raw` (no `--`, no `-` at either end)."""
    digest = hashlib.sha256(raw.encode()).hexdigest()[:_DIGITS]
    base = re.sub(r"[^a-z0-9]+", "-", text.lower())[:limit - len(digest) - 2].strip("-") or "x"
    return f"{base}-h{digest}"


def node_part(name: str) -> str:
    """A node's name as a part: `_` -> `-`, or hashed (see the module's docstring)."""
    mapped = name.replace("_", "-")
    return mapped if "-" not in name and _kept(mapped, PART_LIMIT) else _hashed(name, mapped, PART_LIMIT)


def project_part(name: str) -> str:
    """The project's name as a part: itself when it holds no `_`, else hashed."""
    return name if "_" not in name and _kept(name, LABEL_LIMIT) else _hashed(name, name, LABEL_LIMIT)


def named(word: str, name: str) -> str:
    """A template's or task's name: `word` (lower-case letters) and the node name's part."""
    return f"{word}-{node_part(name)}"


def object_name(project: str, what: str, limit: int = LABEL_LIMIT) -> str:
    """A Kubernetes object's name: the project's part, `--`, `what` (a word or a `named` name); hashed as a
    whole when longer than `limit`."""
    whole = f"{project_part(project)}--{what}"
    return whole if len(whole) <= limit else _hashed(whole, whole, limit)


class Names:
    """The names one compile writes, by where they must differ (a document's templates, its tasks, the objects of
    one kind); `add` refuses a name already given to something else."""

    def __init__(self) -> None:
        self._given: dict[tuple[str, str], str] = {}

    def add(self, scope: str, name: str, meaning: str) -> str:
        """`name`, recorded in `scope` as standing for `meaning` (e.g. "model fraud_gbm")."""
        earlier = self._given.setdefault((scope, name), meaning)
        if earlier != meaning:
            raise MlspecError(f"{earlier} and {meaning} get the same Argo name '{name}' (their hashed names share "
                              "their first 32 bits)", hint="rename one of them")
        return name
