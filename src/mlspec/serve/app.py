"""The ASGI application of `mlspec serve`: routes, request handling, and the background parts' lifetimes.

Routes: the Open Inference Protocol (`/v2/health/live`, `/v2/health/ready`, `/v2`, `/v2/models/{m}`,
`/v2/models/{m}/ready`, `POST /v2/models/{m}[/versions/{v}]/infer`), the record-oriented
`POST /v1/models/{m}[/versions/{v}]:predict`, and Prometheus `/metrics`. Every answer about a model
carries `x-mlspec-model`, `x-mlspec-version` and `x-mlspec-sha256`. A request takes the model's
current version once, at its start (see `mlspec.serve.models.Catalog`), so a reload never mixes two
versions in one answer. Scoring runs on a worker thread; the event loop only reads and answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlspec import __version__
from mlspec.errors import MlspecError
from mlspec.manifest import Manifest
from mlspec.serve import protocol
from mlspec.serve.metrics import Metrics
from mlspec.serve.models import Catalog, Served, predict
from mlspec.serve.predlog import Entry, PredictionLog, now
from mlspec.serve.settings import Settings, read_config, setup_logging
from mlspec.serve.shadow import Shadow
from mlspec.serve.validation import RequestInvalidError, Violation

log = logging.getLogger("mlspec.serve")
access = logging.getLogger("mlspec.serve.access")


class ServeError(MlspecError):
    """An answer other than success: status, message, and the served version's headers when known."""

    def __init__(self, status: int, message: str, served: Served | None = None, **extra: object) -> None:
        super().__init__(message)
        self.status, self.served, self.extra = status, served, extra


def _json(payload: object, status: int = 200, served: Served | None = None) -> Response:
    headers = {}
    if served is not None:
        headers = {"x-mlspec-model": served.name, "x-mlspec-version": str(served.version),
                   "x-mlspec-sha256": served.sha256}
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json", headers=headers)


