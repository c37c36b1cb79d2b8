"""Training in worker processes (`mlspec.runtime.trainers`) and the console entry point's fast exit.

Real processes, real models: a model trained in a worker is byte-identical to one trained in process,
and `-j 1` and `-j 2` register the same artifacts; errors come back with their message and hint; a
worker the operating system kills is reported and leaves no candidate and no registry entry; the
user's working directory cannot shadow a module in a worker; a run with nothing to train starts no
process and imports no training stack; and `mlspec run` through the console script (with its fast
exit) keeps its exit codes and its whole output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlspec import api
from mlspec.runtime import steps, trainers
from mlspec.runtime.errors import DataError, TrainingError
from tests.conftest import REPO
from tests.e2e.test_run import (
    assert_nothing_registered,
    make_frame,
    make_project,
    messages,
    mlspec,
    run_results,
    show,
    spec_doc,
    statuses,
)

MLSPEC = [sys.executable, "-m", "mlspec"]


def load(root: Path):
    project = api.load(root)
    assert project.ok, project.diagnostics
    return project.manifest


def checked(manifest, root: Path):
    return steps.check_source(manifest.nodes["source.events"], root)


def pool_for(manifest, size: int = 1) -> trainers.TrainingPool:
    return trainers.TrainingPool(manifest.model_dump_json(), trainers.estimator_modules(manifest), size)


def test_a_model_trained_in_a_worker_is_the_same_as_in_process(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    paths = steps.Paths.of(manifest, root)
    dataset = checked(manifest, root)
    in_process = steps.train_model(manifest, manifest.nodes["model.risk_gbm"], paths, dataset)
    pool = pool_for(manifest)
    try:
        record, seconds = pool.train(root, "model.risk_gbm", 2, dataset.fingerprint)
        assert seconds > 0
        assert record["sha256"] == in_process["sha256"]
        assert record["metrics"] == in_process["metrics"]
        assert record["profile"] == in_process["profile"]
        # the same worker trains the next model too, from the manifest it already holds
        record, _ = pool.train(root, "model.risk_lr", 1, dataset.fingerprint)
        assert record["model"] == "risk_lr"
    finally:
        pool.close()


def test_minus_j_1_and_2_register_byte_identical_artifacts(tmp_path: Path) -> None:
    """The thread budget differs (two threads a training at -j 1 on two cores, one at -j 2), and
    HistGradientBoosting records it while fitting: the artifact must not."""
    registered = []
    for jobs in ("1", "2"):
        root = make_project(tmp_path / f"j{jobs}")
        result = mlspec(root, "run", "-j", jobs)
        assert result.code == 0, result.stderr
        registered.append({m: show(root, m)["artifact_sha256"] for m in ("risk_lr", "risk_gbm")})
        stored = {m: run_results(root)[f"model.{m}"]["outputs"]["sha256"] for m in ("risk_lr", "risk_gbm")}
        assert stored == registered[-1]
    assert registered[0] == registered[1]
    # and a second -j 1 run on the project -j 2 trained finds the same bytes already registered
    again = mlspec(tmp_path / "j2", "run", "--force", "-j", "1")
    assert again.code == 0, again.stderr
    assert "already registered as v1" in messages(again.stderr)["gate.risk_gbm_release"]


def test_a_training_error_comes_back_with_its_message_and_hint(tmp_path: Path) -> None:
    frame = make_frame()
    frame["label"] = 1  # one class: an error before fitting
    doc = spec_doc()
    doc["sources"]["events"]["schema"]["label"]["values"] = [1]
    root = make_project(tmp_path, doc, frame)
    manifest = load(root)
    pool = pool_for(manifest)
    try:
        with pytest.raises(TrainingError) as caught:
            pool.train(root, "model.risk_lr", 1, checked(manifest, root).fingerprint)
    finally:
        pool.close()
    assert "single class" in caught.value.message
    assert caught.value.hint


def test_data_that_changed_after_the_check_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    dataset = checked(manifest, root)
    with (root / "data" / "events.csv").open("a", encoding="utf-8") as handle:
        handle.write("99999,2024-12-01T00:00:00,0.5,web,3,40,10.0,1\n")
    pool = pool_for(manifest)
    try:
        with pytest.raises(DataError) as caught:
            pool.train(root, "model.risk_lr", 1, dataset.fingerprint)
    finally:
        pool.close()
    assert "data/events.csv changed while the run was using it" in caught.value.message
    assert not steps.Paths.of(manifest, root).candidate("risk_lr").exists()


def test_a_worker_that_died_is_reported_and_replaced(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    manifest = load(root)
    paths = steps.Paths.of(manifest, root)
    fingerprint = checked(manifest, root).fingerprint
    pool = pool_for(manifest)
    try:
        pool.train(root, "model.risk_lr", 1, fingerprint)
        (worker,) = pool._workers
        (process,) = trainers._processes(worker)
        # as the kernel's OOM killer would; not joined here: the executor reads how it ended, once
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(TrainingError, match=r"training process for model\.risk_gbm died \(killed by signal 9\)") \
                as caught:
            pool.train(root, "model.risk_gbm", 1, fingerprint)
        assert "-j 1" in caught.value.hint
        assert not paths.candidate("risk_gbm").exists()
        assert paths.candidate("risk_lr").exists()  # what finished before stays
        # the dead worker is not lent again: the next model trains in a new one
        record, _ = pool.train(root, "model.risk_gbm", 1, fingerprint)
        assert record["model"] == "risk_gbm"
        assert pool._workers and worker not in pool._workers
    finally:
        pool.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    except OSError:
        return []
    return [int(child) for child in text.split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the worker through /proc (Linux)")
def test_a_worker_killed_while_training_fails_that_model_only(tmp_path: Path) -> None:
    """Through the CLI: the worker (a child of the run's fork server) is killed while it trains a model big
    enough to take seconds; the run says so, the model has no candidate and nothing of it is registered."""
    doc = spec_doc()
    doc["models"] = {"risk_gbm": {**doc["models"]["risk_gbm"], "params": {"max_iter": 3000, "learning_rate": 0.01,
                                                                        "early_stopping": False}}}
    doc["gates"] = {"risk_gbm_release": doc["gates"]["risk_gbm_release"]}
    root = make_project(tmp_path, doc, make_frame(rows=20_000))
    run = subprocess.Popen([*MLSPEC, "-C", str(root), "run", "-j", "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    killed = None
    while killed is None and run.poll() is None:
        workers = [w for server in _children(run.pid) for w in _children(server)]
        if workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    _, stderr = run.communicate(timeout=600)
    assert killed is not None, stderr
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert statuses(stderr) == {"source.events": "OK", "model.risk_gbm": "ERROR", "gate.risk_gbm_release": "SKIP"}
    assert "the training process for model.risk_gbm died (killed by signal 9)" in stderr
    assert "help: out of memory? try fewer parallel jobs (-j 1) or a smaller dataset" in stderr
    assert not (root / ".mlspec" / "candidates" / "risk_gbm.json").exists()
    assert_nothing_registered(root)


def test_a_run_with_nothing_to_train_starts_no_process_and_imports_no_training_stack(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert mlspec(root, "run").code == 0
    code = ("import atexit, os, sys\n"
            "def report():\n"
            "    heavy = sorted(m for m in ('pandas', 'sklearn', 'numpy', 'skops', 'multiprocessing',\n"
            "                               'mlspec.runtime.trainers') if m in sys.modules)\n"
            "    pid = os.getpid()\n"
            "    children = open(f'/proc/{pid}/task/{pid}/children').read().split() if os.path.isdir('/proc') else []\n"
            "    print('HEAVY=' + ','.join(heavy), 'CHILDREN=' + ','.join(children))\n"
            "atexit.register(report)\n"
            "from mlspec.cli.entry import main\n"
            f"sys.argv = ['mlspec', '-C', {str(root)!r}, 'run']\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    assert set(statuses(result.stderr).values()) == {"SKIP"}
    assert result.stdout.splitlines()[-1] == "HEAVY= CHILDREN="


def test_the_working_directory_cannot_shadow_a_module_in_a_worker(tmp_path: Path) -> None:
    """The repository being run is untrusted (a pull request): a numpy.py in it must not be imported."""
    root = make_project(tmp_path / "repo")
    marker = tmp_path / "shadowed"
    for name in ("json", "numpy", "pandas", "sklearn", "skops", "multiprocessing"):
        (root / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('{name}')\n", encoding="utf-8")
    manifest = load(root)
    dataset = checked(manifest, root)
    old = Path.cwd()
    os.chdir(root)
    sys.path.insert(0, "")  # as under `python -c` or `python -m mlspec` run from the repository
    try:
        pool = pool_for(manifest)
        try:
            record, _ = pool.train(root, "model.risk_lr", 1, dataset.fingerprint)
        finally:
            pool.close()
    finally:
        sys.path.remove("")
        os.chdir(old)
    assert record["model"] == "risk_lr"
    assert not marker.exists()


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
