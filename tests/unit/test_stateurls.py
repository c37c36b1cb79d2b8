"""Tests for mlspec.stateurls: the registry's and artifact store's URL forms and what follows from them."""

from __future__ import annotations

import pytest

from mlspec import stateurls

GOOD_REGISTRIES = [
    "sqlite:///.mlspec/registry.db",
    "postgresql://mlspec:${env:PGPASSWORD}@db.example.com:5432/mlspec",
    "postgresql+psycopg://mlspec@db/mlspec",
    "s3://acme-ml/mlspec",
    "s3://acme.ml.models/team/mlspec/",
    "s3://abc",
    "gs://acme_ml-models/mlspec",
    "gs://models.acme.example.com/x",
    "az://models/mlspec",
    "az://m0-1/x_y/z.v1",
    "file:///srv/mlspec",
    "mlflow+https://mlflow.acme.internal",
    "mlflow+http://127.0.0.1:5000",
    "mlflow+https://ml.example.com:8443/mlflow/",
    "mlflow+http://[::1]:5000",
    "mlflow+sqlite:///.mlspec/mlflow.db",
    "mlflow+databricks",
]


@pytest.mark.parametrize("uri", GOOD_REGISTRIES)
def test_accepted_registry_urls(uri: str) -> None:
    assert stateurls.registry_problem(uri) is None


BAD_REGISTRIES = [
    ("mysql://u@h/db", "MLS220", "is not a registry"),
    ("postgres://u@h/db", "MLS220", "is not a registry"),
    (".mlspec/registry.db", "MLS220", "is not a URL"),
    ("s3://ab/x", "MLS220", "S3 bucket"),
    ("s3://Acme/x", "MLS220", "S3 bucket"),
    ("s3://acme_ml/x", "MLS220", "S3 bucket"),
    ("s3://acme..ml/x", "MLS220", "S3 bucket"),
    ("s3://192.168.0.1/x", "MLS220", "S3 bucket"),
    ("s3://-acme/x", "MLS220", "S3 bucket"),
    ("s3://xn--acme/x", "MLS220", "S3 bucket"),
    ("s3://" + "a" * 64 + "/x", "MLS220", "S3 bucket"),
    ("gs://goog-ml/x", "MLS220", "Google Cloud Storage bucket"),
    ("gs://my-google-bucket/x", "MLS220", "Google Cloud Storage bucket"),
    ("az://ml--models/x", "MLS220", "Azure Blob Storage container"),
    ("az://ml_models/x", "MLS220", "Azure Blob Storage container"),
    ("az://models-/x", "MLS220", "Azure Blob Storage container"),
    ("s3://key:secret@acme-ml/x", "MLS208", "no credentials"),
    ("s3://acme-ml/x?versionId=1", "MLS220", "no query"),
    ("s3://acme-ml/x#frag", "MLS220", "no query"),
    ("s3://acme-ml/${env:PREFIX}", "MLS220", "${env:...}"),
    ("s3://acme-ml/a/../b", "MLS220", "'..' segment"),
    ("s3://acme-ml/a/./b", "MLS220", "'.' segment"),
    ("s3://acme-ml/a//b", "MLS220", "empty"),
    ("s3://acme-ml/a b", "MLS220", "characters"),
    ("file://host/share", "MLS220", "not a host"),
    ("file:///", "MLS220", "not a host"),
    ("file:///srv/../etc", "MLS220", "'..' segment"),
    ("file:///srv/x?y", "MLS220", "no query"),
    ("mlflow+https://user:pw@mlflow.acme.com", "MLS208", "no credentials"),
    ("mlflow+https://token@mlflow.acme.com", "MLS208", "no credentials"),
    ("mlflow+https://mlflow.acme.com?x=1", "MLS220", "not an MLflow server address"),
    ("mlflow+https://mlflow.acme.com/a b", "MLS220", "not an MLflow server address"),
    ("mlflow+https://-bad.com", "MLS220", "not an MLflow server address"),
    ("mlflow+https://mlflow.acme.com:99999", "MLS220", "not a TCP port"),
    ("mlflow+https://${env:MLFLOW_HOST}", "MLS220", "${env:...}"),
    ("mlflow+sqlite:////abs/mlflow.db", "MLS220", "SQLite file in the project"),
    ("mlflow+sqlite://mlflow.db", "MLS220", "SQLite file in the project"),
    ("mlflow+sqlite:///x.db?mode=ro", "MLS220", "names a file"),
    ("mlflow+postgresql://u@h/db", "MLS220", "not an MLflow registry"),
    ("mlflow+databricks://profile", "MLS220", "not an MLflow registry"),
    ("mlflow://host", "MLS220", "not an MLflow registry"),
]


