"""`sync.compare`: diffs only when asked, at most as many as asked, and never of a file too long to diff quickly.

Plain `mlspec compile` asks for none (computing them was most of a compile that updated 2,000 files:
about 10 s for a 237,000-line manifest); `compile --check` asks for a bounded number.
"""

from __future__ import annotations

from pathlib import Path

from mlspec.cli.compile import SHOWN_DIFFS
from mlspec.write.sync import DIFF_MAX_LINES, compare
from tests.conftest import run_cli
from tests.spec_factory import generate_project


def tree(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def test_no_diffs_unless_asked(tmp_path: Path) -> None:
    tree(tmp_path, {"generated/a.py": b"a = 1\n", "generated/b.py": b"b = 1\n"})
    changes = compare(tmp_path, {"generated/a.py": b"a = 2\n", "generated/b.py": b"b = 1\n"})
    assert changes.updated == ["generated/a.py"] and changes.unchanged == ["generated/b.py"]
    assert changes.diffs == {}


def test_at_most_the_diffs_asked_for_in_order(tmp_path: Path) -> None:
    tree(tmp_path, {f"generated/m{i}.py": b"x = 1\n" for i in range(3)})
    changes = compare(tmp_path, {f"generated/m{i}.py": b"x = 2\n" for i in range(3)}, diffs=2)
    assert changes.updated == ["generated/m0.py", "generated/m1.py", "generated/m2.py"]
    assert list(changes.diffs) == ["generated/m0.py", "generated/m1.py"]
    assert changes.diffs["generated/m0.py"] == ("--- a/generated/m0.py\n+++ b/generated/m0.py\n@@ -1 +1 @@\n"
                                                "-x = 1\n+x = 2\n")


def test_a_file_too_long_to_diff_gets_a_note(tmp_path: Path) -> None:
    old = "".join(f'  "line {i}": {i},\n' for i in range(DIFF_MAX_LINES + 1)).encode()
    new = old.replace(b'"line 7": 7,', b'"line 7": 8,')
    tree(tmp_path, {"generated/manifest.json": old, "generated/a.py": b"a = 1\n"})
    changes = compare(tmp_path, {"generated/manifest.json": new, "generated/a.py": b"a = 2\n"}, diffs=10)
    assert changes.diffs["generated/manifest.json"] == (
        "--- a/generated/manifest.json\n+++ b/generated/manifest.json\n(not shown: 10,001 lines before, 10,001 "
        "after; too long to diff here. `mlspec plan` shows what changed in the specs)\n")
    assert changes.diffs["generated/a.py"].endswith("-a = 1\n+a = 2\n")


def test_compile_check_lists_every_modified_file_and_shows_a_bounded_number_of_diffs(tmp_path: Path) -> None:
    for path, text in generate_project(3, 30).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert run_cli("-C", str(tmp_path), "compile").code == 0
    edited = sorted(p.relative_to(tmp_path).as_posix() for folder in ("generated", ".github")
                    for p in (tmp_path / folder).rglob("*") if p.suffix in (".py", ".yml"))
    assert len(edited) > SHOWN_DIFFS
    for path in edited:
        (tmp_path / path).write_text((tmp_path / path).read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    result = run_cli("-C", str(tmp_path), "compile", "--check")
    assert result.code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(line.split(None, 1)[1] for line in lines if line.startswith("modified:")) == edited
    shown = [line[len("--- a/"):] for line in lines if line.startswith("--- a/")]
    assert len(shown) == SHOWN_DIFFS and set(shown) <= set(edited)
    unshown = len(edited) - SHOWN_DIFFS
    assert lines[-1] == f"(the diffs of {unshown} more modified file{'s' if unshown > 1 else ''} are not shown)"
