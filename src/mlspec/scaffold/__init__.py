"""`mlspec init`: write a starter project whose spec validates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

IGNORED = ".mlspec/"  # local state: the SQLite registry, artifacts, candidates, the step cache


def create(directory: Path) -> list[str]:
    """Write specs/project.yaml, schema/mlspec-v1.json and sample data (data/customers.csv and a later batch,
    data/customers_live.csv, which the starter's monitor watches) under `directory`, never overwriting a
    file, and make .gitignore ignore `.mlspec/` (created, or the line appended when missing). Returns what
    was written."""
    from mlspec.api import json_schema_text
    from mlspec.scaffold.sample import files

    starter = resources.files(__package__).joinpath("starter.yaml").read_text(encoding="utf-8")
    targets = {Path("specs") / "project.yaml": starter, Path("schema") / "mlspec-v1.json": json_schema_text(),
               **{Path(path): text for path, text in files().items()}}
    for relative in targets:
        if (directory / relative).exists():
            raise FileExistsError(f"{directory / relative} already exists")
    for relative, text in targets.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    written = [str(directory / relative) for relative in targets]
    if _ignore_state(directory / ".gitignore"):
        written.append(str(directory / ".gitignore"))
    return written


def _ignore_state(path: Path) -> bool:
    """Add `.mlspec/` to a .gitignore (created when missing); False when it is already ignored there."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = {line.strip() for line in text.splitlines()}
    if lines & {IGNORED, ".mlspec", "/.mlspec", "/.mlspec/"}:
        return False
    prefix = text if not text or text.endswith("\n") else text + "\n"
    note = "# mlspec's local state (registry, artifacts, caches): `mlspec run` writes it"
    path.write_text(f"{prefix}{note}\n{IGNORED}\n", encoding="utf-8")
    return True
