"""Find, load and validate a project's spec files: the front end's single entry point.

Phases run in order and each reports all of its findings: strict YAML loading of every file, the
schema of each file (pydantic), then checks across files (names, duplicates, references). An entry
with a YAML or schema finding is set aside (`spec.damage`) and everything else goes on to the
checks across files, which say nothing about what was set aside: every independent finding is
reported in one run, and one mistake does not cascade into many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from mlspec.diagnostics import Diagnostic, KeyPath, Pointer, Severity, Span, has_errors, sort_key
from mlspec.spec import loader
from mlspec.spec.damage import Damage, from_loader, from_schema_error, strip
from mlspec.spec.merge import SpecSet, merge
from mlspec.spec.schema_errors import translate
from mlspec.spec.semantics import Facts, check
from mlspec.spec.v1.models import API_VERSION, SpecFile
from mlspec.yamlpos.sourcemap import SourceMap

SPEC_DIR = "specs"
MAX_TOTAL_BYTES = 256 * 1024 * 1024
SPEC_SUFFIXES = (".yaml", ".yml")


class Valid(NamedTuple):
    """What a valid project's specs say: the merged spec and what its checks learnt."""

    spec: SpecSet
    facts: Facts


@dataclass
class Validated:
    """The front end's result: the merged spec when valid, and every diagnostic, placed."""

    spec: SpecSet | None
    facts: Facts | None
    diagnostics: list[Diagnostic]
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.valid is not None

    @property
    def valid(self) -> Valid | None:
        """The spec and its facts when there is no error (warnings allowed), else None: the typed form of `ok`."""
        if self.spec is None or self.facts is None or has_errors(self.diagnostics):
            return None
        return Valid(self.spec, self.facts)

    def source_lines(self) -> dict[str, list[str]]:
        """Lines of every spec file, for rendering snippets."""
        return {path: split_lines(text) for path, text in self.texts.items()}


def split_lines(text: str) -> list[str]:
    """Lines as YAML and editors count them: only LF (or CRLF) ends a line, never NEL or U+2028."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def discover(root: Path) -> tuple[list[tuple[str, Path]], list[Diagnostic]]:
    """Every spec file under `root/specs`, as (display path, real path), sorted by display path."""
    spec_dir = root / SPEC_DIR
    if spec_dir.is_symlink() or not spec_dir.is_dir():
        return [], [Diagnostic("MLS001", f"no '{SPEC_DIR}/' folder in {root}", None,
                               "run 'mlspec init' to start a project, or pass --project DIR")]
    found: list[tuple[str, Path]] = []
    diags: list[Diagnostic] = []
    for path in spec_dir.rglob("*"):
        display = path.relative_to(root).as_posix()
        if path.suffix not in SPEC_SUFFIXES:
            if path.suffix.lower() in SPEC_SUFFIXES and path.is_file():
                diags.append(Diagnostic("MLS017", "not read: spec file names end in .yaml or .yml, in "
                                        "lower case", Span(display, 1, 1), "rename it if it is a spec",
                                        severity=Severity.WARNING))
            continue
        if path.is_symlink() or any(p.is_symlink() for p in path.relative_to(root).parents if str(p) != "."):
            diags.append(Diagnostic("MLS001", f"spec file {display} is a symbolic link", Span(display, 1, 1),
                                    "specs must be regular files inside specs/; copy the file instead"))
            continue
        if path.is_file():
            found.append((display, path))
    found.sort(key=lambda item: item[0])
    if not found and not has_errors(diags):
        diags.append(Diagnostic("MLS001", f"no spec files (*.yaml, *.yml) under {SPEC_DIR}/", None,
                                "run 'mlspec init' to create a starter spec"))
    return found, diags


def load_texts(files: list[tuple[str, Path]], raws: dict[str, bytes] | None = None
               ) -> tuple[dict[str, str], list[Diagnostic]]:
    """Read and decode every file; refuse oversized, non-UTF-8 and hidden-character files.

    A file `raws` holds (by display path) is taken from there instead of read again."""
    texts: dict[str, str] = {}
    diags: list[Diagnostic] = []
    total = 0
    for display, path in files:
        try:
            raw = raws[display] if raws is not None and display in raws else path.read_bytes()
        except OSError as exc:
            diags.append(Diagnostic("MLS001", f"cannot read {display}: {exc.strerror}", Span(display, 1, 1), None))
            continue
        total += len(raw)
        if total > MAX_TOTAL_BYTES:
            diags.append(Diagnostic("MLS002", f"spec files exceed {MAX_TOTAL_BYTES:,} bytes in all",
                                    Span(display, 1, 1), "keep data out of specs/"))
            break
        text, problems = loader.decode(display, raw)
        diags.extend(problems)
        # a refused file is still shown (escaped) in the diagnostics, so keep a display copy
        texts[display] = text if text is not None else raw.decode("utf-8", errors="replace")
    return texts, diags


def validate_texts(texts: dict[str, str], refused: frozenset[str] = frozenset()) -> Validated:
    """Validate already-read spec texts (display path -> text); the pure core of validation.

    Files in `refused` could not be decoded: they are kept only for display, and cross-file checks
    do not run without them (they would report knock-on errors).
    """
    diags: list[Diagnostic] = []
    datas: dict[str, tuple[object, Damage]] = {}
    damage = Damage()
    names = sorted(set(texts) - refused)
    if refused:
        damage.everything()  # a file that could not be read may define anything
    for display, (data, problems) in zip(names, [loader.parse(name, texts[name]) for name in names], strict=True):
        diags.extend(problems)
        if data is not None or not problems:
            # findings that keep a value (a refused `no`) still let the schema run
            datas[display] = (data, from_loader(display, texts[display], problems))
        else:
            damage.everything()
    sourcemap = SourceMap(texts)
    parsed: list[tuple[str, SpecFile]] = []
    for display, (data, set_aside) in datas.items():
        spec_file, problems, broken = _schema(display, data, texts[display], sourcemap, set_aside)
        diags.extend(problems)
        damage.merge(set_aside)
        damage.merge(broken)
        if spec_file is not None:
            parsed.append((display, spec_file))
    spec: SpecSet | None = None
    facts: Facts | None = None
    if parsed:
        # what is valid is checked across files even beside broken parts: every independent finding at once
        spec, problems = merge(parsed, damage)
        diags.extend(problems)
        if spec is not None:
            facts, problems = check(spec)
            diags.extend(problems)
    placed = _drop_echoes(sorted(sourcemap.locate(diags), key=sort_key))
    whole = not refused and len(parsed) == len(texts)
    return Validated(spec if whole and not has_errors(placed) else None, facts, placed, texts)


def _drop_echoes(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Drop a later-phase finding at exactly the place of a loader finding (the same mistake twice)."""
    loader_places = {(d.span.file, d.span.line, d.span.col) for d in diags
                     if d.span is not None and d.code < "MLS100"}
    return [d for d in diags if d.code < "MLS100" or d.span is None
            or (d.span.file, d.span.line, d.span.col) not in loader_places]


