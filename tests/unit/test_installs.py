"""Tests for mlspec.installs: the forms `project.install` accepts and the pip arguments CI jobs get."""

from __future__ import annotations

import pytest

from mlspec.installs import DIST, InstallError, parse

SHA = "0123456789abcdef0123456789abcdef01234567"

ACCEPTED = [
    # text, form, light argument, runtime argument (with the postgres extra inferred)
    ("mlspec-gitops==0.1.0", "pin", "mlspec-gitops==0.1.0", "mlspec-gitops[postgres,runtime]==0.1.0"),
    ("mlspec_gitops[objectstore]==1.2.3rc1", "pin", "mlspec-gitops==1.2.3rc1",
     "mlspec-gitops[objectstore,postgres,runtime]==1.2.3rc1"),
    ("MLSpec.GitOps==2.0.post1", "pin", "mlspec-gitops==2.0.post1", "mlspec-gitops[postgres,runtime]==2.0.post1"),
    ("requirements/mlspec.txt", "lock", "requirements/mlspec.txt", "requirements/mlspec.txt"),
    ("mlspec.txt", "lock", "mlspec.txt", "mlspec.txt"),
    (f"git+https://github.com/acme/mlspec@{SHA}", "git", f"mlspec-gitops @ git+https://github.com/acme/mlspec@{SHA}",
     f"mlspec-gitops[postgres,runtime] @ git+https://github.com/acme/mlspec@{SHA}"),
    (f"mlspec-gitops[runtime] @ git+https://git.example.com:8443/ml/mlspec.git@{SHA}", "git",
     f"mlspec-gitops @ git+https://git.example.com:8443/ml/mlspec.git@{SHA}",
     f"mlspec-gitops[postgres,runtime] @ git+https://git.example.com:8443/ml/mlspec.git@{SHA}"),
    (".", "path", ".", ".[postgres,runtime]"),
    ("./", "path", ".", ".[postgres,runtime]"),
    ("./tools/mlspec", "path", "./tools/mlspec", "./tools/mlspec[postgres,runtime]"),
    (".[dev]", "path", ".", ".[dev,postgres,runtime]"),  # a path's package may have extras of its own
]


@pytest.mark.parametrize(("text", "form", "light", "runtime"), ACCEPTED)
def test_accepted_forms_and_their_pip_arguments(text: str, form: str, light: str, runtime: str) -> None:
    install = parse(text)
    assert install.form == form
    assert install.light() == light
    assert install.runtime(["postgres"]) == runtime


REFUSED = [
    ("", "empty"),
    ("-r requirements.txt", "starts with '-'"),
    ("--index-url=https://evil.example/simple", "starts with '-'"),
    ("-e .", "starts with '-'"),
    ("mlspec-gitops", "is not pinned"),
    ("mlspec-gitops>=0.1", "not an exact pin (>=)"),
    ("mlspec-gitops~=0.1", "not an exact pin (~=)"),
    ("mlspec-gitops===0.1", "not an exact pin (===)"),
    ("mlspec-gitops==0.*", "wildcard"),
    ("mlspec-gitops==latest", "is not a version number"),
    ("mlspec-gitops[gpu]==0.1.0", "extra 'gpu'"),
    ("mlspec==0.1.0", "which on PyPI is another project"),
    ("mlspec", "which on PyPI is another project"),
    ("numpy==2.0", "installs 'numpy', not mlspec-gitops"),
    ("mlspec-gitops == 0.1.0", "whitespace"),
    ("mlspec-gitops==0.1.0\n", "whitespace"),
    ("mlspec-gitops==0.1.0;os_name=='nt'", "is not a version number"),
    ("https://evil.example/mlspec_gitops-0.1.0-py3-none-any.whl", "only git+https://"),
    ("http://evil.example/simple", "only git+https://"),
    (f"git+ssh://git@github.com/acme/mlspec@{SHA}", "only git+https://"),
    (f"git+http://github.com/acme/mlspec@{SHA}", "only git+https://"),
    ("git+https://github.com/acme/mlspec@main", "does not pin a commit"),
    ("git+https://github.com/acme/mlspec@0123abc", "does not pin a commit"),
    ("git+https://github.com/acme/mlspec", "is not a git URL"),
    (f"git+https://user:token@github.com/acme/mlspec@{SHA}", "is not a git URL"),
    (f"git+https://github.com/acme/mlspec@{SHA}#egg=mlspec-gitops", "'#' or '?'"),
    (f"git+https://github.com/acme/../mlspec@{SHA}", "'..' path segment"),
    (f"numpy @ git+https://github.com/acme/mlspec@{SHA}", "installs 'numpy'"),
    ("../mlspec", "leaves the repository"),
    ("./../mlspec", "leaves the repository"),
    ("./a/../../b", "leaves the repository"),
    ("..", "leaves the repository"),
    ("/opt/mlspec", "absolute path"),
    ("~/mlspec", "absolute path"),
    ("C:/mlspec", "absolute path"),
    ("../requirements.txt", "leaves the repository"),
    ("./.git", "a part starting with '-' or '.'"),
    ("./-rf", "a part starting with '-' or '.'"),
]


@pytest.mark.parametrize(("text", "why"), REFUSED)
def test_refused_forms_say_why(text: str, why: str) -> None:
    with pytest.raises(InstallError) as caught:
        parse(text)
    assert why in caught.value.message
    assert caught.value.hint


def test_old_name_hint_names_the_new_form_with_its_extras_and_version() -> None:
    with pytest.raises(InstallError) as caught:
        parse("mlspec[postgres]==0.1.0")
    assert caught.value.hint == f'write "{DIST}[postgres]==0.1.0"'


def test_no_accepted_form_lets_pip_read_an_option_or_a_second_requirement() -> None:
    for text, *_ in ACCEPTED:
        install = parse(text)
        for argument in (install.light(), install.runtime(["objectstore", "postgres"])):
            assert not argument.startswith("-")
            assert argument.count(" ") in (0, 2), argument  # only the " @ " of a direct reference


def test_lock_file_problems_are_warned_about() -> None:
    from mlspec.installs import lock_problems

    assert lock_problems("req.txt", None) == [
        "project.install names req.txt, which is not in the repository: the generated jobs' install would fail"]
    hashed = ("mlspec-gitops[runtime]==0.1.0 \\\n    --hash=sha256:aa\npandas==3.1.1 --hash=sha256:bb\n"
              "scikit-learn==1.9.1 \\\n    --hash=sha256:cc\n# a comment\n--index-url https://example.com\n")
    assert lock_problems("req.txt", hashed) == []
    light = "mlspec-gitops==0.1.0 --hash=sha256:aa\npydantic==2.14 --hash=sha256:bb\n"
    assert lock_problems("req.txt", light) == [
        "req.txt does not pin pandas and scikit-learn: lock mlspec-gitops[runtime] (and the extras the project "
        "needs), which the jobs that train, gate, promote and monitor install from it"]
    assert lock_problems("req.txt", "pandas==3\n") == [
        "req.txt has requirements without --hash=, which pip install --require-hashes refuses",
        "req.txt does not list mlspec-gitops, so the generated jobs would not install mlspec"]
