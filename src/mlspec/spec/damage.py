"""What a spec file's mistakes make unknown, so the rest of the project can still be checked.

A schema error in one model says nothing about another model, or about another file: validation
reports every independent finding in one run. So the entries (a source, a feature, a model...)
that a YAML or schema finding falls in are set aside as *damaged*, the rest of the file is
validated again without them, and cross-file checks run on what is left. A reference to a damaged
entry is not reported as unknown: the entry exists, it is only broken, and its own finding says
why. Where a mistake hides what a file defines (a syntax error, an unknown section such as
`model:`), every name of that kind may exist, and no reference to that kind is reported as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from mlspec.diagnostics import Diagnostic
from mlspec.spec.v1.models import SECTIONS
from mlspec.yamlpos.positions import map_file


@dataclass
class Damage:
    """Entries set aside by earlier findings: by section, their names; or whole sections."""

    names: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SECTIONS})
    whole: set[str] = field(default_factory=set)  # sections whose every name may exist
    project: bool = False  # a project section may exist but is broken

    def everything(self) -> None:
        """A file whose content is unknown could define anything."""
        self.whole.update(SECTIONS)
        self.project = True

    def hides(self, section: str, name: str) -> bool:
        """True when `name` may be a damaged entry of `section` (so "unknown" would be noise)."""
        return section in self.whole or name in self.names[section]

    def merge(self, other: Damage) -> None:
        """Add another file's damage to this one."""
        for section, names in other.names.items():
            self.names[section].update(names)
        self.whole.update(other.whole)
        self.project = self.project or other.project


def from_loc(loc: tuple, damage: Damage) -> None:
    """Record what a schema error at `loc` (a pydantic error location) damages."""
    if not loc:
        damage.everything()
    elif loc[0] == "project":
        damage.project = True
    elif loc[0] in SECTIONS and len(loc) >= 2 and isinstance(loc[1], str):
        damage.names[loc[0]].add(loc[1])
    else:  # a section that is not a mapping, or an unknown top-level key that may be a misspelt section
        damage.everything()


def from_schema_error(exc: ValidationError) -> Damage:
    """What a file's schema errors damage."""
    damage = Damage()
    for error in exc.errors():
        from_loc(tuple(error["loc"]), damage)
    return damage


def from_loader(file: str, text: str, findings: Iterable[Diagnostic]) -> Damage:
    """What a file's YAML findings damage: the entries whose text holds them.

    A refused value (an ambiguous `no`, a repeated key) is kept in the loaded data, so the entry
    around it would otherwise be checked with a value the user may not have meant.
    """
    damage = Damage()
    findings = list(findings)
    if not findings:
        return damage
    if any(d.span is None or d.span.file != file for d in findings):
        damage.everything()
        return damage
    # keys in reading order: a finding belongs to the last top-level or entry key before it
    marks = sorted(((key.line, key.col), path) for path, (key, *_rest) in map_file(file, text).items()
                   if key is not None and (len(path) == 1 or (len(path) == 2 and path[0] in SECTIONS)))
    for finding in findings:
        assert finding.span is not None  # findings without a place returned above
        place = (finding.span.line, finding.span.col)
        owner = next((path for at, path in reversed(marks) if at <= place), ())
        from_loc(owner if owner == ("project",) or len(owner) == 2 else (), damage)
    return damage


def strip(data: dict, damage: Damage) -> dict:
    """`data` without its damaged entries, sections and project, ready to validate again."""
    cleaned = {}
    for key, value in data.items():
        if key == "project" and damage.project:
            continue
        if key in SECTIONS:
            if key in damage.whole or not isinstance(value, dict):
                continue
            value = {n: v for n, v in value.items() if n not in damage.names[key]}
        elif key not in ("apiVersion", "project"):
            continue  # an unknown key: already reported, and already made every name possible
        cleaned[key] = value
    return cleaned
