"""`mlspec init` leads to CI state that outlives a job: the starter's state lines, .gitignore, and compile.

The starter validates and runs locally (state in .mlspec/, ignored by git), but compile refuses it until
the commented registry and secrets lines are uncommented with a real bucket (or ci_state: ephemeral is
chosen); then the generated jobs get the secrets and the objectstore extra.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, tree_snapshot


def _uncomment(path: Path, bucket: str) -> None:
    text = path.read_text(encoding="utf-8")
    text = text.replace("  # registry:", "  registry:").replace("  # secrets:", "  secrets:")
    path.write_text(text.replace("YOUR-BUCKET", bucket), encoding="utf-8")


def test_init_writes_gitignore_and_the_commented_state_lines(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).code == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == ".mlspec/"
    starter = (tmp_path / "specs" / "project.yaml").read_text(encoding="utf-8")
    assert '  # registry: {uri: "s3://YOUR-BUCKET/mlspec"}\n' in starter
    assert "  # secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n" in starter
    assert "  # ci_state: ephemeral\n" in starter


def test_init_keeps_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/", encoding="utf-8")
    assert run_cli("init", str(tmp_path)).code == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8").splitlines() == [
        "build/", "# mlspec's local state (registry, artifacts, caches): `mlspec run` writes it", ".mlspec/"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".gitignore").write_text(".mlspec/\n", encoding="utf-8")
    assert run_cli("init", str(tmp_path / "other")).code == 0
    assert (tmp_path / "other" / ".gitignore").read_text(encoding="utf-8") == ".mlspec/\n"


def test_the_starter_compiles_once_state_is_chosen(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).code == 0
    before = tree_snapshot(tmp_path)
    refused = run_cli("-C", str(tmp_path), "compile")
    assert refused.code == 1
    assert "MLS221 the registry is not set, so it is a SQLite file in the repository" in refused.stderr
    assert 'registry: {uri: "s3://YOUR-BUCKET/mlspec"}' in refused.stderr
    assert tree_snapshot(tmp_path) == before, "a refused compile wrote something"

    _uncomment(tmp_path / "specs" / "project.yaml", "acme-churn-models")
    compiled = run_cli("-C", str(tmp_path), "compile")
    assert compiled.code == 0, compiled.stdout + compiled.stderr
    main = (tmp_path / ".github" / "workflows" / "mlspec-main.yml").read_text(encoding="utf-8")
    assert "AWS_SECRET_ACCESS_KEY: ${{ secrets['AWS_SECRET_ACCESS_KEY'] }}" in main
    assert "MLSPEC_PACKAGE: mlspec-gitops[objectstore,runtime]==" in main
    assert "obstore==" in (tmp_path / "generated" / "constraints.txt").read_text(encoding="utf-8")


def test_the_starter_with_the_demonstration_opt_out_compiles(tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path)).code == 0
    spec = tmp_path / "specs" / "project.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("  # ci_state:", "  ci_state:"), encoding="utf-8")
    compiled = run_cli("-C", str(tmp_path), "compile")
    assert compiled.code == 0, compiled.stdout + compiled.stderr


def test_local_state_is_fine_when_ci_registers_nothing(tmp_path: Path) -> None:
    """Without gates and monitors CI only trains and uploads candidates: nothing needs to outlive a job."""
    assert run_cli("init", str(tmp_path)).code == 0
    spec = tmp_path / "specs" / "project.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text[: text.index("\ngates:")] + "\n", encoding="utf-8")
    compiled = run_cli("-C", str(tmp_path), "compile")
    assert compiled.code == 0, compiled.stdout + compiled.stderr
