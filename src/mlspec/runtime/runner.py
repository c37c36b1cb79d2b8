"""`mlspec run`: execute the selected nodes in order, skipping what the cache says is unchanged.

Sources are checked first, then models train (in worker processes from `runtime.trainers` when the
options ask for them or several models train with `jobs > 1`, independent models in parallel; else in
this process), then gates decide and register. A failed node stops its dependants, not unrelated
nodes. The runner never prints: it reports progress through a callback and returns the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.manifest import GateNode, Manifest, ModelNode, SourceNode
from mlspec.runtime import machine, steps
from mlspec.runtime.cache import Cache, key
from mlspec.runtime.errors import GateError, RunError
from mlspec.runtime.jsonio import dumps

if TYPE_CHECKING:
    from mlspec.runtime.data import Dataset

RUNNABLE = ("source", "model", "gate")


@dataclass
class RunOptions:
    """How to run: ignore the cache, approve promotions locally, how many models train at once, and whether
    even one model trains in a worker process (whose imports then overlap the data checks: `mlspec run`)."""

    force: bool = False
    approve: bool = False
    jobs: int = 1
    workers: bool = False


def default_jobs() -> int:
    """Models trained at once when `-j` is not given: two where this process may use two cores or more (each
    training then gets half of them as threads), else one. Not more by default: every worker holds its own
    copy of the training data."""
    return min(2, machine.usable_cores())


def training_threads(jobs: int) -> int:
    """BLAS/OpenMP threads for each training, from the `-j` setting alone.

    Some estimators record their thread count in the fitted model (HistGradientBoosting's bin mapper
    does), so it must not depend on how many models happen to train at once: the same data, specs
    and `-j` then give the same artifact bytes, in a worker process or in this one.
    """
    return max(1, machine.usable_cores() // max(1, jobs))


@dataclass
class NodeResult:
    """The outcome of one node."""

    node_id: str
    action: str
    status: str  # "success" | "skipped" | "fail" | "error"; a monitor's: its verdict ("ok" | "alert" ...) or "error"
    message: str
    duration: float = 0.0
    details: list[str] = field(default_factory=list)
    hint: str | None = None
    where: str | None = None
    outputs: dict = field(default_factory=dict)


@dataclass
class RunResults:
    """Every node's result and the run's totals."""

    results: list[NodeResult]
    elapsed: float

    def count(self, status: str) -> int:
        """How many nodes ended with `status`."""
        return sum(r.status == status for r in self.results)

    @property
    def ok(self) -> bool:
        """True when no node failed and no monitor alerted."""
        return not any(r.status in ("fail", "error", "alert") for r in self.results)

    def to_dict(self) -> dict:
        """JSON-ready form (written to .mlspec/run_results.json)."""
        return {"elapsed": round(self.elapsed, 3), "results": [asdict(r) for r in self.results],
                "counts": {s: self.count(s) for s in ("success", "skipped", "fail", "error")}}


Event = Callable[[str, int, int, str, str, NodeResult | None], None]


class Runner:
    """Runs nodes of one manifest for one project folder."""

    def __init__(self, manifest: Manifest, root: Path, options: RunOptions, on_event: Event | None = None) -> None:
        self.manifest = manifest
        self.paths = steps.Paths.of(manifest, root)
        self.options = options
        self.on_event = on_event or (lambda *args: None)
        self.cache = Cache(self.paths.state / "cache")
        self.keys: dict[str, str] = {}
        self.frames: dict[str, Dataset] = {}  # the data each checked source read, by source name
        self.failed: set[str] = set()
        self._registry = None

    # -- helpers ----------------------------------------------------------------------------

    @property
    def registry(self):
        """The registry, opened on first use (SQLAlchemy is only imported when a gate runs)."""
        if self._registry is None:
            self._registry = steps.open_registry(self.manifest, self.paths)
        return self._registry

    def _registry_identity(self) -> list:
        """Which registry a gate wrote to: a new or replaced registry must not look like the old one."""
        uri = self.manifest.project.registry_uri
        if uri.startswith("sqlite:///"):
            from mlspec.runtime.data import sqlite_relative_to

            path = Path(sqlite_relative_to(uri, self.paths.root)[len("sqlite:///"):])
            try:
                return [uri, path.stat().st_ino]
            except OSError:
                return [uri, None]
        return [uri]

    def _still_registered(self, model: str, sha256: str) -> bool:
        """Whether a local SQLite registry still holds the candidate (a restored or recreated file may not).

        Read with the standard library's sqlite3, so a no-op run stays free of SQLAlchemy; other
        registries are trusted by their identity in the cache key.
        """
        uri = self.manifest.project.registry_uri
        if not uri.startswith("sqlite:///"):
            return True
        import sqlite3

        from mlspec.runtime.data import sqlite_relative_to

        path = Path(sqlite_relative_to(uri, self.paths.root)[len("sqlite:///"):])
        if not path.is_file():
            return False
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
                row = conn.execute("SELECT 1 FROM mlspec_versions WHERE model = ? AND artifact_sha256 = ?",
                                   (model, sha256)).fetchone()
        except sqlite3.Error:
            return False
        return row is not None

    def _blocked(self, node_id: str) -> str | None:
        node = self.manifest.nodes[node_id]
        for dep in node.depends_on:
            if dep in self.failed:
                return dep
            if dep.startswith("feature."):
                blocked = self._blocked(dep)
                if blocked:
                    return blocked
        return None

    # -- keys -------------------------------------------------------------------------------

    def _source_key(self, node_id: str) -> str:
        if node_id not in self.keys:
            node = self.manifest.node(node_id, SourceNode)
            fingerprint = steps.source_fingerprint(node, self.paths.root)
            self.keys[node_id] = key(node.config_hash, fingerprint) if fingerprint else ""
        return self.keys[node_id]

    def _model_key(self, node_id: str) -> str:
        model = self.manifest.node(node_id, ModelNode)
        source_key = self._source_key(f"source.{model.source}")
        features = [self.manifest.feature(f).config_hash for f in model.features]
        derived = [self.manifest.feature(d).config_hash for f in model.features
                   for d in self.manifest.feature(f).derived_inputs]
        return key(model.config_hash, features, derived, source_key, self.manifest.project.seed) if source_key else ""

    # -- steps ------------------------------------------------------------------------------

    def _run_source(self, node_id: str) -> NodeResult:
        node = self.manifest.node(node_id, SourceNode)
        node_key = self._source_key(node_id)
        cached = self.cache.get(node_id, node_key) if node_key and not self.options.force else None
        if cached is not None:
            return NodeResult(node_id, "check", "skipped", f"unchanged (data sha256 {cached['fingerprint'][:12]})",
                              outputs=cached)
        dataset = steps.check_source(node, self.paths.root, self.manifest)
        self.frames[node.name] = dataset
        self.keys[node_id] = key(node.config_hash, dataset.fingerprint)
        self.cache.put(node_id, self.keys[node_id], {"rows": dataset.rows, "fingerprint": dataset.fingerprint})
        return NodeResult(node_id, "check", "success", f"{dataset.rows} rows, contract passed",
                          outputs={"rows": dataset.rows, "fingerprint": dataset.fingerprint})

    def _model_cached(self, node_id: str) -> NodeResult | None:
        model = self.manifest.node(node_id, ModelNode)
        node_key = self._model_key(node_id)
        if not node_key or self.options.force:
            return None
        cached = self.cache.get(node_id, node_key)
        if cached is None or not self.paths.candidate(model.name).is_file():
            return None
        return NodeResult(node_id, "train", "skipped",
                          "unchanged (" + _metrics_text(cached["metrics"], model.metrics) + ")", outputs=cached)

    def _model_done(self, node_id: str, record: dict, duration: float) -> NodeResult:
        model = self.manifest.node(node_id, ModelNode)
        if f"source.{model.source}" not in self.keys or not self.keys[f"source.{model.source}"]:
            self.keys[f"source.{model.source}"] = key(self.manifest.source(model.source).config_hash,
                                                      record["lineage"]["data_fingerprint"])
        summary = {"sha256": record["sha256"], "metrics": record["metrics"]}
        self.cache.put(node_id, self._model_key(node_id), summary)
        return NodeResult(node_id, "train", "success", _metrics_text(record["metrics"], model.metrics)
                          + _tracked_text(record.get("tracking")), duration, outputs=summary)

    def _run_gate(self, node_id: str) -> NodeResult:
        gate = self.manifest.node(node_id, GateNode)
        candidate = steps.load_candidate(self.paths, gate.model)
        approving = bool(gate.approval_environment and self.options.approve)
        node_key = key(gate.config_hash, candidate["sha256"], self._registry_identity())
        cached = None if self.options.force else self.cache.get(node_id, node_key)
        # approving locally does more than a plain run (champion instead of challenger): a run that approves
        # re-runs a gate that ran unapproved; a plain run after an approved one has nothing left to do
        if cached is not None and approving and not cached.get("approved"):
            cached = None
        if cached is not None and self._still_registered(gate.model, candidate["sha256"]):
            return NodeResult(node_id, "gate", "skipped", f"unchanged ({cached['summary']})", outputs=cached)
        outcome = steps.apply_gate(self.manifest, gate, self.paths, self.registry, approve=self.options.approve)
        if outcome.already_registered is not None:
            summary = f"passed; already registered as v{outcome.already_registered}"
        elif outcome.promoted:
            summary = f"passed; promoted {gate.model} v{outcome.version} to champion (approved locally)"
        elif outcome.not_promoted is not None:
            summary = (f"passed; registered {gate.model} v{outcome.version}, not promoted: {outcome.not_promoted} "
                       "(promote: if_better)")
        else:
            summary = f"passed; registered {gate.model} v{outcome.version} as {outcome.alias}"
            if outcome.alias == "challenger":
                summary += f" (promotion needs approval in '{gate.approval_environment}')"
        outputs = {"summary": summary, "version": outcome.version or outcome.already_registered,
                   "alias": outcome.alias, "approved": approving}
        # the registry may have just been created: key the result with its identity as it is now
        node_key = key(gate.config_hash, candidate["sha256"], self._registry_identity())
        self.cache.put(node_id, node_key, outputs)
        return NodeResult(node_id, "gate", "success", summary, outputs=outputs)

    # -- orchestration ----------------------------------------------------------------------

    def _guard(self, node_id: str, action: str, work: Callable[[], NodeResult]) -> NodeResult:
        started = time.perf_counter()
        blocked = self._blocked(node_id)
        if blocked is not None:
            result = NodeResult(node_id, action, "skipped", f"upstream {blocked} failed")
            self.failed.add(node_id)
            return result
        try:
            result = work()
        except GateError as exc:
            result = NodeResult(node_id, action, "fail", exc.message, details=exc.details, hint=exc.hint,
                                where=exc.where)
        except RunError as exc:
            result = NodeResult(node_id, action, "error", exc.message, details=exc.details, hint=exc.hint,
                                where=exc.where)
        if result.status in ("fail", "error"):
            self.failed.add(node_id)
            self.cache.forget(node_id)
        if not result.duration:
            result.duration = time.perf_counter() - started
        return result

    def run(self, node_ids: list[str]) -> RunResults:
        """Run the runnable nodes among `node_ids` (in the order given, which must be graph order)."""
        started = time.perf_counter()
        plan = [n for n in node_ids if n.split(".", 1)[0] in RUNNABLE]
        models = [n for n in plan if n.startswith("model.")]
        total = len(plan)
        results: list[NodeResult] = []
        index = {node: i + 1 for i, node in enumerate(plan)}

        def finish(result: NodeResult) -> None:
            results.append(result)
            self.on_event("end", index[result.node_id], total, result.node_id, result.action, result)

        needed = self._needed_sources(plan)
        pool = self._training_pool(models)  # before the checks, so that its imports overlap them
        try:
            for node_id in [n for n in plan if n.startswith("source.")]:
                self.on_event("start", index[node_id], total, node_id, "check", None)
                if node_id not in needed:
                    finish(NodeResult(node_id, "check", "skipped", "no selected model trains on it (`mlspec monitor` "
                                      "checks a monitor's batch)"))
                    continue
                finish(self._guard(node_id, "check", partial(self._run_source, node_id)))
            self._run_models(models, index, total, finish, pool)
            for node_id in [n for n in plan if n.startswith("gate.")]:
                self.on_event("start", index[node_id], total, node_id, "gate", None)
                finish(self._guard(node_id, "gate", partial(self._run_gate, node_id)))
        finally:
            if self._registry is not None:
                self._registry.close()
            if pool is not None:
                pool.close()
        results.sort(key=lambda r: index[r.node_id])
        run = RunResults(results, time.perf_counter() - started)
        steps.write_atomic(self.paths.state / "run_results.json", dumps(run.to_dict()))
        return run

    def _needed_sources(self, plan: list[str]) -> set[str]:
        """The selected sources the run checks: those a selected model trains on. A source only monitors read
        (a live batch) is checked by `mlspec monitor`, so its contract breaks do not fail a run; a selection
        without models (`-s source:NAME`) is a check of the data itself, and checks every selected source."""
        models = [self.manifest.node(n, ModelNode) for n in plan if n.startswith("model.")]
        sources = [n for n in plan if n.startswith("source.")]
        if not models:
            return set(sources)
        return {f"source.{m.source}" for m in models} & set(sources)

    def _training_pool(self, models: list[str]):
        """Worker processes for the models the cache says will train, when they train out of this process.

        None when nothing trains: a run with nothing to do starts no process and imports no training stack.
        """
        options = self.options
        if not models or not (options.workers or options.jobs > 1):
            return None
        training = [n for n in models if not self._predicted_cached(n)]
        if not training or not (options.workers or len(training) > 1):
            return None
        from mlspec.runtime import trainers

        if not trainers.supported:
            return None
        try:
            return trainers.TrainingPool(self.manifest.model_dump_json(), trainers.estimator_modules(self.manifest),
                                         min(options.jobs, len(training)))
        except OSError:  # no fork server here (a TMPDIR too long for its socket...): models train in this process
            return None

    def _predicted_cached(self, node_id: str) -> bool:
        """Whether the cache holds the model as its inputs are now (a model whose data cannot be read will not
        train either: its source check fails)."""
        try:
            return self._model_cached(node_id) is not None
        except RunError:
            return True

    def _run_models(self, models: list[str], index: dict, total: int, finish, pool) -> None:
        pending = []
        for node_id in models:
            cached = self._guard(node_id, "train", partial(self._cached_or_pending, node_id))
            if cached.status != "pending":
                self.on_event("start", index[node_id], total, node_id, "train", None)
                finish(cached)
            else:
                pending.append(node_id)
        if pending and pool is not None:
            self._train_in_workers(pool, pending, index, total, finish)
            return
        for node_id in pending:
            self.on_event("start", index[node_id], total, node_id, "train", None)
            finish(self._guard(node_id, "train", partial(self._train_here, node_id)))

    def _cached_or_pending(self, node_id: str) -> NodeResult:
        return self._model_cached(node_id) or NodeResult(node_id, "train", "pending", "")

    def _train_here(self, node_id: str) -> NodeResult:
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        model = self.manifest.node(node_id, ModelNode)
        with threadpool_limits(limits=training_threads(self.options.jobs)):  # as in a worker
            record = steps.train_model(self.manifest, model, self.paths, self.frames.get(model.source))
        return self._model_done(node_id, record, time.perf_counter() - started)

    def _train_in_workers(self, pool, pending: list[str], index: dict, total: int, finish) -> None:
        """Train in the pool's workers, up to `jobs` at once, each on the data this run checked."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        threads = training_threads(self.options.jobs)  # per worker: no oversubscription at -j workers
        with ThreadPoolExecutor(max_workers=min(self.options.jobs, len(pending))) as lenders:
            futures = {}
            for node_id in pending:
                self.on_event("start", index[node_id], total, node_id, "train", None)
                checked = self.frames.get(self.manifest.node(node_id, ModelNode).source)
                futures[lenders.submit(pool.train, self.paths.root, node_id, threads,
                                       checked.fingerprint if checked else None)] = node_id
            for future in as_completed(futures):
                node_id = futures[future]

                def collect(f=future, n=node_id) -> NodeResult:
                    record, duration = f.result()
                    return self._model_done(n, record, duration)

                finish(self._guard(node_id, "train", collect))


def _tracked_text(tracking: dict | None) -> str:
    """Where `project.tracking` mirrored the run, or why it could not (the run succeeds either way)."""
    if tracking is None:
        return ""
    if "error" in tracking:
        return f"; not mirrored: {tracking['error']}"
    return f"; MLflow run {tracking['run_id']}"


def _metrics_text(metrics: dict, order: list[str]) -> str:
    shown = [(name, metrics.get(name)) for name in order[:3]]
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}=n/a" for k, v in shown)
