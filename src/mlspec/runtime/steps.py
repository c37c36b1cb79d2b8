"""One entry point per node kind: check a source, train a model, apply a gate.

These are the functions `mlspec run` calls and the generated CI scripts call, so a laptop and CI
run the same code. Each takes the manifest and a node and returns a small JSON-ready result; each
failure is a `RunError` that says what to fix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec import __version__
from mlspec.manifest import GateNode, Manifest, ModelNode, SourceNode
from mlspec.runtime import artifacts
from mlspec.runtime.errors import DataError, GateError, RunError
from mlspec.runtime.jsonio import dumps
from mlspec.state.files import write_atomic


@dataclass(frozen=True)
class Paths:
    """Where a project keeps run state, candidates, reports and artifacts."""

    root: Path
    artifacts: Path

    @classmethod
    def of(cls, manifest: Manifest, root: Path) -> Paths:
        """Paths for `manifest`'s project rooted at `root`.

        `artifacts` is always a local folder: the artifact store itself when it is local, else where
        candidates wait for their gate and registered models are cached (verified) on this machine."""
        from mlspec.stateurls import candidate_folder

        uri = manifest.project.artifacts_uri
        local = candidate_folder(uri)  # the same rule the generated workflows upload candidates by
        if local is None:  # file://: the store itself is a folder every job sees
            return cls(root, Path(uri[len("file://"):]))
        return cls(root, _inside(root, local))

    @property
    def state(self) -> Path:
        """The folder for run state (.mlspec)."""
        return self.root / ".mlspec"

    def candidate(self, model: str) -> Path:
        """The record of a model's latest trained candidate."""
        return self.state / "candidates" / f"{model}.json"

    def report(self, node_id: str) -> Path:
        """A node's JSON report."""
        return self.state / "reports" / f"{node_id}.json"


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, resolved, refused when it leads outside the project: a pull request could plant
    `.mlspec` or the artifact folder as a symbolic link to elsewhere on the runner."""
    inside = root.resolve()
    for folder in (".mlspec", relative):
        path = (root / folder).resolve()
        if not path.is_relative_to(inside):
            raise RunError(f"{folder} leads outside the project (to {path})",
                           hint="remove the symbolic link; mlspec keeps its state inside the project or in "
                                "the store project.registry.uri names")
    return (root / relative).resolve()


def open_registry(manifest: Manifest, paths: Paths):
    """The project's registry (SQL database or a log on a store) with its artifact store."""
    from mlspec.runtime.registry import open_registry as open_uri

    project = manifest.project
    return open_uri(project.registry_uri, project.artifacts_uri, paths.root, cache=paths.artifacts,
                    project=project.name)


def source_fingerprint(node: SourceNode, root: Path) -> str | None:
    """sha256 of a file source's bytes without parsing it (None for SQL: the rows must be read); for objects
    in a store, of their keys, sizes and ETags (no download)."""
    from mlspec.runtime.data import file_fingerprint, source_path

    if node.format == "sql":
        return None
    if "://" in node.data_path:
        from mlspec.runtime import remote

        return remote.source_fingerprint(node)
    if any(c in node.data_path for c in "*?["):  # Parquet parts, read by DuckDB
        from mlspec.runtime.duck import fingerprint

        return fingerprint(node, root)
    return file_fingerprint(source_path(node, root))


def check_source(node: SourceNode, root: Path, manifest: Manifest | None = None):
    """Load a source and enforce its contract; return the dataset (RunError when it breaks).

    With `manifest`, the features its models train on from this source must have a value in some row.
    """
    from mlspec.runtime import contract, data, duck
    from mlspec.runtime.features import source_features

    features = source_features(manifest, node.name) if manifest is not None else ()
    if duck.chosen(node, root):  # the contract over all rows in SQL; what models train on in pandas
        from mlspec.runtime.duck import frames

        return frames.check_and_read(node, root, manifest.project.seed if manifest else 0, features)
    dataset = data.load(node, root)
    contract.raise_on_failures(node, contract.check(node, dataset, features), root)
    return dataset


