"""`mlspec serve`: answer real-time requests with each model's champion (the `serve` extra).

FastAPI, uvicorn and the model stack are imported inside the command, never when the CLI loads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from mlspec.cli.common import EXIT_USAGE, load_or_exit
from mlspec.cli.main import cli
from mlspec.errors import MlspecError

# one BLAS/OpenMP thread per worker, set before numpy or scikit-learn load their thread pools
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@cli.command("serve")
@click.argument("models", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each loads the models and writes its own log files).")
@click.option("--poll", "poll_seconds", type=click.FloatRange(0.05, 3600), default=5.0, show_default=True,
              help="Seconds between reads of the registry's aliases (a promotion or rollback is picked up then).")
@click.option("--max-body", "max_body_bytes", type=click.IntRange(1), default=1 << 20, show_default=True,
              help="Largest request body in bytes; larger ones are refused (413) before parsing.")
@click.option("--max-batch", type=click.IntRange(1), default=1000, show_default=True, help="Most rows per request.")
@click.option("--shadow/--no-shadow", default=True, show_default=True,
              help="Score each request with the model's challenger too, off the response path.")
@click.option("--shadow-queue", type=click.IntRange(1), default=1000, show_default=True,
              help="Requests waiting for shadow scoring; when full, shadow scores are dropped and counted.")
@click.option("--log-predictions/--no-log-predictions", default=True, show_default=True,
              help="Append served rows to the prediction log (predictions/ in the artifact store).")
@click.option("--flush-rows", type=click.IntRange(1), default=10_000, show_default=True,
              help="Write the prediction log when this many rows wait...")
@click.option("--flush-seconds", type=click.FloatRange(0.05, 3600), default=10.0, show_default=True,
              help="...or this often.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One JSON line per request on standard error.")
@click.pass_context
def serve_command(ctx: click.Context, models: tuple[str, ...], host: str, port: int, workers: int, **options) -> None:
    """Serve the champion of each model (all, or the MODELS given) over HTTP: the Open Inference Protocol
    (KServe V2) and POST /v1/models/MODEL:predict."""
    from mlspec.cli.main import missing_runtime

    lacking = missing_runtime() + [m for m in ("fastapi", "uvicorn") if _absent(m)]
    if lacking:
        raise MlspecError(f"`mlspec serve` needs the serve extra (missing: {', '.join(lacking)})",
                          hint="pip install 'mlspec-gitops[serve]'")
    project = load_or_exit(ctx)
    known = sorted(n.name for n in project.manifest.of_kind("model"))
    unknown = [m for m in models if m not in known]
    if unknown or not known:
        said = f"unknown model(s): {', '.join(unknown)}" if unknown else "the spec defines no models"
        raise MlspecError(f"{said}; models: {', '.join(known) or 'none'}", exit_code=EXIT_USAGE)
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    import uvicorn

    from mlspec.serve.settings import ENV, Settings, setup_logging, write_config

    settings = Settings(models=list(models) or known, **options)
    setup_logging()
    common: dict[str, Any] = {"host": host, "port": port, "log_config": None, "access_log": False,
                              "timeout_graceful_shutdown": 30}
    if workers == 1:
        from mlspec.serve.app import create_app

        uvicorn.run(create_app(project.manifest, project.root, settings), **common)
        return
    with tempfile.TemporaryDirectory(prefix="mlspec-serve-") as folder:
        config = Path(folder) / "config.json"
        write_config(config, project.root, project.manifest.to_json(), settings)
        os.environ[ENV] = str(config)
        uvicorn.run("mlspec.serve.app:from_environment", factory=True, workers=workers, **common)


def _absent(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is None
