"""One error family: every exception class mlspec defines derives from `mlspec.errors.MlspecError`, and the
one handler says each as `mlspec: MESSAGE`, its notes and `  help: HINT`, with the error's exit code."""

from __future__ import annotations

import ast
import builtins
import pickle
from pathlib import Path

import pytest

from mlspec.cli.common import report
from mlspec.errors import MlspecError
from mlspec.runtime.errors import DataError

SRC = Path(__file__).resolve().parents[2] / "src" / "mlspec"
BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}


def _classes() -> dict[str, tuple[str, list[str]]]:
    """Every class in src: name -> (where, the names of its bases)."""
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                         if isinstance(b, ast.Name | ast.Attribute)]
                found[node.name] = (f"{path.relative_to(SRC)}:{node.lineno}", bases)
    return found


def test_every_exception_class_derives_from_mlspec_error() -> None:
    classes = _classes()
    family = {"MlspecError"}
    while True:  # the family's transitive members, by name
        grown = family | {name for name, (_, bases) in classes.items() if family & set(bases)}
        if grown == family:
            break
        family = grown
    outside = [f"{where} {name}{tuple(bases)}" for name, (where, bases) in classes.items()
               if name != "MlspecError" and BUILTIN_EXCEPTIONS & set(bases) and name not in family]
    assert outside == [], "exceptions outside the error family (derive them from mlspec.errors.MlspecError)"
    assert {"RunError", "PlanBaseError", "SelectorError", "UnsafePathError", "GitHubError", "ExprError"} <= family


def test_the_handler_says_message_notes_and_help_with_the_errors_code(capsys: pytest.CaptureFixture) -> None:
    error = DataError("source 'rows' breaks its data contract", hint="fix the data", where="specs/p.yaml:4",
                      details=["amount: 3 rows above 100"])
    assert report(error) == 1
    assert capsys.readouterr().err == ("mlspec: source 'rows' breaks its data contract\n"
                                       "    - amount: 3 rows above 100\n    spec: specs/p.yaml:4\n"
                                       "  help: fix the data\n")
    assert report(MlspecError("unknown arguments for gate.g: --x", exit_code=2)) == 2
    assert capsys.readouterr().err == "mlspec: unknown arguments for gate.g: --x\n"


def test_an_error_crosses_processes_whole() -> None:
    again = pickle.loads(pickle.dumps(DataError("broken", hint="fix it", details=["a"], where="p.yaml:1")))
    assert (again.message, again.hint, again.details, again.where, again.exit_code) == ("broken", "fix it", ["a"],
                                                                                        "p.yaml:1", 1)
    usage = pickle.loads(pickle.dumps(MlspecError("bad argument", exit_code=2)))
    assert (str(usage), usage.exit_code) == ("bad argument", 2)
