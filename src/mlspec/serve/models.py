"""Loaded model versions and the catalog the server answers from, swapped atomically on reload.

A model version is loaded the way `mlspec score` loads the champion: through the registry, whose
`load_model` checks the artifact's sha256 before skops reads a byte, and with the inputs the
pipeline itself was fitted on (`scoring.trained_inputs`). A loaded version (`Served`) is immutable;
the catalog maps each model to its current champion and challenger in one dictionary that is
replaced whole, so a request that took its `Served` at the start uses one version from validation
to response headers, and a swap never fails or mixes a request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from mlspec.manifest import Manifest
from mlspec.runtime import scoring
from mlspec.runtime.errors import RegistryError, RunError
from mlspec.runtime.features import raw_columns
from mlspec.runtime.registry_base import RegistryBase
from mlspec.serve.validation import RowValidator

log = logging.getLogger("mlspec.serve")
_PINNED = 8  # versions pinned by URL kept loaded at once (least recently used dropped first)


@dataclass(frozen=True)
class Served:
    """One loaded, verified model version with its request validator."""

    name: str
    version: int
    sha256: str
    pipeline: object
    inputs: list[str]
    task: str
    threshold: float
    classes: list
    rows: RowValidator


@dataclass(frozen=True)
class Result:
    """Predictions for a batch: labels (or values) and, for a classifier, per-class probabilities."""

    labels: list
    probabilities: list[list[float]] | None
    scores: list[float] | None  # what the log keeps: P(positive class), or of the predicted class


def load(registry, manifest: Manifest, name: str, version: int) -> Served:
    """Load `name` version `version` from the registry (sha256-verified); RegistryError when it cannot be."""
    model = manifest.model(name)
    record = registry.get(name, version)
    pipeline = registry.load_model(record.artifact_sha256)
    inputs = scoring.trained_inputs(pipeline, raw_columns(model, manifest))
    source = manifest.source(model.source)
    lacking = [c for c in inputs if c not in source.columns]
    if lacking:
        raise RegistryError(f"{name} v{version} reads columns the contract of source '{model.source}' does not "
                            f"declare: {', '.join(lacking)}", hint="add them to the source's schema, or retrain")
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(pipeline, "classes_", [])]
    return Served(name, version, record.artifact_sha256, pipeline, inputs, model.task, model.decision_threshold,
                  classes, RowValidator(inputs, dict(source.columns)))


def predict(served: Served, frame) -> Result:
    """Score a typed frame with the same function `mlspec score` uses."""
    import numpy as np

    predicted, proba = scoring.predict(served.pipeline, frame[served.inputs], served.task, served.threshold)
    labels = np.asarray(predicted).tolist()
    if proba is None:
        scores = [float(v) for v in labels] if served.task == "regression" else None
        return Result(labels, None, scores)
    scores = (proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)).tolist()
    return Result(labels, proba.tolist(), scores)


@dataclass(frozen=True)
class Slot:
    """What one model serves now: its champion, a challenger in shadow, and why it is not ready."""

    champion: Served | None = None
    challenger: Served | None = None
    problem: str | None = None


@dataclass
class Catalog:
    """The served models. Reads take no lock; `refresh` builds a new table and swaps it in one assignment."""

    manifest: Manifest
    names: list[str]
    registry: RegistryBase
    shadow: bool = True
    slots: dict[str, Slot] = field(default_factory=dict)
    swaps: int = 0

    def __post_init__(self) -> None:
        self._registry_lock = threading.Lock()  # the reloader and pinned loads share one registry connection
        self._pinned: OrderedDict[tuple[str, int], Served] = OrderedDict()
        self._said: dict[str, str] = {}
        self.slots = {name: Slot(problem="not loaded yet") for name in self.names}

    # -- reads (request path) ----------------------------------------------------------------

    def slot(self, name: str) -> Slot | None:
        """The model's current slot (None for a model this server does not serve)."""
        return self.slots.get(name)

    @property
    def ready(self) -> bool:
        """Every model has a loaded, verified champion."""
        return all(s.champion is not None for s in self.slots.values())

    def reasons(self) -> list[str]:
        """Why models are not ready."""
        return [f"{name}: {s.problem}" for name, s in sorted(self.slots.items()) if s.champion is None]

    def pinned(self, name: str, version: int) -> Served:
        """A version named in the URL: the loaded champion or challenger, else loaded (verified) on demand."""
        slot = self.slots[name]
        for served in (slot.champion, slot.challenger):
            if served is not None and served.version == version:
                return served
        with self._registry_lock:
            key = (name, version)
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
            served = load(self.registry, self.manifest, name, version)
            self._pinned[key] = served
            while len(self._pinned) > _PINNED:
                self._pinned.popitem(last=False)
            return served

    # -- refresh (reloader thread) -----------------------------------------------------------

    def refresh(self) -> bool:
        """Read the aliases; load and verify what changed; swap the table in one assignment. Returns whether
        anything was swapped. A version that cannot be loaded leaves the previous one serving (or the model
        not ready) and is logged once per distinct problem."""
        with self._registry_lock:
            try:
                table = self.registry.aliases()
            except RunError as exc:
                self._say("*", f"cannot read the registry: {exc.message}")
                return False
            updated = dict(self.slots)
            changed = False
            for name in self.names:
                wanted = table.get(name, {})
                slot = updated[name]
                champion, problem = self._wanted(name, slot.champion, wanted.get("champion"))
                challenger = None
                number = wanted.get("challenger")
                if self.shadow and number is not None and number != wanted.get("champion"):
                    challenger, shadow_problem = self._wanted(name, slot.challenger, number)
                    if shadow_problem:
                        self._say(f"{name}:challenger", f"challenger not loaded: {shadow_problem}")
                new = Slot(champion, challenger, problem)
                if new != slot:
                    updated[name] = new
                    changed = changed or (new.champion, new.challenger) != (slot.champion, slot.challenger)
                    self._announce(name, slot, new)
            self.slots = updated  # one assignment: requests see the old table or the new one
            if changed:
                self.swaps += 1
            return changed

    def _wanted(self, name: str, current: Served | None, number: int | None) -> tuple[Served | None, str | None]:
        if number is None:
            return current, "no champion in the registry yet (train and promote one: mlspec run)" \
                if current is None else None
        if current is not None and current.version == number:
            return current, None
        try:
            return load(self.registry, self.manifest, name, number), None
        except RunError as exc:
            problem = f"v{number} refused: {exc.message}"
            self._say(f"{name}:{number}", problem + (f" ({exc.hint})" if exc.hint else ""))
            return current, problem

    def _announce(self, name: str, old: Slot, new: Slot) -> None:
        for role in ("champion", "challenger"):
            before, after = getattr(old, role), getattr(new, role)
            if after is not None and (before is None or before.version != after.version):
                was = f" (was v{before.version})" if before is not None else ""
                log.info("serving %s v%s as %s%s, sha256 %s verified", name, after.version, role, was,
                         after.sha256[:12])
            elif after is None and before is not None:
                log.info("%s: no %s any more (v%s unloaded)", name, role, before.version)
        if new.champion is None and new.problem:
            log.error("%s is not ready: %s", name, new.problem)

    def _say(self, key: str, message: str) -> None:
        if self._said.get(key) != message:
            self._said[key] = message
            log.error("%s", message)
