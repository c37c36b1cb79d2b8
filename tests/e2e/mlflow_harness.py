"""A real MLflow tracking server for the tests: `mlflow server` from its own virtualenv, artifacts on local S3.

The server is the full `mlflow` package that `scripts/ci_mlflow.sh` installs apart from mlspec's environment
(MLSPEC_TEST_MLFLOW names its `mlflow` command); mlspec talks to it with the `mlflow-skinny` client of its
`mlflow` extra. The server keeps its database in a temporary SQLite file and proxies artifacts to a bucket of
the tests' moto server, so tampering with a version's files means writing that bucket, as an attacker with
the store's credentials would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.conftest import S3Server

# MLflow's client (3.18) asks a 3.17 server for presigned downloads it does not serve, warns and falls back;
# proxied downloads straight away keep the tests' output readable (a 3.18 server would not need this)
CLIENT_ENV = {"MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false"}
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # else 9 processes, ~0.9 GB, 2-5x slower start
              "MLFLOW_DISABLE_TELEMETRY": "true"}
START_GUARD = 300.0  # not a speed limit: only a server that never answers /health


def server_command() -> tuple[Path | None, str]:
    """The `mlflow` command of the server's virtualenv, or (None, why not)."""
    given = os.environ.get("MLSPEC_TEST_MLFLOW", "")
    if not given:
        return None, ("MLSPEC_TEST_MLFLOW is not set (CI sets it; locally run: "
                      "eval \"$(bash scripts/ci_mlflow.sh)\")")
    path = Path(given)
    if not os.access(path, os.X_OK):
        raise AssertionError(f"MLSPEC_TEST_MLFLOW={given} is not an executable `mlflow` command")
    return path, ""


@dataclass
class MlflowServer:
    """A running `mlflow server`: its address, the bucket of its artifacts, and helpers for the tests."""

    url: str  # http://127.0.0.1:PORT
    s3: S3Server
    bucket: str
    prefix: str  # the artifacts' key prefix in the bucket
    process: subprocess.Popen
    log: Path
    env: dict[str, str] = field(default_factory=lambda: dict(CLIENT_ENV))  # what a client process needs
    started_in: float = 0.0  # seconds until /health answered

    @property
    def registry_uri(self) -> str:
        """This server as a registry URL of a spec."""
        return f"mlflow+{self.url}"

    def client(self):
        """MLflow's own client of this server (the test's view, outside mlspec)."""
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def reset(self) -> None:
        """Delete every registered model (hard: numbering starts again at 1) and every run's experiment, so each
        test of the registry contract starts from an empty registry."""
        client = self.client()
        for model in client.search_registered_models(max_results=1000):
            client.delete_registered_model(model.name)
        for experiment in client.search_experiments(max_results=1000):
            if experiment.name != "Default":
                client.delete_experiment(experiment.experiment_id)

    def artifact_key(self, run_id: str, path: str) -> str:
        """The bucket key of a run's artifact (the server proxies `mlflow-artifacts:/<exp>/<run>/artifacts/...`)."""
        run = self.client().get_run(run_id)
        return f"{self.prefix}/{run.info.experiment_id}/{run_id}/artifacts/{path}"

    def tamper(self, sha256: str, data: bytes, path: str = "mlspec/model.skops") -> None:
        """Replace MLflow's copy of the version holding `sha256` (its run's `path`) behind mlspec's back."""
        found = self.client().search_model_versions(f"tags.`mlspec.sha256` = '{sha256}'")
        assert found, f"no version holds {sha256[:12]}"
        self.s3.put(self.bucket, self.artifact_key(found[0].run_id, path), data)

    def stop(self) -> None:
        """Stop the server (its workers are in its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def start(command: Path, s3: S3Server, folder: Path) -> MlflowServer:
    """Start `mlflow server` on a free port of 127.0.0.1 with its database in `folder` and artifacts in a new
    bucket; returns once /health answers."""
    bucket, prefix = s3.new_bucket("mlflow-art"), "mlflow"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = folder / "mlflow-server.log"
    env = {**os.environ, **s3.env, **SERVER_ENV, "MLFLOW_S3_ENDPOINT_URL": s3.endpoint}
    args = [str(command), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", f"s3://{bucket}/{prefix}"]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder,
                                   start_new_session=True)
    server = MlflowServer(f"http://127.0.0.1:{port}", s3, bucket, prefix, process, log)
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() - started > START_GUARD:
            server.stop()
            raise AssertionError(f"mlflow server did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    server.started_in = time.monotonic() - started
    return server

