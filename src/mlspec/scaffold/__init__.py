"""`mlspec init`: write a starter project whose spec validates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def create(directory: Path) -> list[str]:
    """Write specs/project.yaml and schema/mlspec-v1.json under `directory`; never overwrite."""
    from mlspec.api import json_schema_text

    starter = resources.files(__package__).joinpath("starter.yaml").read_text(encoding="utf-8")
    targets = {Path("specs") / "project.yaml": starter, Path("schema") / "mlspec-v1.json": json_schema_text()}
    for relative in targets:
        if (directory / relative).exists():
            raise FileExistsError(f"{directory / relative} already exists")
    for relative, text in targets.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [str(directory / relative) for relative in targets]