def validate_project(root: Path, raws: dict[str, bytes] | None = None) -> Validated:
    """Find, read and validate every spec file of the project at `root` (those `raws` holds: from there)."""
    files, diags = discover(root)
    return _validate_files(files, diags, raws)


def validate_bytes(raws: dict[str, bytes]) -> Validated:
    """Validate spec files given as bytes (display path -> bytes), as if found under a project's `specs/`."""
    return _validate_files([(display, Path(display)) for display in sorted(raws)], [], raws)


def _validate_files(files: list[tuple[str, Path]], diags: list[Diagnostic], raws: dict[str, bytes] | None
                    ) -> Validated:
    texts, problems = load_texts(files, raws)
    diags.extend(problems)
    refused = frozenset(d.span.file for d in problems if d.span is not None)
    if not texts:
        return Validated(None, None, sorted(diags, key=sort_key), texts)
    result = validate_texts(texts, refused)
    result.diagnostics = sorted(diags + result.diagnostics, key=sort_key)
    return result


def _schema(display: str, data: object, text: str, sourcemap: SourceMap,
            damage: Damage) -> tuple[SpecFile | None, list[Diagnostic], Damage]:
    """Validate one file's data; on schema errors, also the rest of the file without the broken entries.

    Returns the (possibly partial) file, the findings, and what they set aside. `damage` holds what
    the loader's findings set aside already: those entries are validated (their schema errors are
    independent findings) but are not kept.
    """
    broken = Damage()
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        broken.everything()
        return None, [Diagnostic("MLS016", f"a spec file must be a mapping of sections, but this one is {what}",
                                 Span(display, 1, 1), f"start the file with 'apiVersion: {API_VERSION}'")], broken
    findings = _version_findings(display, data)
    if findings:
        broken.everything()
        return None, findings, broken
    try:
        spec_file, findings = SpecFile.model_validate(data), []
    except ValidationError as exc:
        lines = split_lines(text)

        def raw_text(path: KeyPath) -> str | None:
            if sourcemap.style(display, path) != "":
                return None
            span = sourcemap.place(Pointer(display, path))
            if span is None or span.end_col is None or span.line > len(lines):
                return None
            return lines[span.line - 1][span.col - 1 : span.end_col - 1]

        spec_file, findings = None, translate(exc, display, data, SpecFile, raw_text)
        broken = from_schema_error(exc)
    if spec_file is None or damage.project or any(damage.names.values()) or damage.whole:
        both = Damage()
        both.merge(damage)
        both.merge(broken)
        try:
            spec_file = SpecFile.model_validate(strip(data, both))
        except ValidationError:
            spec_file = None  # the rest still fails (a cross-field rule): treat the file as unknown
            broken.everything()
    return spec_file, findings, broken


def _version_findings(display: str, data: dict) -> list[Diagnostic]:
    """A missing or unsupported apiVersion: nothing else in the file can be read."""
    version = data.get("apiVersion")
    if version is None:
        close = [k for k in data if isinstance(k, str) and k.lower().replace("_", "") == "apiversion"]
        if close:
            return [Diagnostic("MLS100", "missing apiVersion", Pointer(display, (close[0],), "key"),
                               f"the key is spelt apiVersion (capital V), not {close[0]}")]
        return [Diagnostic("MLS100", "missing apiVersion", Pointer(display, (), "key"),
                           f"add 'apiVersion: {API_VERSION}' as the first line")]
    if version != API_VERSION:
        hint = (f"this mlspec reads {API_VERSION}; write apiVersion: {API_VERSION}"
                if isinstance(version, str) and version.startswith("mlspec/")
                else f"write apiVersion: {API_VERSION}")
        return [Diagnostic("MLS100", f"unsupported apiVersion {version!r}", Pointer(display, ("apiVersion",)),
                           hint)]
    return []
