"""Training processes, started before they are needed so that their imports overlap the run's checks.

Importing pandas, scikit-learn and skops costs about 1.5 s here, more than fitting a small model.
`mlspec run` starts one training process the moment it is invoked: while that process imports the
training stack, the run loads and validates the specs, consults the cache and checks the data
contracts on the other core. Models then train in that process on the data the run checked: the
process reads the file again and verifies its sha256 instead of checking the contract twice (see
`steps.reload_checked` for why the data is not handed over pickled). When nothing needs training,
the process is killed unused. More processes are started, cold, only when several models train in
parallel (`--jobs`).

Parent and process talk through a private socket pair (`multiprocessing.connection`), one pickled
message at a time; both ends are this package, so nothing untrusted is ever unpickled. Where a socket
cannot be handed to a child process (not POSIX), `start` returns an empty pool and the runner trains
one model at a time in its own process, as it always can.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

from mlspec.runtime.errors import RunError, TrainingError, environment_error

_BOOT = "import json, sys; sys.path[:] = json.loads(sys.argv[2]); from mlspec.runtime.trainers import main; main()"

# What every training run imports; the estimator's own module is imported once the manifest is known.
_STACK = ("numpy", "pandas", "sklearn.base", "sklearn.model_selection", "sklearn.compose", "sklearn.pipeline",
          "sklearn.preprocessing", "sklearn.impute", "sklearn.metrics", "skops.io", "threadpoolctl",
          "mlspec.runtime.train", "mlspec.runtime.steps")


class TrainerProcess:
    """One training process and the parent's end of its connection."""

    def __init__(self) -> None:
        ours, theirs = Pipe(duplex=True)
        try:
            # -P: the working directory is the user's repository and must not shadow a module; the
            # parent's import path is handed over instead, as multiprocessing's spawn does, without
            # the entries that stand for the working directory
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-c", _BOOT, str(theirs.fileno()), json.dumps(_import_path())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._conn = ours
        self._manifest: str | None = None  # the manifest text the process was sent
        self._sending: threading.Thread | None = None
        self.used = False
        self.dead = False

    def send_manifest(self, manifest_json: str) -> None:
        """Hand the process the manifest now, so it imports the estimators' modules while the run goes on.

        Sent from a thread: the process reads it only once its imports are done, and a large manifest
        would otherwise block the run until then.
        """
        if self._manifest is manifest_json:
            return
        self._manifest = manifest_json
        self._sending = threading.Thread(target=self._send, args=(("manifest", manifest_json),), daemon=True)
        self._sending.start()

    def _send(self, message: tuple) -> None:
        with contextlib.suppress(OSError):  # the process died; the next train() reports how
            self._conn.send(message)

    def train(self, manifest_json: str, root: Path, node_id: str, threads: int, fingerprint: str | None) -> tuple:
        """Train one model there; returns (record, seconds, error) like an in-process run.

        The error is None, a RunError, or an OSError the environment raised there (a full disk).

        `fingerprint` is the sha256 of the source data this run checked (see `steps.reload_checked`).
        """
        self.used = True
        self.send_manifest(manifest_json)
        try:
            self._sending.join()
            self._conn.send(("train", str(root), node_id, threads, fingerprint))
            outcome = self._conn.recv()
        except (EOFError, OSError) as exc:
            self.dead = True
            try:  # the connection can break a moment before the process is gone
                code = self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()
            if code == 130:
                raise TrainingError(f"training {node_id} was interrupted") from exc
            how = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
            raise TrainingError(f"the training process for {node_id} died ({how})",
                                hint="out of memory? try fewer parallel jobs (-j 1) or a smaller dataset") from exc
        if outcome[0] == "crash":  # a bug, not a user mistake: show the process's traceback
            raise RuntimeError(f"training {node_id} crashed in its process:\n{outcome[1]}")
        return outcome[1:]

    def close(self) -> None:
        """Let a used process finish and exit; kill one that was never used (it may still be importing)."""
        if not self.used:
            self._process.kill()
        if self._sending is not None:
            self._sending.join()
        self._conn.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class TrainerPool:
    """Up to `size` training processes, lent to one training at a time."""

    def __init__(self, warm: TrainerProcess | None = None) -> None:
        self._idle: queue.SimpleQueue[TrainerProcess] = queue.SimpleQueue()
        self._all: list[TrainerProcess] = []
        self._lock = threading.Lock()
        if warm is not None:
            self._all.append(warm)
            self._idle.put(warm)

    # handing a socket to a child process needs POSIX; elsewhere models train in the run's own process
    supported = os.name == "posix"

    def prepare(self, manifest_json: str) -> None:
        """Send the manifest to the processes already started (see `TrainerProcess.send_manifest`)."""
        for process in self._all:
            process.send_manifest(manifest_json)

    @property
    def warm(self) -> bool:
        """Whether a process was started ahead of need (then even one model trains out of process)."""
        return bool(self._all)

    def train(self, size: int, manifest_json: str, root: Path, node_id: str, threads: int,
              fingerprint: str | None) -> tuple:
        """Train in an idle process, starting one while fewer than `size` exist.

        A process that died is not lent again: the next training starts a fresh one.
        """
        with self._lock:
            try:
                process = self._idle.get_nowait()
            except queue.Empty:
                process = TrainerProcess() if len(self._all) < size else None
                if process is not None:
                    self._all.append(process)
        if process is None:
            process = self._idle.get()
        try:
            return process.train(manifest_json, root, node_id, threads, fingerprint)
        finally:
            if process.dead:
                with self._lock:
                    self._all.remove(process)
                process.close()
            else:
                self._idle.put(process)

    def close(self) -> None:
        """Stop every process."""
        for process in self._all:
            process.close()
        self._all.clear()