@pytest.mark.parametrize(("uri", "code", "why"), BAD_REGISTRIES)
def test_refused_registry_urls(uri: str, code: str, why: str) -> None:
    problem = stateurls.registry_problem(uri)
    assert problem is not None, uri
    assert problem.code == code and why in problem.message, problem
    assert problem.hint


def test_artifact_urls() -> None:
    assert stateurls.artifacts_problem("s3://acme-ml/artifacts") is None
    assert stateurls.artifacts_problem("file:///mnt/shared/artifacts") is None
    assert stateurls.artifacts_problem("https://example.com/x").code == "MLS220"
    assert stateurls.artifacts_problem("mlflow://x").code == "MLS220"


def test_default_artifacts_follow_a_store_registry() -> None:
    assert stateurls.default_artifacts("s3://acme-ml/mlspec/") == "s3://acme-ml/mlspec/artifacts"
    assert stateurls.default_artifacts("file:///srv/mlspec") == "file:///srv/mlspec/artifacts"
    assert stateurls.default_artifacts("postgresql://u@h/db") == ".mlspec/artifacts"
    assert stateurls.default_artifacts("sqlite:///.mlspec/registry.db") == ".mlspec/artifacts"


def test_candidate_folder_is_where_the_runtime_keeps_candidates() -> None:
    assert stateurls.candidate_folder("store/artifacts/") == "store/artifacts"
    assert stateurls.candidate_folder("gs://acme-ml/a") == ".mlspec/artifacts"  # the remote store's local cache
    assert stateurls.candidate_folder("file:///srv/artifacts") is None  # every job sees that folder


def test_extras_inferred_from_urls() -> None:
    assert stateurls.extras_for(["sqlite:///r.db", ".mlspec/artifacts", "data/x.csv"]) == []
    assert stateurls.extras_for(["postgresql+psycopg://h/db", "data/x.csv"]) == ["postgres"]
    assert stateurls.extras_for(["sqlite:///r.db", "az://c/artifacts", "s3://b/k.csv"]) == ["objectstore"]
    assert stateurls.extras_for(["file:///srv/r", "postgresql://h/w"]) == ["postgres"]


def test_mlflow_registries() -> None:
    assert stateurls.scheme("mlflow+https://h") == stateurls.scheme("mlflow+databricks") == "mlflow"
    assert stateurls.is_mlflow("mlflow+sqlite:///m.db") and not stateurls.is_mlflow("sqlite:///m.db")
    assert stateurls.is_local_mlflow("mlflow+sqlite:///m.db") and not stateurls.is_local_mlflow("mlflow+http://h")
    assert stateurls.mlflow_sqlite_path("mlflow+sqlite:///.mlspec/mlflow.db") == ".mlspec/mlflow.db"
    # MLflow keeps the registered artifacts; the project folder is where candidates wait and copies are cached
    assert stateurls.default_artifacts("mlflow+https://h") == ".mlspec/artifacts"
    assert stateurls.extras_for(["mlflow+https://h", ".mlspec/artifacts"]) == ["mlflow"]
    assert stateurls.extras_for(["mlflow+databricks", "s3://b/k.csv"]) == ["mlflow", "objectstore"]
