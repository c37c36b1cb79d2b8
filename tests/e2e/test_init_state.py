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


def test_the_starter_runs_and_monitors_its_sample_data_from_inside_specs(tmp_path: Path) -> None:
    """`mlspec init`, then every command from specs/ (or deeper): the project root is found like git finds
    its top folder, the sample data trains a model that passes its gate, and the monitor watches the sample batch."""
    assert run_cli("init", str(tmp_path)).code == 0
    assert (tmp_path / "data" / "customers.csv").read_text(encoding="utf-8").count("\n") == 1001
    assert (tmp_path / "data" / "customers_live.csv").read_text(encoding="utf-8").startswith(
        "customer_id,signup_time,monthly_spend,plan,support_tickets\n")
    specs = tmp_path / "specs"
    (specs / "notes").mkdir()
    for folder in (specs, specs / "notes", tmp_path / "data"):
        listed = run_cli("ls", cwd=folder)
        assert listed.code == 0, listed.stderr
        assert listed.stdout.splitlines()[0] == "source.customers"
    ran = run_cli("run", "-j", "1", cwd=specs)
    assert ran.code == 0, ran.stderr
    assert "passed; registered churn v1 as champion" in ran.stderr
    assert (tmp_path / ".mlspec" / "registry.db").is_file() and not (specs / ".mlspec").exists()
    watched = run_cli("monitor", cwd=specs / "notes")
    assert watched.code == 0, watched.stderr
    assert "OK     monitor monitor.churn_watch" in watched.stderr
    assert (tmp_path / ".mlspec" / "reports" / "monitor.churn_watch" / "report.json").is_file()
    again = run_cli("init", str(tmp_path))  # never overwrites, sample data included
    assert again.code == 2 and "already exists" in again.stderr


def test_the_root_search_stops_at_a_repository_top(tmp_path: Path) -> None:
    """A repository without specs/ inside a folder that has one is a project of its own (without specs)."""
    assert run_cli("init", str(tmp_path)).code == 0
    inner = tmp_path / "vendor" / "other"
    (inner / ".git").mkdir(parents=True)
    (inner / "src").mkdir()
    result = run_cli("validate", cwd=inner / "src")
    assert result.code == 1
    assert f"MLS001 no 'specs/' folder in {inner / 'src'}" in result.stdout
    assert run_cli("validate", cwd=tmp_path / "vendor").code == 0  # no repository in between: found above
