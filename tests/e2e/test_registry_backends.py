"""The registry contract, run against every backend: SQLite, PostgreSQL, S3 (a local moto server), a log in a
local folder (file://) and MLflow's registry (a real `mlflow server`, artifacts on the moto server).

* concurrent writers (4 processes x 25 registrations) get contiguous versions and lose nothing;
* concurrent gates on one candidate (8 and 32 processes registering the same artifact) register it
  once, and every one of them is told the same version;
* kill -9 at random moments (100 trials): the registry stays consistent, keeps every acknowledged
  version and still accepts registrations;
* a tampered artifact is refused before a byte of it reaches skops, and `verify` reports it;
* alias moves are compare-and-set and recorded in a history; rollback follows it.

Writers are real processes forked from a small server that imported mlspec once (importing takes
longer than a whole kill trial). Forked writers open their registry after the fork, so no client
state (connections, obstore's runtime) crosses a fork.

MLflow does not promise atomicity under kill -9 (a version, its alias and mlspec's history entry are
separate requests; see runtime/registry_mlflow.py), so the kill trials are not run against it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from mlspec.runtime.errors import RegistryError
from mlspec.runtime.registry import open_registry
from mlspec.state.artifacts import digest, key_for
from mlspec.state.stores import Blob, StoreError, probe

MODEL = "fraud"
PG_URL = os.environ.get("MLSPEC_TEST_PG_URL", "")
BACKENDS = ["sqlite", "postgresql", "s3", "file", "mlflow"]
MLFLOW_NO_KILL = ("MLflow's API has no transaction spanning a version, its alias and mlspec's history entry: a writer "
                  "killed between them leaves an unpointed version or an unrecorded move (`verify` reports it; "
                  "registering the artifact again completes the move), and its write lock held until the lease ends")

# argv: registry URI, artifacts URI, project root. Lines on stdin:
#   "go SEED LOG"        fork a writer registering distinct artifacts until killed (or COUNT of them when
#                        SEED is "SEED:COUNT"), printing "committed VERSION SHA" to LOG; answers "pid PID"
#   "race N SEED LOG"    fork N writers that each open the registry, wait at a barrier, then register the
#                        same artifact; each prints "raced VERSION CREATED" to LOG; answers "raced" at the end
#   "reap PID"           wait for a writer; answers "reaped STATUS"
SERVER = r"""
import os, random, sys
from pathlib import Path
from mlspec.runtime.registry import open_registry
from mlspec.state.artifacts import digest

uri, artifacts_uri, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if uri.startswith("mlflow+"):
    import mlflow.tracking  # once, before forking: each writer would spend seconds importing it

def answer(text):
    os.write(1, (text + "\n").encode())

def writer(seed, count, out):
    rng = random.Random(seed)
    registry = open_registry(uri, artifacts_uri, root, cache=root / "cache")
    done = 0
    while count == 0 or done < count:
        blob = rng.randbytes(rng.randint(1_000, 20_000))
        number = registry.register_once("fraud", blob, metrics={"n": done}, params={}, lineage={"writer": seed},
                                        profile={}, alias="champion", reason=f"writer {seed} #{done}",
                                        who=f"writer-{seed}")[0]
        os.write(out, f"committed {number} {digest(blob)}\n".encode())
        done += 1

def racer(blob, ready, gate, out):
    registry = open_registry(uri, artifacts_uri, root, cache=root / "cache")
    registry.versions("fraud")  # connected and warm before the start
    os.write(ready, b"r")
    os.read(gate, 1)
    number, created = registry.register_once("fraud", blob, metrics={}, params={}, lineage={}, profile={},
                                             alias="champion", reason="race")
    os.write(out, f"raced {number} {int(created)}\n".encode())

def child(run):
    try:
        run()
    except BaseException as exc:
        import traceback
        os.write(2, f"child failed: {exc!r}\n{traceback.format_exc()}".encode())
        os._exit(1)
    os._exit(0)

