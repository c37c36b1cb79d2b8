"""Tests for mlspec.cli.main.collector_off: the one place mlspec tunes the cyclic garbage collector."""

from __future__ import annotations

import gc
from pathlib import Path

import click
import pytest

from mlspec import api
from mlspec.errors import MlspecError
from tests.conftest import run_cli


def test_a_command_that_runs_no_models_has_the_collector_off_until_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real_echo = click.echo

    def echo(*args, **kwargs) -> None:
        seen.append(gc.isenabled())
        real_echo(*args, **kwargs)

    monkeypatch.setattr(click, "echo", echo)
    assert gc.isenabled()
    result = run_cli("explain", "MLS001")
    assert result.code == 0 and "MLS001" in result.stdout
    assert seen and not any(seen)
    assert gc.isenabled()  # given back to the caller in this process


def test_a_command_that_runs_models_keeps_the_collector_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[bool] = []

    def load(root: Path, specs=None):
        seen.append(gc.isenabled())
        raise MlspecError("stopped by the test")

    monkeypatch.setattr(api, "load", load)
    result = run_cli("-C", str(tmp_path), "registry", "ls")
    assert seen == [True]
    assert result.code == 1 and "stopped by the test" in result.stderr
    assert gc.isenabled()


def test_reading_a_manifest_pauses_the_collector_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlspec.manifest import Manifest, fileform

    seen: list[bool] = []
    real_restore = fileform.restore

    def restore(data):
        seen.append(gc.isenabled())
        return real_restore(data)

    monkeypatch.setattr(fileform, "restore", restore)
    text = (Path(__file__).parents[2] / "generated" / "manifest.json").read_text(encoding="utf-8")
    assert Manifest.read_json(text).nodes
    assert seen == [False]
    assert gc.isenabled()