def reload_checked(node: SourceNode, root: Path, fingerprint: str | None, manifest: Manifest | None = None):
    """A source's data again, in another process, exactly as this run checked it (else checked now).

    A file is read again and must still have the fingerprint the run checked, so its contract is not
    checked twice. It is read rather than handed over pickled: unpickled arrays carry copies of
    numpy's dtype singletons, which skops then writes differently, and a model must give the same
    artifact bytes wherever it trained. A SQL source is queried and checked again (a table can
    change between two queries).
    """
    from mlspec.runtime import data, duck

    if fingerprint is None or node.format == "sql":
        return check_source(node, root, manifest)
    if duck.chosen(node, root):
        from mlspec.runtime.duck import frames

        dataset = frames.read_training(node, root, manifest.project.seed if manifest else 0)
    else:
        dataset = data.load(node, root)
    if dataset.fingerprint != fingerprint:
        raise DataError(f"source '{node.name}': {node.data_path} changed while the run was using it",
                        where=node.file, hint="run again once nothing is writing the file")
    return dataset


def train_model(manifest: Manifest, model: ModelNode, paths: Paths, dataset=None) -> dict:
    """Train and evaluate a model (on `dataset`, already checked, or its source loaded now); record it."""
    from mlspec.runtime.cache import libraries
    from mlspec.runtime.train import train

    source = manifest.source(model.source)
    if dataset is None:
        dataset = check_source(source, paths.root, manifest)
    candidate = train(model, manifest, dataset.frame)
    if source.training is not None and source.training.window is None and source.format != "sql":
        # trained on a sample: the reference that monitoring compares with describes all of the source's rows
        from mlspec.runtime.duck import stats
        from mlspec.runtime.duck.scan import Scan

        with Scan(source, paths.root) as scan:
            columns, _ = stats.profile(scan, sorted(candidate.profile["columns"]), manifest.project.seed)
        candidate.profile["columns"].update(columns)
    artifacts.store(paths.artifacts, candidate.artifact)
    record: dict[str, Any] = {
        "model": model.name, "sha256": candidate.sha256, "metrics": candidate.metrics, "params": candidate.params,
        "cv": candidate.cv, "search": candidate.search, "slices": candidate.slices, "profile": candidate.profile,
        "rows_train": candidate.rows_train, "rows_test": candidate.rows_test,
        "lineage": {
            "model_config_hash": model.config_hash,
            "feature_config_hashes": {f: manifest.feature(f).config_hash for f in model.features},
            "source": model.source,
            "data_fingerprint": dataset.fingerprint,
            "git_commit": git_commit(paths.root), "mlspec_version": __version__, "seed": manifest.project.seed,
            "estimator": model.estimator, "primary_metric": model.primary_metric,
            # what predicting needs besides the pipeline (an MLflow registry builds MLflow's model from it), and
            # the libraries that computed the model (recorded with the version)
            "task": model.task, "decision_threshold": model.decision_threshold, "libraries": libraries(),
        },
    }
    if candidate.metrics_train is not None:
        record["metrics_train"] = candidate.metrics_train
    if manifest.project.tracking == "mlflow":  # mirrored before the record is written, which names the run
        from mlspec.runtime import tracking

        record["tracking"] = tracking.mirror(manifest, model, record, paths.root)
        if "run_id" in record["tracking"]:
            record["lineage"]["tracking_run_id"] = record["tracking"]["run_id"]
    write_atomic(paths.candidate(model.name), dumps(record))
    return record


def load_candidate(paths: Paths, model: str) -> dict:
    """The latest candidate of a model (RunError when it was never trained)."""
    try:
        return json.loads(paths.candidate(model).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"model '{model}' has no trained candidate", hint=f"run: mlspec run -s model:{model}") from exc