answer("ready")
for line in sys.stdin:
    command, *args = line.split()
    if command == "go":
        seed, _, count = args[0].partition(":")
        out = os.open(args[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        pid = os.fork()
        if pid == 0:
            child(lambda: writer(int(seed), int(count or 0), out))
        os.close(out)
        answer(f"pid {pid}")
    elif command == "race":
        n, seed = int(args[0]), int(args[1])
        blob = random.Random(seed).randbytes(10_000)
        out = os.open(args[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        ready_r, ready_w = os.pipe()
        gate_r, gate_w = os.pipe()
        pids = []
        for _ in range(n):
            pid = os.fork()
            if pid == 0:
                child(lambda: racer(blob, ready_w, gate_r, out))
            pids.append(pid)
        for _ in range(n):
            os.read(ready_r, 1)
        os.write(gate_w, b"g" * n)
        statuses = [os.waitpid(pid, 0)[1] for pid in pids]
        os.close(out)
        answer("raced " + " ".join(map(str, statuses)))
    elif command == "reap":
        answer(f"reaped {os.waitpid(int(args[0]), 0)[1]}")
"""


class Backend:
    """One registry backend under test: its URIs, the environment its processes need, and a way in."""

    def __init__(self, name: str, registry_uri: str, artifacts_uri: str, root: Path, env: dict[str, str],
                 tamper, settle=None) -> None:
        self.name, self.registry_uri, self.artifacts_uri, self.root = name, registry_uri, artifacts_uri, root
        self.env = env
        self.tamper = tamper  # (sha256, new bytes) -> None: replace a stored artifact behind mlspec's back
        # () -> None: wait until a killed writer can change nothing more. A database server finishes (or rolls
        # back) a dead client's transaction on its own time: a COMMIT already sent may land after the kill
        self.settle = settle or (lambda: None)

    def open(self, cache: Path | None = None):
        return open_registry(self.registry_uri, self.artifacts_uri, self.root, cache=cache)

    def server(self) -> WriterServer:
        return WriterServer(self)


class WriterServer:
    """The SERVER process of one backend."""

    def __init__(self, backend: Backend) -> None:
        env = {**os.environ, **backend.env}
        # stderr to a file, not a pipe: many writers' messages could fill a pipe nobody reads until the end
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, backend.registry_uri, backend.artifacts_uri,
                                      str(backend.root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, bufsize=0, env=env)
        assert self.ask(None) == "ready"

    def ask(self, line: str | None, timeout: float = 300.0) -> str:
        if line is not None:
            self.proc.stdin.write((line + "\n").encode())
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            answer = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if not answer:
            raise AssertionError(f"writer server ended: {self.errors()}")
        return answer.decode().strip()

    def errors(self) -> str:
        """The end of what the server and its writers printed to stderr."""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.stderr.close()


def committed(log: Path) -> list[tuple[int, str]]:
    """(version, sha256) of every registration a writer saw finish."""
    if not log.exists():
        return []
    lines = [line.split() for line in log.read_text().splitlines()]
    return [(int(parts[1]), parts[2]) for parts in lines if len(parts) == 3 and parts[0] == "committed"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path: Path) -> Backend:
    name = request.param
    root = tmp_path / "project"
    root.mkdir()

    def tamper_file(folder: Path):
        def tamper(sha: str, data: bytes) -> None:
            (folder / key_for(sha)).write_bytes(data)
        return tamper

    if name == "sqlite":
        yield Backend(name, "sqlite:///.mlspec/registry.db", ".mlspec/artifacts", root, {},
                      tamper_file(root / ".mlspec" / "artifacts"))
    elif name == "file":
        folder = tmp_path / "state"
        yield Backend(name, f"file://{folder}/registry", f"file://{folder}/artifacts", root, {},
                      tamper_file(folder / "artifacts"))
    elif name == "postgresql":
        if not PG_URL:
            pytest.skip("MLSPEC_TEST_PG_URL is not set (CI sets it; locally: eval \"$(bash scripts/ci_postgres.sh)\")")
        import sqlalchemy as sa

        from mlspec.runtime.data import expand_env

        schema = f"mlspec_b_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(expand_env(PG_URL, "MLSPEC_TEST_PG_URL"))
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
        def settle() -> None:
            from mlspec.runtime.registry import _LOCK_KEY

            with engine.begin() as conn:  # the registry's write lock: held by a dead writer until it is done
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})

        try:
            yield Backend(name, url, ".mlspec/artifacts", root, {}, tamper_file(root / ".mlspec" / "artifacts"),
                          settle)
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    elif name == "mlflow":
        server = request.getfixturevalue("mlflow_server")
        server.reset()
        with _environ(server.env):
            yield Backend(name, server.registry_uri, ".mlspec/artifacts", root, server.env, server.tamper)
    else:
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        with _environ(s3.env):  # this process's own registry clients read the same variables
            yield Backend(name, f"s3://{bucket}/state", f"s3://{bucket}/state/artifacts", root, s3.env,
                          lambda sha, data: s3.put(bucket, f"state/artifacts/{key_for(sha)}", data))


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """`values` set in this process's environment for the block, the previous ones restored after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_consistent(registry, known: list[tuple[int, str]]) -> list:
    """Versions contiguous, every acknowledged one kept as it was, the champion a real version whose
    move is the last one recorded; returns the versions."""
    rows = registry.versions(MODEL)
    assert [v.version for v in rows] == list(range(1, len(rows) + 1))
    stored = {v.version: v.artifact_sha256 for v in rows}
    for number, sha in known:
        assert stored.get(number) == sha, (number, sha)
    assert len(set(stored.values())) == len(stored)  # one artifact, one version
    champion = registry.alias(MODEL, "champion")
    moves = [m for m in registry.history(MODEL) if m["alias"] == "champion"]
    if champion is None:
        assert moves == []
    else:
        assert champion in stored and moves[-1]["to_version"] == champion
    return rows


# ------------------------------------------------------------------------------------------------
# concurrency
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_writers_get_contiguous_versions(backend: Backend, tmp_path: Path) -> None:
    server = backend.server()
    writers, each = 4, 25
    try:
        logs = [tmp_path / f"writer-{w}.log" for w in range(writers)]
        pids = [server.ask(f"go {w}:{each} {log}").split()[1] for w, log in enumerate(logs)]
        statuses = [server.ask(f"reap {pid}") for pid in pids]
    finally:
        server.close()
    assert statuses == ["reaped 0"] * writers
    registry = backend.open()
    try:
        acknowledged = [entry for log in logs for entry in committed(log)]
        assert len(acknowledged) == writers * each
        rows = check_consistent(registry, acknowledged)
        assert len(rows) == writers * each
        assert len([m for m in registry.history(MODEL) if m["alias"] == "champion"]) == writers * each
        assert registry.verify() == [] and registry.orphans() == []
    finally:
        registry.close()


@pytest.mark.parametrize("gates", [8, pytest.param(32, marks=pytest.mark.slow)])
def test_concurrent_gates_on_one_candidate_register_it_once(backend: Backend, tmp_path: Path, gates: int) -> None:
    server = backend.server()
    log = tmp_path / "race.log"
    try:
        assert server.ask(f"race {gates} 7 {log}") == "raced " + " ".join(["0"] * gates), server.errors()
    finally:
        server.close()
    results = [line.split() for line in log.read_text().splitlines()]
    assert len(results) == gates
    assert {number for _, number, _ in results} == {"1"}  # every gate reports the same version
    assert sum(created == "1" for *_, created in results) == 1  # and exactly one of them created it
    registry = backend.open()
    try:
        assert [v.version for v in registry.versions(MODEL)] == [1]
        assert [(m["from_version"], m["to_version"]) for m in registry.history(MODEL)] == [(None, 1)]
        assert registry.verify() == []
    finally:
        registry.close()


# ------------------------------------------------------------------------------------------------
# kill -9
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_a_consistent_registry(backend: Backend, tmp_path: Path) -> None:
    if backend.name == "mlflow":
        pytest.skip(MLFLOW_NO_KILL)
    trials = 100
    rng = random.Random(20261204)
    known: list[tuple[int, str]] = []
    landed = Counter()
    server = backend.server()
    try:
        for trial in range(trials):
            log = tmp_path / f"trial-{trial}.log"
            pid = int(server.ask(f"go {1000 + trial} {log}").split()[1])
            # the kill lands 0-100 ms after the writer has acknowledged 0, 1 or 2 registrations: counted, not
            # timed from the fork, so kills land in real work however slowly a loaded machine opens a registry
            after = rng.choice([0, 0, 1, 2])
            hang_guard = time.monotonic() + 300  # not a speed limit: only a writer that never registers
            while len(committed(log)) < after:
                assert time.monotonic() < hang_guard, f"the writer did not register {after} version(s)"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.1))
            os.kill(pid, signal.SIGKILL)
            assert server.ask(f"reap {pid}").startswith("reaped")
            backend.settle()
            acknowledged = committed(log)
            landed["acknowledged"] += len(acknowledged)
            registry = backend.open()
            try:
                rows = check_consistent(registry, known + acknowledged)
                landed["unacknowledged"] += len(rows) - len(known) - len(acknowledged)
                known = [(v.version, v.artifact_sha256) for v in rows]
                if trial % 10 == 9:  # and it still takes registrations, with the next number
                    blob = rng.randbytes(3_000)
                    assert registry.register_once(MODEL, blob, metrics={}, params={}, lineage={}, profile={},
                                                  alias="champion", reason=f"after kill {trial}")[0] == len(known) + 1
                    known.append((len(known) + 1, digest(blob)))
            finally:
                registry.close()
    finally:
        server.close()
    registry = backend.open()
    try:
        check_consistent(registry, known)
        assert registry.verify() == []
    finally:
        registry.close()
    print(f"\n{backend.name}: {trials} kill -9 trials, {len(known)} versions, {dict(landed)}")
    assert landed["acknowledged"] > 0  # the kills did land in the middle of real work (by construction, above)


# ------------------------------------------------------------------------------------------------
# tampering, aliases
# ------------------------------------------------------------------------------------------------


def test_a_tampered_artifact_is_refused_before_it_is_loaded(backend: Backend, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import skops.io

    loaded = []
    monkeypatch.setattr(skops.io, "loads", lambda *a, **k: loaded.append(a))
    monkeypatch.setattr(skops.io, "get_untrusted_types", lambda *a, **k: loaded.append(a) or [])
    registry = backend.open(cache=tmp_path / "cache-1")
    rng = random.Random(5)
    blobs = [rng.randbytes(5_000) for _ in range(20)]
    for i, blob in enumerate(blobs):
        registry.register_once(MODEL, blob, metrics={}, params={}, lineage={}, profile={}, alias="champion",
                               reason=f"v{i + 1}")
    registry.close()
    shas = [digest(blob) for blob in blobs]
    for i, (sha, blob) in enumerate(zip(shas, blobs, strict=True)):
        flipped = bytearray(blob)
        flipped[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        # one flipped bit, a truncation, or another registered artifact's bytes
        backend.tamper(sha, [bytes(flipped), blob[: len(blob) // 2], blobs[i - 1]][i % 3])
    registry = backend.open(cache=tmp_path / "cache-2")  # a fresh machine: nothing cached
    try:
        refused = 0
        for sha in shas:
            with pytest.raises(RegistryError, match="has been modified"):
                registry.load_model(sha)
            refused += 1
        problems = registry.verify()
        assert len([p for p in problems if "has been modified" in p]) == 20, problems
    finally:
        registry.close()
    assert refused == 20 and loaded == []  # 100% refused, and skops never saw a byte


def test_alias_moves_are_compare_and_set_and_recorded(backend: Backend) -> None:
    registry = backend.open()
    try:
        v1 = registry.register_once(MODEL, b"one", metrics={}, params={}, lineage={}, profile={}, alias="champion",
                                    reason="first")[0]
        v2 = registry.register_once(MODEL, b"two", metrics={}, params={}, lineage={}, profile={}, alias="challenger",
                                    reason="awaiting approval")[0]
        assert (v1, v2) == (1, 2)
        # the gate compared against v1; someone else promoted v2 meanwhile
        registry.set_alias(MODEL, "champion", 2, "manual promotion", expected=1)
        with pytest.raises(RegistryError, match="changed since the gate ran"):
            registry.set_alias(MODEL, "champion", 1, "late approval", expected=1)
        assert registry.alias(MODEL, "champion") == 2
        assert registry.alias(MODEL, "challenger") is None  # promoted: no longer a challenger
        assert registry.rollback(MODEL, "bad release") == 1
        moves = [(m["alias"], m["from_version"], m["to_version"]) for m in registry.history(MODEL)]
        assert moves == [("champion", None, 1), ("challenger", None, 2), ("champion", 1, 2),
                         ("challenger", 2, None), ("champion", 2, 1)]
        assert registry.verify() == []
        # registering the same bytes again is not a new version, and moves nothing
        assert registry.register_once(MODEL, b"two", metrics={}, params={}, lineage={}, profile={},
                                      alias="champion", reason="again") == (2, False)
        assert registry.alias(MODEL, "champion") == 1
    finally:
        registry.close()


# ------------------------------------------------------------------------------------------------
# stores that cannot be trusted
# ------------------------------------------------------------------------------------------------


class _IgnoresConditions:
    """A store that accepts every write, as some S3-compatible servers do with If-None-Match."""

    url = "s3://lenient-bucket/state"

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.data[key] = data
        return True

    def compare_and_swap(self, key: str, data: bytes, etag: str | None) -> bool:
        self.data[key] = data
        return True

    def get(self, key: str) -> Blob | None:
        return Blob(self.data[key], "etag") if key in self.data else None

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_a_store_that_ignores_conditional_writes_is_refused() -> None:
    with pytest.raises(StoreError, match="does not enforce conditional writes"):
        probe(_IgnoresConditions())


def test_a_missing_bucket_or_unreachable_store_is_one_clear_error_at_first_use(s3_server, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    # opening touches nothing (a read-only job must be able to open); the first read or write says what is wrong
    missing = open_registry("s3://no-such-bucket-here/state", "s3://no-such-bucket-here/art", tmp_path)
    with pytest.raises(StoreError, match="the bucket does not exist") as refused:
        missing.versions()
    assert "create the bucket" in refused.value.hint
    with pytest.raises(StoreError, match="the bucket does not exist"):
        missing.record_run("main", {"commit": "0" * 40})
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    unreachable = open_registry(f"s3://{s3_server.new_bucket()}/state", "s3://x-bucket/art", tmp_path)
    with pytest.raises(StoreError, match=r"could not (list|read)"):
        unreachable.versions()
    with pytest.raises(StoreError, match="could not write"):
        unreachable.record_run("main", {"commit": "0" * 40})
