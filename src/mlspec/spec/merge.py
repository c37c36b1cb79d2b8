"""Merge validated spec files into one `SpecSet`, checking names and duplicates across files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mlspec.diagnostics import Diagnostic, Pointer, Related
from mlspec.spec.damage import Damage
from mlspec.spec.names import column_problem, name_problem, suggest_name
from mlspec.spec.v1.models import KIND_OF_SECTION, SECTIONS, SpecFile
from mlspec.spec.v1.project import Project

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Entry(Generic[T]):
    """A named spec object and the file it was written in."""

    name: str
    file: str
    spec: T

    def at(self, section: str, *path: str | int, part: str = "value") -> Pointer:
        """A pointer into this entry, e.g. `entry.at('models', 'label')`."""
        return Pointer(self.file, (section, self.name, *path), part)


class Section(dict):
    """One kind's entries by name, knowing which names exist but were set aside as damaged.

    Checks look entries up as in any dict; `ref` asks `hides` before calling a name unknown.
    """

    def __init__(self, entries=(), section: str = "", damage: Damage | None = None) -> None:
        super().__init__(entries)
        self.section = section
        self.damage = damage

    def hides(self, name: str) -> bool:
        """True when `name` may be an entry of this kind that a finding already set aside."""
        return self.damage is not None and self.damage.hides(self.section, name)


@dataclass(frozen=True)
class SpecSet:
    """Every spec file merged: the project settings and each kind's entries, sorted by name.

    `project` is None only while validating a project whose project section is itself broken.
    """

    project: Entry[Project] | None
    sources: dict[str, Entry] = field(default_factory=dict)
    features: dict[str, Entry] = field(default_factory=dict)
    models: dict[str, Entry] = field(default_factory=dict)
    gates: dict[str, Entry] = field(default_factory=dict)
    monitors: dict[str, Entry] = field(default_factory=dict)

    @property
    def project_entry(self) -> Entry[Project]:
        """The project section, which every check after the merge and every valid set has (ValueError if not)."""
        if self.project is None:
            raise ValueError("the specs have no valid project section")
        return self.project


def merge(files: list[tuple[str, SpecFile]], damage: Damage | None = None) -> tuple[SpecSet | None, list[Diagnostic]]:
    """Merge files in path order; report bad names, duplicates and the project section count.

    `damage` names what earlier findings set aside; without it every file is whole.
    """
    diags: list[Diagnostic] = []
    sections: dict[str, dict[str, Entry]] = {s: {} for s in SECTIONS}
    projects: list[Entry[Project]] = []
    damage = damage if damage is not None else Damage()
    twice: set[tuple[str, str]] = set()
    for file, spec in files:
        if spec.project is not None:
            projects.append(Entry(spec.project.name, file, spec.project))
        for section in SECTIONS:
            table = sections[section]
            kind = KIND_OF_SECTION[section]
            for name, obj in getattr(spec, section).items():
                problem = name_problem(name)
                if problem is not None:
                    # still merged, so references to it resolve and do not add knock-on errors
                    diags.append(Diagnostic("MLS106", f"invalid {kind} name '{name}': {problem}",
                                            Pointer(file, (section, name), "key"),
                                            f"rename it, for example to '{suggest_name(name)}'"))
                first = table.get(name)
                if first is not None:
                    diags.append(Diagnostic(
                        "MLS200", f"{kind} '{name}' is defined twice", Pointer(file, (section, name), "key"),
                        f"{kind} names are unique across all spec files; rename or remove one",
                        related=(Related(Pointer(first.file, (section, name), "key"), "first defined here"),)))
                    # which copy the user means is unknown: checking the rest against the first (the file name
                    # that sorts first) would report whatever the copies disagree on, so neither is kept
                    damage.names[section].add(name)
                    twice.add((section, name))
                    continue
                table[name] = Entry(name, file, obj)
                diags.extend(_inner_names(section, name, file, obj))
    for section, name in twice:
        del sections[section][name]
    if not projects and damage.project:
        return SpecSet(project=None, **{s: Section(sorted(sections[s].items()), s, damage) for s in SECTIONS}), diags
    if not projects:
        first_file = files[0][0] if files else "specs"
        diags.append(Diagnostic("MLS215", "no project section in any spec file", Pointer(first_file, (), "key"),
                                "add a 'project:' section with at least 'name:' to one file"))
        return None, diags
    for extra in projects[1:]:
        diags.append(Diagnostic(
            "MLS215", "the project section is defined more than once", Pointer(extra.file, ("project",), "key"),
            "keep one project section across all spec files",
            related=(Related(Pointer(projects[0].file, ("project",), "key"), "first defined here"),)))
    spec_set = SpecSet(project=projects[0],
                       **{s: Section(sorted(sections[s].items()), s, damage) for s in SECTIONS})
    return spec_set, diags


def _inner_names(section: str, name: str, file: str, obj) -> list[Diagnostic]:
    """Names inside an entry: column names, tags and row-check names follow the naming rules too."""
    diags = []
    if section == "sources":
        contract = obj.columns
        written = ([((c,), c) for c in contract] if isinstance(contract, dict)
                   else [(("add", c), c) for c in contract.add])  # dropped and overridden ones are the other's
        for path, column in written:
            problem = column_problem(column)
            if problem is not None:
                diags.append(Diagnostic("MLS106", f"invalid column name '{column}': {problem}",
                                        Pointer(file, (section, name, "schema", *path), "key"),
                                        "rename the column in the data, or pick a source column that is valid"))
        seen: dict[str, int] = {}
        for i, check in enumerate(obj.checks.rows):
            problem = name_problem(check.name)
            if problem is not None:
                diags.append(Diagnostic("MLS106", f"invalid check name '{check.name}': {problem}",
                                        Pointer(file, (section, name, "checks", "rows", i, "name")),
                                        f"rename it, for example to '{suggest_name(check.name)}'"))
            elif check.name in seen:
                diags.append(Diagnostic("MLS200", f"row check '{check.name}' is defined twice in source '{name}'",
                                        Pointer(file, (section, name, "checks", "rows", i, "name")),
                                        "give each row check its own name"))
            seen[check.name] = i
    for i, tag in enumerate(getattr(obj, "tags", ()) or ()):
        problem = name_problem(tag)
        if problem is not None:
            diags.append(Diagnostic("MLS106", f"invalid tag '{tag}': {problem}",
                                    Pointer(file, (section, name, "tags", i)),
                                    f"use '{suggest_name(tag)}'"))
    return diags
