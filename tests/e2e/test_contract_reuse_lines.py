"""A reused contract's failures cite the line that defines the column (issue #15).

A source that reuses another's contract (`schema: {like: events, ...}`) has no entry of its own for
the columns it inherits, so a failure on one cited only the file. Each failure now names the spec
line that defines the column: the other source's schema entry (in another file, across a chain of
reuse), or this source's own `override:` or `add:` entry. Run through the CLI on generated data.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc
from tests.spec_factory import dump

LIVE = {
    "apiVersion": "mlspec/v1",
    "sources": {
        "events_live": {"format": "csv", "path": "data/live.csv", "schema": {"like": "events", "drop": ["label"]},
                        "checks": {"min_rows": 1}},
        "events_later": {"format": "csv", "path": "data/later.csv", "checks": {"min_rows": 1}, "schema": {
            "like": "events_live",
            "override": {"channel": {"type": "category", "values": ["web", "app", "store", "kiosk"]}},
            "add": {"batch": {"type": "int", "min": 0}}}},
    },
}


def line_starting(path: Path, start: str, after: str = "") -> int:
    """The 1-based number of the first line starting with `start` below the first line starting with `after`."""
    lines = path.read_text("utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(after)) if after else 0
    return next(i for i, line in enumerate(lines) if i >= first and line.startswith(start)) + 1


def project(root: Path) -> Path:
    make_project(root, spec_doc())
    (root / "specs" / "live.yaml").write_text(dump(LIVE), encoding="utf-8")
    batch = make_frame(40, seed=2).drop(columns=["label"])
    batch.loc[[3, 7], "hour"] = 30  # breaks events' `hour` (max 23)
    batch.to_csv(root / "data" / "live.csv", index=False)
    later = batch.assign(batch=1)
    later.loc[[5], "channel"] = "phone"  # not among the values of the overriding entry
    later.loc[[9], "batch"] = -1  # breaks the added column (min 0)
    later.to_csv(root / "data" / "later.csv", index=False)
    return root


def failure_lines(stderr: str) -> dict[str, str]:
    """column -> the `(file:line)` its failure cites, from the run's error details."""
    found = {}
    for line in stderr.splitlines():
        if "column '" in line and "failed" in line and line.rstrip().endswith(")"):
            column = line.split("column '", 1)[1].split("'", 1)[0]
            found[column] = line.rstrip().rsplit("(", 1)[1][:-1]
    return found


def test_an_inherited_columns_failure_cites_the_defining_source_line_in_the_other_file(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = mlspec(root, "run", "-s", "source:events_live")
    assert result.code == 1
    risk = root / "specs" / "risk.yaml"
    hour = line_starting(risk, "      hour:", after="    schema:")
    assert failure_lines(result.stderr)["hour"] == f"specs/risk.yaml:{hour}", result.stderr


def test_a_chain_of_reuse_cites_the_original_override_and_add_entries(tmp_path: Path) -> None:
    root = project(tmp_path)
    result = mlspec(root, "run", "-s", "source:events_later")
    assert result.code == 1
    live = root / "specs" / "live.yaml"
    cited = failure_lines(result.stderr)
    assert cited["hour"] == f"specs/risk.yaml:{line_starting(root / 'specs' / 'risk.yaml', '      hour:')}"
    assert cited["channel"] == f"specs/live.yaml:{line_starting(live, '        channel:', after='      override:')}"
    assert cited["batch"] == f"specs/live.yaml:{line_starting(live, '        batch:', after='      add:')}"