class Server:
    """Everything one worker process serves with: the catalog, the reloader, shadow scoring, the log."""

    def __init__(self, manifest: Manifest, root: Path, settings: Settings) -> None:
        from mlspec.runtime.steps import Paths, open_registry
        from mlspec.state.stores import open_store

        self.manifest, self.root, self.settings = manifest, root, settings
        self.names = settings.models or sorted(n.name for n in manifest.of_kind("model"))
        self.registry = open_registry(manifest, Paths.of(manifest, root))
        self.catalog = Catalog(manifest, self.names, self.registry, shadow=settings.shadow)
        self.metrics = Metrics()
        self.log: PredictionLog | None = None
        if settings.log_predictions:
            contracts = {n: dict(manifest.source(manifest.model(n).source).columns)
                         for n in self.names}
            self.log = PredictionLog(open_store(manifest.project.artifacts_uri, root), contracts,
                                     settings.flush_rows, settings.flush_seconds)
        self.shadow = Shadow(settings.shadow_queue, self.log.append if self.log else None) if settings.shadow \
            else None
        self._stop = threading.Event()
        self._reloader = threading.Thread(target=self._reload, name="mlspec-reloader", daemon=True)

    # -- lifetime --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI):
        """Start the reloader (which loads the models), shadow scoring and the log; at shutdown, after uvicorn
        has drained in-flight requests, finish queued shadow scores and flush the log."""
        from mlspec.runtime.scoring import one_thread

        one_thread()  # for the worker's lifetime: one-row predictions are much faster on one thread
        log.info("serving %s from registry %s (poll every %gs)", ", ".join(self.names),
                 getattr(self.registry, "location", "?"), self.settings.poll_seconds)
        self._reloader.start()
        if self.shadow is not None:
            self.shadow.start()
        if self.log is not None:
            self.log.start()
        try:
            yield
        finally:
            self._stop.set()
            self._reloader.join(timeout=30)
            if self.shadow is not None:
                self.shadow.close()
            if self.log is not None:
                self.log.close()
                log.info("prediction log: %d rows in %d files written", self.log.stats.rows_written,
                         self.log.stats.files_written)
            self.registry.close()

    def _reload(self) -> None:
        was_ready = False
        while not self._stop.is_set():
            try:
                self.catalog.refresh()
            except Exception:  # the reloader must outlive any surprise; the next poll tries again
                log.exception("reloading failed")
            if self.catalog.ready and not was_ready:
                champions = {n: s.champion for n, s in self.catalog.slots.items() if s.champion is not None}
                log.info("ready: %s", ", ".join(f"{n} v{champions[n].version}" for n in self.names))
            elif not self.catalog.ready and was_ready:
                log.error("not ready: %s", "; ".join(self.catalog.reasons()))
            was_ready = self.catalog.ready
            self._stop.wait(self.settings.poll_seconds)

    # -- requests --------------------------------------------------------------------------

    def champion(self, name: str) -> Served:
        """The model's current champion, or the reason there is none (404 unknown, 503 not loaded)."""
        slot = self.catalog.slot(name)
        if slot is None:
            raise ServeError(404, f"unknown model '{name}'; this server serves {', '.join(self.names)}")
        if slot.champion is None:
            raise ServeError(503, f"model '{name}' is not ready: {slot.problem}")
        return slot.champion

    async def version(self, name: str, version: str | None) -> tuple[Served, bool]:
        """The version a URL names (loaded on demand, verified), or the champion; and whether it was pinned."""
        if version is None:
            return self.champion(name), False
        if self.catalog.slot(name) is None:
            raise ServeError(404, f"unknown model '{name}'; this server serves {', '.join(self.names)}")
        if not version.isdigit() or len(version) > 9:
            raise ServeError(404, f"model '{name}' has no version '{version}' (versions are numbers)")
        from mlspec.runtime.errors import RunError

        try:
            served = await run_in_threadpool(self.catalog.pinned, name, int(version))
        except RunError as exc:
            missing = "has no version" in exc.message
            raise ServeError(404 if missing else 503, exc.message) from None
        return served, True

    async def body(self, request: Request) -> object:
        """The request's JSON, refused with 413 past the size cap before anything is parsed."""
        cap = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise ServeError(413, f"request body of {declared} bytes is larger than the limit of {cap} "
                          "(mlspec serve --max-body)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise ServeError(413, f"request body is larger than the limit of {cap} bytes (mlspec serve --max-body)")
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise RequestInvalidError([Violation("body", "json", f"body: not valid JSON ({exc})")]) from None

    def score(self, served: Served, rows: list[dict]):
        """Validate-typed frame and predictions (on a worker thread)."""
        frame = served.rows.frame(rows)
        return frame, predict(served, frame)

    def after(self, served: Served, rows: list[dict], frame, result, request_id: str, pinned: bool) -> None:
        """Count, log and shadow a served request (never delays or fails the response)."""
        self.metrics.count("mlspec_requests_total", model=served.name, version=served.version, status="200")
        self.metrics.count("mlspec_predictions_total", len(rows), model=served.name, version=served.version)
        entry = Entry(served.name, now(), request_id, rows, served.version, served.sha256, result.labels,
                      result.scores, inputs=served.inputs)
        slot = None if pinned else self.catalog.slot(served.name)
        challenger = slot.challenger if slot is not None else None
        if challenger is not None and self.shadow is not None and self.shadow.submit(challenger, frame, entry):
            return
        if self.log is not None:
            self.log.append(entry)

    async def handle(self, request: Request, name: str, version: str | None, kind: str) -> Response:
        """One inference request, V2 (`kind` "v2") or v1."""
        served = None
        try:
            served, pinned = await self.version(name, version)
            request.state.mlspec = (served.name, served.version)
            body = await self.body(request)
            contracts = served.rows.contracts
            if kind == "v2":
                rows, request_id = protocol.v2_rows(body, served.inputs, contracts, self.settings.max_batch)
            else:
                rows, request_id = protocol.v1_rows(body, self.settings.max_batch), None
            served.rows.check(rows)
            frame, result = await run_in_threadpool(self.score, served, rows)
        except RequestInvalidError as exc:
            for rule in sorted({v.rule for v in exc.violations}):
                self.metrics.count("mlspec_validation_failures_total", model=name, rule=rule)
            self.metrics.count("mlspec_requests_total", model=name, version=served.version if served else "",
                               status="422")
            return _json({"error": f"the request breaks the model's contract: {exc}",
                          "violations": [v.to_dict() for v in exc.violations]}, 422, served)
        except ServeError as exc:
            known = name if self.catalog.slot(name) is not None else "(unknown)"  # bounded label values
            self.metrics.count("mlspec_requests_total", model=known, version=served.version if served else "",
                               status=str(exc.status))
            return _json({"error": exc.message, **exc.extra}, exc.status, exc.served or served)
        request_id = request_id or uuid.uuid4().hex
        payload = protocol.v2_response(served, result, request_id) if kind == "v2" \
            else protocol.v1_response(served, result)
        self.after(served, rows, frame, result, request_id, pinned)
        return _json(payload, 200, served)

    def metrics_text(self) -> str:
        """/metrics: the counters, and current values of the catalog, shadow queue and log."""
        gauges: dict[str, list[tuple[dict, float]]] = {"mlspec_ready": [({}, float(self.catalog.ready))]}
        gauges["mlspec_model_version"] = [({"model": n, "role": role}, float(getattr(s, role).version))
                                          for n, s in sorted(self.catalog.slots.items())
                                          for role in ("champion", "challenger") if getattr(s, role) is not None]
        gauges["mlspec_reloads_total"] = [({}, float(self.catalog.swaps))]
        if self.shadow is not None:
            stats = self.shadow.stats
            gauges["mlspec_shadow_queue_length"] = [({}, float(self.shadow.queue.qsize()))]
            for name, table in (("scored", stats.scored), ("dropped", stats.dropped), ("failed", stats.failed)):
                gauges[f"mlspec_shadow_{name}_total"] = [({"model": m}, float(v)) for m, v in sorted(table.items())]
        if self.log is not None:
            s = self.log.stats
            gauges["mlspec_prediction_log_rows_written_total"] = [({}, float(s.rows_written))]
            gauges["mlspec_prediction_log_rows_dropped_total"] = [({}, float(s.rows_dropped))]
            gauges["mlspec_prediction_log_failed_flushes_total"] = [({}, float(s.failed_flushes))]
        return self.metrics.render(gauges)


class AccessLog:
    """Pure ASGI middleware: a JSON access-log line and a latency observation per request."""

    def __init__(self, app, server: Server) -> None:
        self.app, self.server = app, server

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [0]

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.server.metrics.observe(seconds, route=path)
            if self.server.settings.access_log:
                model = (scope.get("state") or {}).get("mlspec")
                access.info("%s", json.dumps({"method": scope["method"], "path": scope["path"], "status": status[0],
                                              "ms": round(seconds * 1000, 3), "model": model[0] if model else None,
                                              "version": model[1] if model else None}))


def create_app(manifest: Manifest, root: Path, settings: Settings) -> FastAPI:
    """The application for `manifest`'s project at `root`."""
    server = Server(manifest, root, settings)
    app = FastAPI(title="mlspec serve", version=__version__, lifespan=server.lifespan,
                  description="Open Inference Protocol (KServe V2) and v1 predict endpoints for the champions "
                              "of an mlspec project.")
    app.state.server = server
    bodies = protocol.openapi_bodies(*_documented_inputs(manifest, server.names), settings.max_batch)
    v2_body, v1_body = {"requestBody": bodies["v2"]}, {"requestBody": bodies["v1"]}

    @app.get("/v2/health/live")
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        if server.catalog.ready:
            return _json({"ready": True})
        # the protocol's health answers: 200 for true, a 4xx for false (as Triton, 400); probes take both
        return _json({"ready": False, "reasons": server.catalog.reasons()}, 400)

    @app.get("/v2")
    async def server_metadata() -> Response:
        return _json({"name": "mlspec", "version": __version__, "extensions": []})

    @app.get("/v2/models/{model}")
    async def model_metadata(model: str) -> Response:
        return await _metadata(model, None)

    @app.get("/v2/models/{model}/versions/{version}")
    async def version_metadata(model: str, version: str) -> Response:
        return await _metadata(model, version)

    async def _metadata(model: str, version: str | None) -> Response:
        try:
            served, _ = await server.version(model, version)
        except ServeError as exc:
            return _json({"error": exc.message}, exc.status)
        return _json(protocol.metadata(served, served.rows.contracts), 200, served)

    @app.get("/v2/models/{model}/ready")
    async def model_ready(model: str) -> Response:
        try:
            served = server.champion(model)
        except ServeError as exc:
            return _json({"name": model, "ready": False, "error": exc.message}, _not_ready(exc.status))
        return _json({"name": model, "ready": True}, 200, served)

    @app.get("/v2/models/{model}/versions/{version}/ready")
    async def version_ready(model: str, version: str) -> Response:
        try:
            served, _ = await server.version(model, version)
        except ServeError as exc:
            return _json({"name": model, "ready": False, "error": exc.message}, _not_ready(exc.status))
        return _json({"name": model, "ready": True}, 200, served)

    @app.post("/v2/models/{model}/infer", openapi_extra=v2_body)
    async def infer(model: str, request: Request) -> Response:
        return await server.handle(request, model, None, "v2")

    @app.post("/v2/models/{model}/versions/{version}/infer", openapi_extra=v2_body)
    async def infer_version(model: str, version: str, request: Request) -> Response:
        return await server.handle(request, model, version, "v2")

    @app.post("/v1/models/{model}:predict", openapi_extra=v1_body)
    async def predict_v1(model: str, request: Request) -> Response:
        return await server.handle(request, model, None, "v1")

    @app.post("/v1/models/{model}/versions/{version}:predict", openapi_extra=v1_body)
    async def predict_v1_version(model: str, version: str, request: Request) -> Response:
        return await server.handle(request, model, version, "v1")

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(server.metrics_text(), media_type="text/plain; version=0.0.4")

    app.add_middleware(AccessLog, server=server)
    return app


def _documented_inputs(manifest: Manifest, names: list[str]) -> tuple[dict, list[str]]:
    """The columns the served models' features read, as the spec declares them (the loaded version's exact
    inputs are in its V2 metadata), and those every model requires (read by all, not nullable). A column
    two sources declare differently maps to None: which contract applies depends on the model."""
    from mlspec.runtime.features import raw_columns

    columns: dict = {}
    required: set[str] | None = None
    for name in names:
        model = manifest.model(name)
        contracts = manifest.source(model.source).columns
        read = raw_columns(model, manifest)
        for column in read:
            columns[column] = contracts[column] if columns.get(column, contracts[column]) == contracts[column] \
                else None
        strict = {c for c in read if not contracts[c].nullable}
        required = strict if required is None else required & strict
    return columns, sorted(required or ())


def from_environment() -> FastAPI:
    """The app of a worker process started by `mlspec serve --workers N` (see `mlspec.serve.settings`)."""
    setup_logging()
    root, manifest_data, settings = read_config()
    return create_app(Manifest.model_validate(manifest_data), root, settings)


def _not_ready(status: int) -> int:
    """A readiness answer's status: the protocol's health answers are 200 or a 4xx, so a model that is known
    but not loaded (503 on the inference routes) is 400 here; an unknown model stays 404."""
    return 400 if status == 503 else status
