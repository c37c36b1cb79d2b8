"""Specs at the edges of what validate accepts still compile to workflows that work where they run.

Each test starts from the golden fraud project's specs, changes one thing a user may well write, and
checks what `mlspec compile` writes (or refuses).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import REPO, run_cli

FRAUD = REPO / "tests" / "golden" / "fraud" / "specs"


def _project(tmp_path: Path, extra: str = "", replace: tuple[str, str] | None = None) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FRAUD, root / "specs")
    fraud = root / "specs" / "fraud.yaml"
    text = fraud.read_text(encoding="utf-8")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    fraud.write_text(text + extra, encoding="utf-8")
    return root


def _monitor(name: str, schedule: str) -> str:
    return (f"  {name}:\n    model: fraud_gbm\n    data: transactions_live\n    schedule: \"{schedule}\"\n"
            "    drift: {method: psi}\n")


def test_schedules_differing_only_in_letter_case_share_one_workflow(tmp_path: Path) -> None:
    """`mon` and `MON` are one schedule. Two workflows `...x_mon.yml` and `...x_MON.yml` would be one file on
    a case-insensitive file system (macOS, Windows): a checkout there keeps only one of them."""
    root = _project(tmp_path, _monitor("weekly_lower", "0 7 * * mon") + _monitor("weekly_upper", "0 7 * * MON")
                    + _monitor("monthly", "0 7 1 jan-mar *"))
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    files = sorted(p.name for p in (root / ".github" / "workflows").iterdir())
    assert len({name.lower() for name in files}) == len(files), files
    assert "mlspec-monitors-0_7_x_x_MON.yml" in files and "mlspec-monitors-0_7_1_JAN-MAR_x.yml" in files
    weekly = yaml.safe_load((root / ".github" / "workflows" / "mlspec-monitors-0_7_x_x_MON.yml").read_text())
    assert weekly["on"]["schedule"] == [{"cron": "0 7 * * MON"}]
    assert weekly["on"]["workflow_dispatch"]["inputs"]["monitor"]["options"] == ["weekly_lower", "weekly_upper"]
    # the workflow's check step passes its own schedule; either spelling names the same workflow
    for spelling in ("0 7 * * MON", "0 7 * * mon"):
        assert run_cli("-C", str(root), "check-input", "monitor", "weekly_lower", "--schedule", spelling).code == 0


def test_every_run_step_says_it_is_bash_so_a_windows_runner_runs_it_as_written(tmp_path: Path) -> None:
    """The steps are bash (`"$MLSPEC_PACKAGE"`, `"$GITHUB_OUTPUT"`, `> /dev/null`). A Windows runner's default
    shell is PowerShell, where `"$MLSPEC_PACKAGE"` is an unset PowerShell variable, an empty string: pip
    installed nothing and the plan wrote no outputs. Validate accepts Windows labels (and compile pins for
    them), so each step must name its shell; a self-hosted Windows runner's label cannot be recognised."""
    root = _project(tmp_path, replace=("    tags: [fraud, baseline]\n", "    tags: [fraud, baseline]\n"
                                       "    runner: windows-latest\n"))
    result = run_cli("-C", str(root), "compile")
    assert result.code == 0, result.stderr
    steps = 0
    for path in sorted((root / ".github" / "workflows").glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job_id, job in document["jobs"].items():
            for step in job.get("steps", []):
                if "run" in step:
                    steps += 1
                    shell = (step.get("shell") or job.get("defaults", {}).get("run", {}).get("shell")
                             or document.get("defaults", {}).get("run", {}).get("shell"))
                    assert shell == "bash", f"{path.name}: {job_id} runs {step['run']!r} in the runner's default shell"
    assert steps > 20


def _factory_project(tmp_path: Path, models: int) -> Path:
    from tests.spec_factory import generate_project

    root = tmp_path / f"project_{models}"
    for path, text in generate_project(3, models).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def test_a_workflow_over_githubs_size_limit_is_named(tmp_path: Path, monkeypatch) -> None:
    """GitHub starts no run of a workflow file over 500 KB, and main's workflow holds jobs per model and gate
    (about 3.3 KB a model): compile still writes it (runs elsewhere need no workflow), and says so, on the
    full path, from the cache, and under --check; a project far below the limit hears nothing."""
    from mlspec.emit.workflows import WORKFLOW_LIMIT

    monkeypatch.setenv("MLSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small = _factory_project(tmp_path, 10)
    done = run_cli("-C", str(small), "compile")
    assert done.code == 0, done.stderr
    assert "GitHub starts no run" not in done.stderr

    big = _factory_project(tmp_path, 180)
    sizes = {}
    for attempt in ("compile", "compile", "compile --check"):
        done = run_cli("-C", str(big), *attempt.split())
        assert done.code == 0, (attempt, done.stderr)
        sizes = {p.name: p.stat().st_size for p in (big / ".github" / "workflows").glob("*.yml")}
        warned = {name for name in sizes if f".github/workflows/{name} is " in done.stderr}
        assert warned == {name for name, size in sizes.items() if size > WORKFLOW_LIMIT}, (attempt, done.stderr)
        assert "mlspec-main.yml" in warned, (attempt, sizes)
        assert "GitHub starts no run of a workflow file over 500 KB" in done.stderr
    assert (big / "generated" / "manifest.json").is_file()  # written all the same
