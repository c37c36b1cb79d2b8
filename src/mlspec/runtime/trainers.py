"""Training in worker processes: a standard-library process pool, started only when a model trains.

Importing pandas, scikit-learn and skops takes longer than fitting a small model (benchmarks/README.md § Figures
behind code comments), and a thread cannot overlap it (imports hold the GIL). So the runner creates this pool as
soon as its cache says a model will train, before it checks the data contracts: multiprocessing's fork server
imports the training stack on the other core meanwhile, and every worker is forked from it with the stack loaded
(`-j 2` pays the imports once). A run with nothing to train creates no pool, starts no process and imports none of
the stack.

Each worker is a one-process `ProcessPoolExecutor` that trains one model at a time, so a worker the
operating system kills (out of memory) fails only the model it was training, with a message, and the
next training gets a fresh worker. A worker reads the source file again and verifies the sha256 this
run checked instead of receiving the frame pickled (see `steps.reload_checked`): the same spec and
data then give the same artifact bytes in a worker and in process. Processes forked by the server end
with `os._exit`, so stopping a worker does not wait for scikit-learn's teardown.

The repository being run is untrusted (a pull request): the server and the multiprocessing resource
tracker start with PYTHONSAFEPATH (`python -P`), so a `multiprocessing.py` or `numpy.py` in the
working directory is not imported, and a worker drops the working directory from the import path the
run hands it before importing anything of its own.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.runtime.errors import TrainingError

if TYPE_CHECKING:
    from mlspec.manifest import Manifest

# What every training imports, loaded once by the fork server (an ImportError there is left for the
# training to report); the estimators' own modules are added from the manifest.
_STACK = ("numpy", "pandas", "sklearn.base", "sklearn.model_selection", "sklearn.compose", "sklearn.pipeline",
          "sklearn.preprocessing", "sklearn.impute", "sklearn.metrics", "skops.io", "threadpoolctl",
          "mlspec.manifest", "mlspec.runtime.train", "mlspec.runtime.steps", "mlspec.runtime.trainers",
          "concurrent.futures.process")

# worker processes exist only where multiprocessing has a fork server; elsewhere models train in the run's process
supported = os.name == "posix"


class TrainingPool:
    """Up to `size` worker processes, each lent to one training at a time; the fork server starts at once."""

    def __init__(self, manifest_json: str, estimator_modules: list[str], size: int) -> None:
        self._manifest_json = manifest_json
        self._size = size
        self._idle: queue.SimpleQueue[ProcessPoolExecutor] = queue.SimpleQueue()
        self._workers: list[ProcessPoolExecutor] = []
        self._lock = threading.Lock()
        self._context = _fork_server([*_STACK, *estimator_modules])

    def train(self, root: Path, node_id: str, threads: int, fingerprint: str | None) -> tuple[dict, float]:
        """Train one model in a worker on `threads` BLAS/OpenMP threads; its record and the seconds it took.

        `fingerprint` is the sha256 of the source data this run checked (None: the worker checks it).
        The training's own errors (`RunError`, a refused write) are raised here as they were there; a
        worker that died is a `TrainingError`, and the next training starts a fresh one.
        """
        worker, alive = self._lend(), True
        processes = _processes(worker)  # to say how it ended should it die (a new worker's starts with submit)
        try:
            future = worker.submit(_train, str(root), node_id, threads, fingerprint)
            processes = processes or _processes(worker)
            return future.result()
        except BrokenProcessPool:
            with self._lock:
                self._workers.remove(worker)
            worker.shutdown(wait=True)  # its thread has then read how the process ended (one reader only)
            alive = False
            raise TrainingError(f"the training process for {node_id} died ({_ended(processes)})",
                                hint="out of memory? try fewer parallel jobs (-j 1) or a smaller dataset") from None
        finally:
            if alive:
                self._idle.put(worker)

    def _lend(self) -> ProcessPoolExecutor:
        """An idle worker, a new one while fewer than `size` exist, else the next to come back."""
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                if len(self._workers) < self._size:
                    worker = ProcessPoolExecutor(1, mp_context=self._context, initializer=_start_worker,
                                                 initargs=(self._manifest_json,))
                    self._workers.append(worker)
                    return worker
        return self._idle.get()

    def close(self) -> None:
        """Stop every worker (an idle one exits at once), then the fork server."""
        for worker in self._workers:
            worker.shutdown(wait=True, cancel_futures=True)
        self._workers.clear()
        _stop_fork_server()


def _fork_server(preload: list[str]):
    """multiprocessing's forkserver context, its server started now and importing `preload`."""
    import multiprocessing
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload)  # no effect once a server runs: this process's first pool decides
    saved = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"  # read by the interpreters started here, not by this one
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONSAFEPATH"]
        else:
            os.environ["PYTHONSAFEPATH"] = saved
    return context


