"""Data sources on object storage (a local S3 server): a CSV object and Parquet parts named by a glob are
read, typed and checked by the same contract as local files; a no-op run decides from one listing (keys,
sizes, ETags) that nothing changed, and a replaced object is read again."""

from __future__ import annotations

import io

import pytest

from tests.e2e.test_run import make_frame, make_project, mlspec, spec_doc, statuses


@pytest.fixture
def s3_env(s3_server, monkeypatch: pytest.MonkeyPatch):
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    return s3_server


def _csv(frame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_a_csv_object_is_read_and_checked_and_a_noop_run_reads_only_the_listing(tmp_path, s3_env) -> None:
    bucket = s3_env.new_bucket()
    url = s3_env.put(bucket, "events/latest.csv", _csv(make_frame()))
    doc = spec_doc()
    doc["sources"]["events"]["path"] = url
    root = make_project(tmp_path / "project", doc)
    select = ("-j", "1", "-s", "+model:risk_lr")
    first = mlspec(root, "run", *select)
    assert first.code == 0, first.stderr
    assert statuses(first.stderr)["source.events"] == "OK"
    again = mlspec(root, "run", *select)
    assert statuses(again.stderr) == {"source.events": "SKIP", "model.risk_lr": "SKIP"}

    s3_env.put(bucket, "events/latest.csv", _csv(make_frame(seed=3)))  # new data under the same key
    changed = mlspec(root, "run", *select)
    assert statuses(changed.stderr) == {"source.events": "OK", "model.risk_lr": "OK"}

    broken = make_frame()
    broken.loc[3, "hour"] = 99  # breaks the contract (hour in 0..23)
    s3_env.put(bucket, "events/latest.csv", _csv(broken))
    failed = mlspec(root, "run", *select)
    assert failed.code == 1
    assert "hour" in failed.stderr and "Traceback" not in failed.stderr


def test_parquet_parts_named_by_a_glob_are_read_as_one_table(tmp_path, s3_env) -> None:
    bucket = s3_env.new_bucket()
    frame = make_frame(rows=900)
    for part, start in enumerate(range(0, 900, 300)):
        buffer = io.BytesIO()
        frame.iloc[start:start + 300].to_parquet(buffer, index=False)
        s3_env.put(bucket, f"events/day={part}/part-0.parquet", buffer.getvalue())
    s3_env.put(bucket, "events/_SUCCESS", b"")  # not matched by the glob
    doc = spec_doc()
    source = doc["sources"]["events"]
    source.pop("delimiter", None)
    source.update({"format": "parquet", "path": f"s3://{bucket}/events/day=*/*.parquet"})
    root = make_project(tmp_path / "project", doc)
    result = mlspec(root, "run", "-j", "1", "-s", "source:events")
    assert result.code == 0, result.stderr
    assert "900 rows, contract passed" in result.stderr


def test_a_missing_object_is_one_clear_error(tmp_path, s3_env) -> None:
    bucket = s3_env.new_bucket()
    doc = spec_doc()
    doc["sources"]["events"]["path"] = f"s3://{bucket}/events/nothing-here.csv"
    root = make_project(tmp_path / "project", doc)
    result = mlspec(root, "run", "-j", "1", "-s", "source:events")
    assert result.code == 1
    assert "nothing found at s3://" in result.stderr and "Traceback" not in result.stderr