_early: TrainerPool | None = None


def start() -> TrainerPool:
    """A pool with one process already importing the training stack (none where that is unsupported).

    The pool `start_early` made, when there is one, is handed over instead of starting another.
    """
    global _early
    pool, _early = _early, None
    if pool is not None:
        return pool
    if not TrainerPool.supported:
        return TrainerPool()
    try:
        return TrainerPool(TrainerProcess())
    except OSError:
        return TrainerPool()


def start_early() -> None:
    """Start the pool now, for `start` to hand over later; killed at exit if nobody claims it."""
    global _early
    import atexit

    _early = start()
    atexit.register(_early.close)


# -- the process's side ---------------------------------------------------------------------------


def _import(modules) -> None:
    import importlib

    for name in modules:
        with contextlib.suppress(ImportError):  # the task reports it properly if it needs the module
            importlib.import_module(name)


def _estimator_modules(manifest) -> list[str]:
    return sorted({node.class_path.split(":", 1)[0] for node in manifest.nodes.values() if node.kind == "model"})


def _train(manifest, root: str, node_id: str, threads: int, fingerprint: str | None) -> tuple:
    from threadpoolctl import threadpool_limits

    from mlspec.runtime import steps

    started = time.perf_counter()
    paths = steps.Paths.of(manifest, Path(root))
    model = manifest.nodes[node_id]
    with threadpool_limits(limits=threads):
        try:
            dataset = steps.reload_checked(manifest.nodes[f"source.{model.source}"], paths.root, fingerprint,
                                           manifest)
            record = steps.train_model(manifest, model, paths, dataset)
        except RunError as exc:
            return "done", None, 0.0, exc
        except OSError as exc:
            if environment_error(exc) is None:
                raise
            return "done", None, 0.0, exc  # a full disk, a read-only folder: the parent says so, not a crash
    return "done", record, time.perf_counter() - started, None


def serve(conn: Connection) -> int:
    """Import the training stack, then train what the parent sends until it hangs up."""
    import traceback

    _import(_STACK)
    from mlspec.manifest import Manifest

    manifest = None
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return 0
        if message[0] == "manifest":
            manifest = Manifest.model_validate_json(message[1])
            _import(_estimator_modules(manifest))
            continue
        try:
            outcome = _train(manifest, *message[1:])
        except Exception:
            outcome = ("crash", traceback.format_exc())
        conn.send(outcome)


def _import_path() -> list[str]:
    """The parent's import path, without the entries that mean the working directory ("" and its path)."""
    here = str(Path.cwd())
    return [os.fspath(p) for p in sys.path
            if isinstance(p, str | os.PathLike) and os.fspath(p) not in ("", ".", here)]


def main() -> None:
    """The process's entry point (see `_BOOT`): serve the connection passed as the first argument."""
    fd = int(sys.argv[1])
    os.set_inheritable(fd, False)  # a process forked from here (joblib...) must not hold the parent's socket
    try:
        code = serve(Connection(fd))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        code = 130
    # Every result was written and sent already. Skipping the interpreter's teardown of pandas and
    # scikit-learn (about 0.3 s of freeing modules) lets the run finish that much sooner.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