@dataclass(frozen=True)
class GateOutcome:
    """What a gate did: its report, and the version it registered (if any) under which alias.

    `not_promoted` is why a registered version got no alias (`promote: if_better` found it no better)."""

    report: dict
    version: int | None
    alias: str | None
    already_registered: int | None
    promoted: bool = False
    not_promoted: str | None = None


def apply_gate(manifest: Manifest, gate: GateNode, paths: Paths, registry, *, approve: bool) -> GateOutcome:
    """Evaluate a gate; when it passes, register the candidate (champion, or challenger awaiting approval).

    Under `promote: if_better` a passing candidate no better than the champion is registered without an
    alias, and a better one moves the champion by compare-and-set on the champion it was compared with."""
    from mlspec.runtime import gates

    candidate = load_candidate(paths, gate.model)
    champion = registry.champion(gate.model)
    champion_lineage = None
    if champion is not None:
        champion_lineage = {"metrics": champion.metrics, "slices": champion.lineage.get("slices", {})}
    report = gates.evaluate(gate, candidate, champion_lineage, champion.version if champion else None)
    payload = report.to_dict()
    write_atomic(paths.report(gate.id), dumps(payload))
    if not report.passed:
        lines = [f"{r.slice + ': ' if r.slice else ''}{r.text}: {r.reason}" for r in report.failures()]
        raise GateError(f"gate '{gate.name}' failed: {len(lines)} requirement(s) not met; nothing was registered",
                        details=lines, hint=f"see {paths.report(gate.id).relative_to(paths.root)}")
    decision = report.promotion or {"promote": True}
    alias = None
    if decision["promote"]:
        alias = "champion" if (gate.approval_environment is None or approve) else "challenger"
    artifact = artifacts.read_verified(paths.artifacts, candidate["sha256"])
    lineage = {**candidate["lineage"], "slices": candidate["slices"], "cv": candidate["cv"],
               "search": candidate["search"], "rows_train": candidate["rows_train"],
               "rows_test": candidate["rows_test"], "gate": gate.name, "gate_report": payload}
    reason = f"gate {gate.name} passed" + (" (approved locally)" if approve and gate.approval_environment else "")
    if os.environ.get("MLSPEC_REASON"):  # the retrain workflow's reason input
        reason += f"; retrain: {os.environ['MLSPEC_REASON'][:500]}"
    # if_better decided against the champion read above: the move is compare-and-set on that champion, so a
    # champion that changed meanwhile is never replaced by a candidate that was not compared with it
    guarded = gate.promote == "if_better" and alias == "champion"
    # registering is idempotent per artifact, decided under the registry's own write discipline: of
    # several gates racing on one candidate, one registers it and the others are told its number
    version, created = registry.register_once(gate.model, artifact, metrics=candidate["metrics"],
                                              params=candidate["params"], lineage=lineage,
                                              profile=candidate["profile"], alias=None if guarded else alias,
                                              reason=reason)
    if guarded and (created or not _was_champion(registry, gate.model, version)):
        # (not created: a run stopped between registering and moving, or lost the compare-and-set; a version
        # that was champion before and was rolled back is not promoted again by a re-run)
        registry.set_alias(gate.model, "champion", version, reason, expected=champion.version if champion else None)
        return GateOutcome(payload, version, "champion", None)
    if created:
        return GateOutcome(payload, version, alias, None, not_promoted=None if alias else decision.get("reason"))
    if decision["promote"] and approve and gate.approval_environment and \
            (champion is None or champion.version != version):
        registry.set_alias(gate.model, "champion", version, f"gate {gate.name} passed (approved locally)",
                           expected=champion.version if champion else None)
        return GateOutcome(payload, version, "champion", None, promoted=True)
    return GateOutcome(payload, None, None, version)


def _was_champion(registry, model: str, version: int) -> bool:
    return any(move["alias"] == "champion" and move["to_version"] == version for move in registry.history(model))


def git_commit(root: Path) -> str | None:
    """The checked-out commit, when the project is in a git repository."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run([git, "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
