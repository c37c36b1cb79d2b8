"""`mlspec.forkjoin.beside`: the same results as plain calls, on two cores or one, whatever fails.

Also: compile's output is byte-identical whether emit forks or not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mlspec import forkjoin

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not forkjoin.usable(), reason="fork is used on Linux, single-threaded, only")
pytestmark = pytest.mark.usefixtures("single_threaded")  # fork is used only while no other thread runs


@linux_only
def test_the_child_runs_in_another_process_and_both_results_come_back() -> None:
    parent = os.getpid()
    big = bytes(range(256)) * 200_000  # 51 MB: far more than a pipe holds
    (child_pid, child_data), here = forkjoin.beside(lambda: (os.getpid(), big), lambda: [os.getpid(), "here"])
    assert child_pid != parent
    assert child_data == big
    assert here == [parent, "here"]


def test_with_another_thread_alive_nothing_forks() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not forkjoin.usable()
        child_pid, here_pid = forkjoin.beside(os.getpid, os.getpid)
    finally:
        stop.set()
        other.join()
    assert child_pid == here_pid == os.getpid()


@linux_only
def test_an_exception_in_the_child_is_raised_by_a_plain_call_here() -> None:
    calls = []

    def child():
        calls.append(os.getpid())
        raise ValueError("bad spec value")

    with pytest.raises(ValueError, match="bad spec value"):
        forkjoin.beside(child, lambda: "here")
    assert calls == [os.getpid()]  # the child's own attempt is not visible here; the retry here is


@linux_only
def test_an_exception_here_does_not_wait_forever_for_a_child_with_a_full_pipe() -> None:
    """Run in a fresh interpreter with a timeout: a deadlock would hang the test run otherwise."""
    code = textwrap.dedent("""
        from mlspec import forkjoin
        def here():
            raise KeyError("here failed")
        try:
            forkjoin.beside(lambda: b"x" * 50_000_000, here)
        except KeyError:
            print("raised")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == "raised\n"


@linux_only
def test_buffered_output_and_exit_handlers_of_the_parent_do_not_run_twice() -> None:
    code = textwrap.dedent("""
        import atexit, sys
        from mlspec import forkjoin
        atexit.register(lambda: print("exit handler"))
        sys.stdout.write("buffered before the fork|")
        print(forkjoin.beside(lambda: 1, lambda: 2))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == "buffered before the fork|(1, 2)\nexit handler\n"


@linux_only
def test_a_child_reaped_by_someone_else_counts_as_failed_and_falls_back() -> None:
    """With SIGCHLD ignored, the kernel reaps the child itself and waitpid fails: a plain call decides."""
    import signal

    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert forkjoin.beside(lambda: os.getpid(), lambda: "here") == (os.getpid(), "here")
    finally:
        signal.signal(signal.SIGCHLD, previous)


@linux_only
def test_validation_is_the_same_whether_the_files_are_parsed_on_two_cores_or_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mlspec.spec import loader, validate
    from tests.spec_factory import generate_project

    project = tmp_path / "project"
    texts = generate_project(3, 400)
    names = sorted(texts)
    # findings in files of both halves: a syntax error, a YAML 1.1 ambiguity, an unknown key
    texts[names[1]] = texts[names[1]].replace("apiVersion:", "apiVersion: [", 1)
    texts[names[-1]] = texts[names[-1]] + "\nextra_section: no\n"
    for path, text in texts.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text, encoding="utf-8")
    pids = tmp_path / "pids"
    real_parse = loader.parse

    def parse(name, text):
        with pids.open("a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        return real_parse(name, text)

    monkeypatch.setattr(loader, "parse", parse)
    monkeypatch.setattr(validate, "_FORK_FROM_CHARS", 0)
    forked = validate.validate_project(project)
    assert len(set(pids.read_text(encoding="utf-8").split()) - {str(os.getpid())}) == 1  # a child parsed some
    monkeypatch.setattr(validate, "_FORK_FROM_CHARS", 10**12)
    plain = validate.validate_project(project)
    assert {d.code for d in plain.diagnostics} >= {"MLS005", "MLS011"}
    assert forked.diagnostics == plain.diagnostics
    assert forked.spec == plain.spec and forked.facts == plain.facts

    clean = tmp_path / "clean"
    for path, text in generate_project(3, 400).items():
        (clean / path).parent.mkdir(parents=True, exist_ok=True)
        (clean / path).write_text(text, encoding="utf-8")
    monkeypatch.setattr(validate, "_FORK_FROM_CHARS", 0)
    forked = validate.validate_project(clean)
    monkeypatch.setattr(validate, "_FORK_FROM_CHARS", 10**12)
    plain = validate.validate_project(clean)
    assert forked.ok and forked.spec == plain.spec and forked.facts == plain.facts
