"""Training processes (`mlspec.runtime.trainers`) and the console entry point that starts one early.

Real processes, real models: a model trained in a training process is byte-identical to one trained
in process; errors come back with their details; a process that dies is reported, not a traceback,
and leaves no candidate; an unused process is killed; the user's working directory cannot shadow a
module in the process; and `mlspec run` through the console script (with its fast exit) keeps its
exit codes and its whole output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec import api
from mlspec.cli.entry import subcommand
from mlspec.runtime import steps, trainers
from mlspec.runtime.errors import TrainingError
from tests.e2e.test_run import make_frame, make_project, spec_doc, statuses

MLSPEC = [sys.executable, "-m", "mlspec"]


def load(root: Path):
    project = api.load(root)
    assert project.ok, project.diagnostics
    return project.manifest


def checked(manifest, root: Path):
    return steps.check_source(manifest.nodes["source.events"], root)


@pytest.fixture
def pool():
    started = trainers.TrainerPool(trainers.TrainerProcess())
    yield started
    started.close()


def test_a_model_trained_in_a_training_process_is_the_same_as_in_process(tmp_path: Path, pool) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    paths = steps.Paths.of(manifest, root)
    dataset = checked(manifest, root)
    in_process = steps.train_model(manifest, manifest.nodes["model.risk_gbm"], paths, dataset)
    record, seconds, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_gbm", 2, dataset.fingerprint)
    assert error is None and seconds > 0
    assert record["sha256"] == in_process["sha256"]
    assert record["metrics"] == in_process["metrics"]
    assert record["profile"] == in_process["profile"]
    # the same process trains the next model too, from the manifest it already holds
    record, _, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_lr", 1, dataset.fingerprint)
    assert error is None and record["model"] == "risk_lr"


def test_a_training_error_comes_back_with_its_message_and_hint(tmp_path: Path, pool) -> None:
    frame = make_frame()
    frame["label"] = 1  # one class: an error before fitting
    doc = spec_doc()
    doc["sources"]["events"]["schema"]["label"]["values"] = [1]
    root = make_project(tmp_path, doc, frame)
    manifest = load(root)
    fingerprint = checked(manifest, root).fingerprint
    record, _, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_lr", 1, fingerprint)
    assert record is None
    assert isinstance(error, TrainingError)
    assert "single class" in error.message or "one class" in error.message
    assert error.hint


def test_a_bug_in_the_process_brings_back_its_traceback(tmp_path: Path, pool) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    with pytest.raises(RuntimeError, match=r"(?s)crashed in its process.*KeyError.*model\.missing"):
        pool.train(1, manifest.model_dump_json(), root, "model.missing", 1, None)


def test_a_process_that_died_is_reported_leaves_no_candidate_and_is_replaced(tmp_path: Path, pool) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    paths = steps.Paths.of(manifest, root)
    fingerprint = checked(manifest, root).fingerprint
    _, _, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_lr", 1, fingerprint)
    assert error is None
    first = pool._idle.get()
    pool._idle.put(first)
    first._process.kill()  # as the kernel's OOM killer would
    first._process.wait()
    died = r"training process for model\.risk_gbm died \(killed by signal 9\)"
    with pytest.raises(TrainingError, match=died) as caught:
        pool.train(1, manifest.model_dump_json(), root, "model.risk_gbm", 1, fingerprint)
    assert "-j 1" in caught.value.hint
    assert not paths.candidate("risk_gbm").exists()
    assert paths.candidate("risk_lr").exists()  # what finished before stays
    # the dead process is not lent again: the next model trains in a new one
    record, _, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_gbm", 1, fingerprint)
    assert error is None and record["model"] == "risk_gbm"
    assert pool._all and first not in pool._all


def test_an_unused_process_is_killed_and_a_used_one_exits_by_itself(tmp_path: Path) -> None:
    unused = trainers.TrainerProcess()
    process, calls = unused._process, []
    real_kill, real_wait = process.kill, process.wait
    process.kill = lambda: (calls.append("kill"), real_kill())[1]
    process.wait = lambda *args, **kwargs: (calls.append("wait"), real_wait(*args, **kwargs))[1]
    unused.close()
    assert calls[0] == "kill"  # killed before anything waits for it: not left to finish importing scikit-learn
    assert process.returncode == -9

    root = make_project(tmp_path)
    manifest = load(root)
    used = trainers.TrainerProcess()
    _, _, error = used.train(manifest.model_dump_json(), root, "model.risk_lr", 1, checked(manifest, root).fingerprint)
    assert error is None
    used.close()
    assert used._process.returncode == 0


def test_the_working_directory_cannot_shadow_a_module_in_the_process(tmp_path: Path) -> None:
    """The repository being run is untrusted (a pull request): a numpy.py in it must not be imported."""
    root = make_project(tmp_path / "repo")
    marker = tmp_path / "shadowed"
    for name in ("json", "numpy", "pandas", "sklearn", "skops"):
        (root / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('{name}')\n", encoding="utf-8")
    manifest = load(root)
    dataset = checked(manifest, root)
    old = Path.cwd()
    os.chdir(root)
    sys.path.insert(0, "")  # as under `python -c` or `python -m mlspec` run from the repository
    try:
        process = trainers.TrainerProcess()
        try:
            _, _, error = process.train(manifest.model_dump_json(), root, "model.risk_lr", 1, dataset.fingerprint)
        finally:
            process.close()
    finally:
        sys.path.remove("")
        os.chdir(old)
    assert error is None
    assert not marker.exists()


def test_start_hands_over_the_early_pool_once() -> None:
    trainers.start_early()
    try:
        first = trainers.start()
        assert first.warm
        second = trainers.start()
        assert second is not first
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(("argv", "expected"), [
    (["run"], "run"),
    (["-C", "run", "validate"], "validate"),  # "run" is the project folder here
    (["--project", "x", "run", "-s", "model:a"], "run"),
    (["--project=x", "run"], "run"),
    (["validate", "run"], "validate"),
    (["--help"], None),
    ([], None),
])
def test_the_entry_point_finds_the_subcommand(argv: list[str], expected: str | None) -> None:
    assert subcommand(argv) == expected


@pytest.mark.slow
def test_mlspec_run_through_the_console_entry_keeps_exit_codes_and_output(tmp_path: Path) -> None:
    """The entry point skips the interpreter's teardown once pandas is loaded: output and codes must survive."""
    doc = spec_doc()
    root = make_project(tmp_path, doc)
    first = subprocess.run([*MLSPEC, "-C", str(root), "run"], capture_output=True, text=True, check=False,
                           timeout=600)
    assert first.returncode == 0, first.stderr
    assert set(statuses(first.stderr).values()) == {"OK"}
    assert first.stderr.rstrip().endswith("(see: mlspec registry ls)")
    assert (root / ".mlspec" / "run_results.json").is_file()

    doc["gates"]["risk_lr_release"]["require"] = ["roc_auc >= 0.999"]
    make_project(tmp_path, doc)
    failed = subprocess.run([*MLSPEC, "-C", str(root), "run", "-s", "+gate:risk_lr_release"], capture_output=True,
                            text=True, check=False, timeout=600)
    assert failed.returncode == 1
    assert statuses(failed.stderr)["gate.risk_lr_release"] == "FAIL"
    assert "Failures:" in failed.stderr and failed.stderr.rstrip().endswith("(see: mlspec registry ls)")



def test_data_that_changed_after_the_check_is_refused(tmp_path: Path, pool) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    dataset = checked(manifest, root)
    with (root / "data" / "events.csv").open("a", encoding="utf-8") as handle:
        handle.write("99999,2024-12-01T00:00:00,0.5,web,3,40,10.0,1\n")
    record, _, error = pool.train(1, manifest.model_dump_json(), root, "model.risk_lr", 1, dataset.fingerprint)
    assert record is None
    assert "data/events.csv changed while the run was using it" in error.message
    assert not steps.Paths.of(manifest, root).candidate("risk_lr").exists()