def _stop_fork_server() -> None:
    """Kill the fork server now that no worker needs it (the next pool starts another).

    Left to notice that this process ended, it exits through the interpreter's teardown of pandas and scikit-learn
    (a noticeable cost: benchmarks/README.md § Figures behind code comments), holding this process's stdout and
    stderr open meanwhile, so whatever reads them waits. The standard library reaches the server only through
    private names.
    """
    from multiprocessing import forkserver

    server = forkserver._forkserver
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)  # it holds nothing of ours: every worker has exited
    server._stop()  # type: ignore[attr-defined]  # reaps it and forgets it (no public way)


def _processes(worker: ProcessPoolExecutor) -> list:
    """The worker's process: how it ended is known only from it, and an executor keeps its processes private
    (read while the executor runs; it drops them when it shuts down)."""
    return list((getattr(worker, "_processes", None) or {}).values())


def _ended(processes: list) -> str:
    """How a dead worker ended, e.g. "killed by signal 9" (its process, when the executor showed it)."""
    codes = [p.exitcode for p in processes if p.exitcode is not None]
    if not codes:
        return "it stopped without a result"
    return f"exit code {codes[0]}" if codes[0] >= 0 else f"killed by signal {-codes[0]}"


# -- the worker's side ----------------------------------------------------------------------------

_manifest: Manifest | None = None  # the run's manifest, read once per worker by `_start_worker`


def _start_worker(manifest_json: str) -> None:
    """A worker's initializer: leave the working directory off the import path, read the manifest, import
    the estimators' modules (before the first training asks for them)."""
    global _manifest
    here = str(Path.cwd())
    sys.path[:] = [p for p in sys.path if p not in ("", ".", here)]
    from mlspec.manifest import Manifest

    _manifest = Manifest.model_validate_json(manifest_json)
    for name in estimator_modules(_manifest):
        with contextlib.suppress(ImportError):  # the training reports it properly
            __import__(name)


def estimator_modules(manifest) -> list[str]:
    """The modules of the manifest's estimators (`sklearn.linear_model`...), for the workers to import ahead."""
    return sorted({node.class_path.split(":", 1)[0] for node in manifest.nodes.values() if node.kind == "model"})


def _train(root: str, node_id: str, threads: int, fingerprint: str | None) -> tuple[dict, float]:
    from threadpoolctl import threadpool_limits

    from mlspec.manifest import ModelNode
    from mlspec.runtime import steps

    started = time.perf_counter()
    if _manifest is None:
        raise RuntimeError("a training process runs only after _start_worker read the manifest")
    paths = steps.Paths.of(_manifest, Path(root))
    model = _manifest.node(node_id, ModelNode)
    with threadpool_limits(limits=threads):
        dataset = steps.reload_checked(_manifest.source(model.source), paths.root, fingerprint, _manifest)
        record = steps.train_model(_manifest, model, paths, dataset)
    return record, time.perf_counter() - started
