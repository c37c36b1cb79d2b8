"""The model registry on MLflow's: an mlspec model is a registered model, champion and challenger its aliases.

Each version is an MLflow model version whose run (in the experiment `mlspec/<project>`) holds the
canonical skops artifact (`mlspec/model.skops`), the full version record (`mlspec/record.json`: metrics,
parameters, lineage, reference profile), the model as MLflow's scikit-learn flavour (`model/`, which the
version's source points at, so `models:/NAME@champion` loads with MLflow's tools), the parameters and
test metrics, and lineage tags (sha256, config hash, data sha256, git commit, library versions). The
version's own tags hold the sha256 of each file and the record's small fields, so listing reads no files.

What mlspec keeps on top of MLflow, which has no alias history and no conditional writes:
- **sha256 before every load and promotion**: the canonical artifact is hashed before skops reads it, and a
  promotion hashes MLflow's copies (the artifact and the flavour's file) first: bytes changed on the MLflow
  side are refused.
- **Alias history**: every move mlspec makes is a tag of the registered model (`mlspec.history.000001`, ...).
  A move made elsewhere (MLflow's UI) is not recorded when it happens; `verify` reports it, and the next
  move mlspec makes records it first ("moved outside mlspec"), so `mlspec registry show` shows every move.
- **One writer at a time** (`mlflow_lock`): registering (is the artifact registered already? if not, the next
  version) and moving an alias with its history entry happen under the registry's write lock, so concurrent
  registrations of one artifact give one version, concurrent registrations of others get contiguous
  numbers, and compare-and-set promotion re-reads the alias under the lock right before moving it. A
  writer that cannot get the lock within five minutes is told to try again.
- **The remaining race**: people and other tools do not take mlspec's lock. An alias moved in MLflow between
  mlspec's read and its move (one request apart, a few milliseconds) is overwritten; the overwritten move
  was made, and it stays unrecorded in the history.
- **Not promised**: atomicity under kill -9. A version, its alias and its history entry are separate
  requests; a writer killed between them leaves an unpointed version (registering the same artifact again
  completes the move) or a move without its history entry (reported by `verify`), and its lock held
  until the lease ends.

The last-run records (main's affected-only plan) are one run per branch in the experiment, tagged
`mlspec.kind=last-run`, holding `record.json`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from mlspec.runtime.errors import RegistryError
from mlspec.runtime.mlflow_lock import WriteLock
from mlspec.runtime.mlflow_server import (
    Connection,
    error_code,
    experiment_id,
    experiment_name,
    no_stdout,
    target,
)
from mlspec.runtime.registry_base import ANY, RegistryBase, Version, _Any, actor, changed_since, check_alias, now
from mlspec.state.artifacts import ArtifactStore, digest

ARTIFACT = "mlspec/model.skops"
RECORD = "mlspec/record.json"
MANAGED = "mlspec.managed"
HISTORY = "mlspec.history."
_TAG_LIMIT = 100_000  # MLflow's longest registry tag value
_FIELDS = ("metrics", "params", "lineage")


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


class MlflowRegistry(RegistryBase):
    """A registry kept in MLflow's model registry, with mlspec's history, lock and hashes on top."""

    def __init__(self, uri: str, cache: ArtifactStore, root: Path, project: str | None = None) -> None:
        self.location = uri
        self.artifacts = cache  # verified local copies (and where candidates wait); MLflow holds the originals
        self.conn = Connection(target(uri, root))
        self.experiment = experiment_name(project, self.conn.where.databricks)
        self._records: dict[tuple[str, str], dict] = {}

    # -- reads ------------------------------------------------------------------------------

    def _registered(self) -> list:
        """The registered models mlspec manages (tagged when it first registered into them)."""
        if self.conn.where.absent():
            return []
        found = self._pages("read", "search_registered_models", filter_string=f"tags.`{MANAGED}` = 'true'")
        return sorted(found, key=lambda m: m.name)

    def _pages(self, action: str, method: str, **kwargs) -> list:
        out, token = [], None
        while True:
            page = self.conn.call(action, method, page_token=token, **kwargs)
            out.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return out

    def _model_versions(self, model: str) -> list:
        """Every live MLflow version of a registered model (mlspec's and others'), oldest first."""
        if self.conn.where.absent():
            return []
        found = self._pages("read", "search_model_versions", filter_string=f"name = '{_quoted(model)}'")
        return sorted(found, key=lambda mv: int(mv.version))

    def versions(self, model: str | None = None) -> list[Version]:
        """All versions mlspec registered (of one model), oldest first. Their `profile` is empty: it is read
        with the full record by `get` (and so `champion`), the only readers that need it."""
        names = [model] if model is not None else [m.name for m in self._registered()]
        out: list[Version] = []
        for name in names:
            out.extend(self._version(mv) for mv in self._model_versions(name) if "mlspec.sha256" in mv.tags)
        return out

    def get(self, model: str, version: int) -> Version:
        """One version with its full record (the record's sha256 checked); RegistryError when it does not exist."""
        mv = self._model_version(model, version)
        if mv is None:
            raise RegistryError(f"model '{model}' has no version {version}",
                                hint="see `mlspec registry ls` for registered versions")
        if "mlspec.sha256" not in mv.tags:
            raise RegistryError(f"{model} v{version} was not registered by mlspec (it has no mlspec.sha256 tag)",
                                hint="register it through mlspec, or point the alias at a version mlspec registered")
        return self._version(mv, full=True)

    def _model_version(self, model: str, version: int):
        if version < 1 or self.conn.where.absent():
            return None
        return self.conn.find("read", "get_model_version", model, str(version))

    def _version(self, mv, *, full: bool = False) -> Version:
        tags = mv.tags
        fields: dict[str, Any] = {}
        for name in _FIELDS:
            try:
                fields[name] = json.loads(tags[f"mlspec.{name}"]) if f"mlspec.{name}" in tags else None
            except ValueError as exc:
                raise self._damaged(mv, f"its tag mlspec.{name} is not JSON") from exc
        profile: dict = {}
        if full or any(value is None for value in fields.values()):  # a field too long for a tag is in the record
            record = self._record(mv)
            fields = {name: record[name] if value is None else value for name, value in fields.items()}
            profile = record.get("profile", {})
        return Version(model=mv.name, version=int(mv.version), artifact_sha256=tags["mlspec.sha256"],
                       created_at=tags.get("mlspec.created_at", ""), created_by=tags.get("mlspec.created_by", ""),
                       profile=profile, **fields)

    def _record(self, mv) -> dict:
        expected = mv.tags.get("mlspec.record_sha256", "")
        key = (mv.run_id, expected)
        if key not in self._records:
            data = self._download(mv.run_id, RECORD)
            if data is None:
                raise self._damaged(mv, f"its run {mv.run_id} has no {RECORD}")
            if digest(data) != expected:
                raise RegistryError(f"{mv.name} v{mv.version}: its record {RECORD} has been modified (its sha256 no "
                                    "longer matches the version's tag)", hint="restore the run's artifacts from a "
                                    "backup, or register the model again")
            self._records[key] = json.loads(data)
        return self._records[key]

    def _damaged(self, mv, what: str) -> RegistryError:
        return RegistryError(f"the registry {self.location} is damaged: {mv.name} v{mv.version}: {what}",
                             hint="restore it from a backup, or register the model again")

    def _download(self, run_id: str, path: str) -> bytes | None:
        """A run's artifact, or None when the run or the file is gone."""
        with tempfile.TemporaryDirectory(prefix="mlspec-mlflow-") as folder:
            try:
                local = self.conn.client.download_artifacts(run_id, path, folder)
            except Exception as exc:
                if error_code(exc) == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower() or \
                        "No such file" in str(exc) or "404" in str(exc) or isinstance(exc, OSError):
                    return None
                raise self.conn.error("read", exc) from exc
            try:
                return Path(local).read_bytes()
            except OSError:
                return None

    def aliases(self) -> dict[str, dict[str, int]]:
        """model -> alias -> version (champion and challenger; other aliases are not mlspec's)."""
        out = {}
        for rm in self._registered():
            table = {alias: int(number) for alias, number in (rm.aliases or {}).items()
                     if alias in ("champion", "challenger")}
            if table:
                out[rm.name] = dict(sorted(table.items()))
        return out

    def alias(self, model: str, alias: str) -> int | None:
        """The version an alias points to now (one request)."""
        return self._current(model).get(alias)

    def _current(self, model: str) -> dict[str, int]:
        rm = self._registered_model(model)
        return {} if rm is None else {a: int(n) for a, n in (rm.aliases or {}).items()}

    def _registered_model(self, model: str):
        if self.conn.where.absent():
            return None
        return self.conn.find("read", "get_registered_model", model)

    def history(self, model: str) -> list[dict]:
        """Every alias move mlspec recorded for a model, oldest first."""
        rm = self._registered_model(model)
        return [] if rm is None else _history(rm)

    # -- writes -----------------------------------------------------------------------------

    def register_once(self, model: str, artifact: bytes, *, metrics: dict, params: dict, lineage: dict,
                      profile: dict, alias: str | None, reason: str, who: str | None = None) -> tuple[int, bool]:
        """Register the artifact as the next version unless one holds it already (decided under the lock)."""
        if alias is not None:
            check_alias(alias)
        who = who or actor()
        sha = digest(artifact)
        self.artifacts.put(artifact)
        self._ensure_model(model)
        found = self._holding(model, sha)
        if found is not None:
            return self._complete(model, found, alias, who, reason), False
        record = {"model": model, "artifact_sha256": sha, "created_at": now(), "created_by": who,
                  "metrics": metrics, "params": params, "lineage": lineage, "profile": profile}
        run_id, tags, source = self._log_run(model, artifact, sha, record)
        with WriteLock(self.conn) as lock:
            found = self._holding(model, sha)  # registered by a concurrent writer while this one uploaded
            if found is None:
                lock.check()
                # a creation whose answer was lost may have happened (no other mlspec writer can meanwhile)
                mv = self.conn.retry("register", "create_model_version", model, source, run_id=run_id, tags=tags,
                                     await_creation_for=0, landed=lambda: self._holding_version(model, sha))
                number = int(mv.version)
                if alias is not None:
                    self._move(lock, model, alias, number, who, reason, ANY)
        if found is not None:
            self._discard_run(run_id)
            return self._complete(model, found, alias, who, reason), False
        self.conn.retry("register", "set_tag", run_id, "mlspec.version", str(number))
        return number, True

    def _ensure_model(self, model: str) -> None:
        rm = self._registered_model(model)
        if rm is None and not self.conn.create("register into", "create_registered_model", model, tags={
                MANAGED: "true"}, description=("Registered by mlspec: champion and challenger are mlspec's aliases, "
                                              "moved through mlspec (their history is in the mlspec.history.* tags).")):
            rm = self._registered_model(model)  # a concurrent writer created it first
        if rm is not None and rm.tags.get(MANAGED) != "true":  # a team's existing model: mlspec manages it now
            self.conn.call("register into", "set_registered_model_tag", model, MANAGED, "true")

    def _holding(self, model: str, sha: str) -> int | None:
        """The version of `model` that holds the artifact, if one does."""
        mv = self._holding_version(model, sha)
        return None if mv is None else int(mv.version)

    def _holding_version(self, model: str, sha: str):
        found = self.conn.call("read", "search_model_versions",
                               filter_string=f"name = '{_quoted(model)}' and tags.`mlspec.sha256` = '{sha}'")
        return min(found, key=lambda mv: int(mv.version), default=None)

    def _complete(self, model: str, number: int, alias: str | None, who: str, reason: str) -> int:
        """An artifact registered already: point the alias at it if a registration was stopped before it did."""
        if alias is not None and not any(m["alias"] == alias and m["to_version"] == number
                                         for m in self.history(model)):
            with WriteLock(self.conn) as lock:
                self._move(lock, model, alias, number, who, reason, ANY)
        return number

    def _log_run(self, model: str, artifact: bytes, sha: str, record: dict) -> tuple[str, dict, str]:
        """The version's run, with its files uploaded: (run id, the version's tags, the version's source)."""
        from mlspec.runtime import mlflow_flavor
        from mlspec.runtime.tracking import log

        lineage = record["lineage"]
        experiment = self._experiment_id(create=True)
        tags = {"mlspec.kind": "registration", "mlspec.model": model, "mlspec.sha256": sha,
                "mlflow.runName": f"{model} {sha[:12]}"}
        tags.update({f"mlspec.{key}": str(lineage[field]) for key, field in (
            ("config_hash", "model_config_hash"), ("data_sha256", "data_fingerprint"), ("git_commit", "git_commit"),
            ("mlspec_version", "mlspec_version"), ("training_run", "tracking_run_id")) if lineage.get(field)})
        if lineage.get("git_commit"):
            tags["mlflow.source.git.commit"] = str(lineage["git_commit"])
        tags.update({f"mlspec.library.{name}": str(v) for name, v in (lineage.get("libraries") or {}).items()})
        run = self.conn.retry("register", "create_run", experiment, tags=tags)
        run_id = run.info.run_id
        log(self.conn, run_id, record["params"], record["metrics"])
        data = _json(record).encode()
        with tempfile.TemporaryDirectory(prefix="mlspec-mlflow-") as folder:
            root = Path(folder)
            (root / "mlspec").mkdir()
            (root / ARTIFACT).write_bytes(artifact)
            (root / RECORD).write_bytes(data)
            self.conn.call("register", "log_artifacts", run_id, str(root / "mlspec"), "mlspec")
            version_tags = {"mlspec.sha256": sha, "mlspec.record_sha256": digest(data),
                            "mlspec.created_at": record["created_at"], "mlspec.created_by": record["created_by"]}
            for name in _FIELDS:
                text = _json(record[name])
                if len(text) <= _TAG_LIMIT:  # else read from the record
                    version_tags[f"mlspec.{name}"] = text
            source = f"runs:/{run_id}/mlspec"
            if mlflow_flavor.is_skops(artifact):
                flavor = root / mlflow_flavor.FOLDER
                version_tags["mlspec.flavor_sha256"] = mlflow_flavor.save(artifact, sha, model, lineage, flavor)
                self.conn.call("register", "log_artifacts", run_id, str(flavor), mlflow_flavor.FOLDER)
                source = f"runs:/{run_id}/{mlflow_flavor.FOLDER}"
        with no_stdout():
            self.conn.call("register", "set_terminated", run_id)
        return run_id, version_tags, source

    def _experiment_id(self, *, create: bool) -> str | None:
        return experiment_id(self.conn, self.experiment, create=create)

    def _discard_run(self, run_id: str) -> None:
        """A run whose artifact a concurrent writer registered first: deleted (MLflow keeps it recoverable)."""
        with contextlib.suppress(Exception):  # a left-over run is only clutter: `orphans` lists it
            self.conn.client.delete_run(run_id)

    def set_alias(self, model: str, alias: str, version: int, reason: str, who: str | None = None,
                  expected: int | _Any | None = ANY) -> None:
        """Point `alias` at `version` after verifying MLflow's copies of its files; with `expected`, only while
        the alias still points there (re-read under the write lock right before the move)."""
        check_alias(alias)
        target_version = self.get(model, version)
        mv = self._model_version(model, version)
        for problem in self._file_problems(mv, target_version.artifact_sha256):
            raise RegistryError(f"refusing to promote {model} v{version}: {problem}",
                                hint="restore the run's artifacts from a backup, or retrain and register again")
        with WriteLock(self.conn) as lock:
            self._move(lock, model, alias, version, who or actor(), reason, expected, force=True)

    def _move(self, lock: WriteLock, model: str, alias: str, version: int, who: str, reason: str,
              expected: int | _Any | None, force: bool = False) -> None:
        """Move one alias under the lock: record a move made outside mlspec first, then the alias, then the entry."""
        rm = self._registered_model(model)
        current = {a: int(n) for a, n in (rm.aliases or {}).items()}
        history = _history(rm)
        now_at = current.get(alias)
        if not isinstance(expected, _Any) and now_at != expected:
            raise changed_since(model, alias, expected, now_at)
        if now_at == version and not force:
            return
        entries = []
        recorded = next((m["to_version"] for m in reversed(history) if m["alias"] == alias), None)
        if recorded != now_at:
            entries.append({"alias": alias, "from_version": recorded, "to_version": now_at, "actor": "unknown",
                            "reason": "moved outside mlspec (found when mlspec next moved it)", "at": now()})
        entries.append({"alias": alias, "from_version": now_at, "to_version": version, "actor": who, "reason": reason,
                        "at": now()})
        lock.check()
        self.conn.retry("move an alias of", "set_registered_model_alias", model, alias, str(version))
        if alias == "champion" and current.get("challenger") == version:
            self.conn.retry("move an alias of", "delete_registered_model_alias", model, "challenger")
            entries.append({"alias": "challenger", "from_version": version, "to_version": None, "actor": who,
                            "reason": f"promoted: {reason}", "at": now()})
        for i, entry in enumerate(entries, _next_entry(rm)):
            self.conn.retry("record a move of", "set_registered_model_tag", model, f"{HISTORY}{i:06d}", _json(entry))

    # -- run records ---------------------------------------------------------------------------

    def _run_record(self, branch: str, *, create: bool):
        experiment = None if self.conn.where.absent() and not create else self._experiment_id(create=create)
        if experiment is None:
            return None
        found = self.conn.call("read", "search_runs", [experiment], filter_string=(
            f"tags.`mlspec.kind` = 'last-run' and tags.`mlspec.branch` = '{_quoted(branch)}'"),
            order_by=["attributes.start_time ASC"], max_results=1)
        if found:
            return found[0]
        if not create:
            return None
        return self.conn.retry("record", "create_run", experiment, tags={
            "mlspec.kind": "last-run", "mlspec.branch": branch, "mlflow.runName": f"last run on {branch}"},
            landed=lambda: self._run_record(branch, create=False))

    def last_run(self, branch: str) -> dict | None:
        """The branch's last-run record, or None."""
        run = self._run_record(branch, create=False)
        data = None if run is None else self._download(run.info.run_id, "record.json")
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise RegistryError(f"the registry {self.location} is damaged: the last-run record of {branch} is "
                                "unreadable", hint="delete that run in MLflow; the next run trains every model") \
                from None

    def record_run(self, branch: str, record: dict) -> None:
        """Replace the branch's last-run record (one file replaced whole)."""
        run = self._run_record(branch, create=True)
        self.conn.call("record", "log_text", run.info.run_id, _json(record), "record.json")

    # -- integrity --------------------------------------------------------------------------

    def artifact(self, sha256: str) -> bytes:
        """A registered artifact's bytes, verified: a local copy, else MLflow's (hashed before anything reads it)."""
        cached = self.artifacts.get(sha256) if self.artifacts.exists(sha256) else None
        if cached is not None:
            return cached
        found = [] if self.conn.where.absent() else self.conn.call(
            "read", "search_model_versions", filter_string=f"tags.`mlspec.sha256` = '{sha256}'")
        if not found:
            raise RegistryError(f"artifact {sha256[:12]} is not registered in {self.location}",
                                hint="see `mlspec registry ls` for registered versions")
        data = self._download(found[0].run_id, ARTIFACT)
        if data is None:
            raise RegistryError(f"artifact {sha256[:12]} is missing from its run {found[0].run_id}",
                                hint="restore the run's artifacts from a backup, or retrain")
        if digest(data) != sha256:
            raise RegistryError(f"artifact {sha256[:12]} has been modified (its sha256 no longer matches the "
                                "registry)", hint="refusing to load a tampered model; restore it from a backup or "
                                "retrain")
        self.artifacts.put(data)
        return data

    def _file_problems(self, mv, sha256: str) -> list[str]:
        """What is wrong with MLflow's copies of a version's files (the artifact, and the flavour's file)."""
        problems = []
        data = self._download(mv.run_id, ARTIFACT)
        if data is None:
            problems.append(f"artifact {sha256[:12]} is missing from its run {mv.run_id}")
        elif digest(data) != sha256:
            problems.append(f"artifact {sha256[:12]} has been modified (its sha256 no longer matches the registry)")
        flavor = mv.tags.get("mlspec.flavor_sha256")
        if flavor:
            from mlspec.runtime.mlflow_flavor import FILE, FOLDER

            data = self._download(mv.run_id, f"{FOLDER}/{FILE}")
            if data is None or digest(data) != flavor:
                problems.append(f"the MLflow model {FOLDER}/{FILE} of run {mv.run_id} is "
                                f"{'missing' if data is None else 'modified (its sha256 no longer matches)'}")
        return problems

    def verify(self) -> list[str]:
        """Gaps in MLflow's numbering, MLflow's copies missing or modified, aliases without their history or
        pointing at versions mlspec did not register. Never repairs anything."""
        problems = []
        for rm in self._registered():
            every = self._model_versions(rm.name)
            numbers = [int(mv.version) for mv in every]
            if numbers != list(range(1, len(numbers) + 1)):
                problems.append(f"{rm.name}: versions are not contiguous: {numbers} (a version was deleted in "
                                "MLflow)")
            ours = {int(mv.version): mv for mv in every if "mlspec.sha256" in mv.tags}
            for number, mv in ours.items():
                try:
                    self._version(mv, full=True)
                except RegistryError as exc:
                    problems.append(exc.message)
                problems += [f"{rm.name} v{number}: {p}" for p in self._file_problems(mv, mv.tags["mlspec.sha256"])]
            history = _history(rm)
            for alias, number in sorted((rm.aliases or {}).items()):
                if alias not in ("champion", "challenger"):
                    continue
                if int(number) not in ours:
                    problems.append(f"{rm.name}: alias {alias} points to v{number}, which mlspec did not register")
                last = [m["to_version"] for m in history if m["alias"] == alias][-1:]
                if last != [int(number)]:
                    problems.append(f"{rm.name}: alias {alias} points to v{number}, but its history does not record "
                                    "that move (moved outside mlspec, or a writer was stopped)")
        return problems

    def orphans(self) -> list[str]:
        """Runs of registrations that never became a version (a writer stopped between uploading and
        registering; harmless)."""
        experiment = None if self.conn.where.absent() else self._experiment_id(create=False)
        if experiment is None:
            return []
        runs = self._pages("read", "search_runs", experiment_ids=[experiment],
                           filter_string="tags.`mlspec.kind` = 'registration'")
        referenced = {mv.run_id for rm in self._registered() for mv in self._model_versions(rm.name)}
        return sorted(f"mlflow run {run.info.run_id} ({run.data.tags.get('mlspec.model', '?')}, artifact "
                      f"{run.data.tags.get('mlspec.sha256', '?')[:12]})" for run in runs
                      if run.info.run_id not in referenced)


def _history(rm) -> list[dict]:
    tags = rm.tags or {}
    moves: list[dict] = []
    for key in sorted(k for k in tags if k.startswith(HISTORY)):
        try:
            entry = json.loads(tags[key])
        except ValueError:
            continue
        moves.append({"id": len(moves) + 1, "model": rm.name, **entry})
    return moves


def _next_entry(rm) -> int:
    """The number of the next history tag (one more than the highest, whatever the entries hold)."""
    numbers = [int(k[len(HISTORY):]) for k in (rm.tags or {}) if k.startswith(HISTORY) and k[len(HISTORY):].isdigit()]
    return max(numbers, default=0) + 1


def _quoted(text: str) -> str:
    """A value inside MLflow's single-quoted filter strings (model and branch names have no quotes; kept safe)."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _text(value: object) -> str:
    return value if isinstance(value, str) else _json(value)
