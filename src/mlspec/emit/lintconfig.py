"""`.github/actionlint.yaml` for runner labels that are not GitHub-hosted.

actionlint reports every `runs-on` label it does not know as GitHub-hosted (`[runner-label]`) unless
the repository's `.github/actionlint.yaml` declares it under `self-hosted-runner.labels`. When the
specs name such labels (a GPU runner, say), compile writes that file so the generated workflows lint
clean; when the repository already has its own file, mlspec leaves it alone (see `mlspec.write.sync`).
"""

from __future__ import annotations

from mlspec.manifest import Manifest

# GitHub-hosted runner labels and the generic labels actionlint knows without configuration. Declaring
# a hosted label as self-hosted would be harmless, so this list only needs to be right, not complete.
HOSTED_LABELS = frozenset({
    "ubuntu-latest", "ubuntu-slim", "ubuntu-24.04", "ubuntu-22.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm",
    "windows-latest", "windows-2025", "windows-2022", "windows-11-arm",
    "macos-latest", "macos-15", "macos-14", "macos-15-intel", "macos-15-large", "macos-15-xlarge",
    "macos-14-large", "macos-14-xlarge", "macos-latest-large", "macos-latest-xlarge",
    "self-hosted", "linux", "windows", "macos", "x64", "arm", "arm64",
})


def custom_labels(manifest: Manifest) -> list[str]:
    """Runner labels the generated workflows use that actionlint does not know, sorted."""
    labels = {manifest.project.runner, *(m.runner for m in manifest.of_kind("model"))}
    return sorted(label for label in labels if label and label not in HOSTED_LABELS)


def actionlint_config(manifest: Manifest) -> tuple[dict, list[str]] | None:
    """The config document and the spec files its labels come from, or None when none is needed."""
    labels = custom_labels(manifest)
    if not labels:
        return None
    if manifest.project.runner in labels:  # the project's default runner: every job may use it
        sources = {n.file for n in manifest.nodes.values()}
    else:
        sources = {m.file for m in manifest.of_kind("model") if m.runner in labels}
    return {"self-hosted-runner": {"labels": labels}}, sorted(sources)


def undeclared_labels(manifest: Manifest, config_text: str) -> list[str]:
    """Custom labels a repository's own actionlint.yaml does not declare (all of them if it is unreadable)."""
    import yaml

    try:
        data = yaml.safe_load(config_text)
    except yaml.YAMLError:
        data = None
    runners = data.get("self-hosted-runner") if isinstance(data, dict) else None
    declared = runners.get("labels") if isinstance(runners, dict) else None
    declared = {str(label) for label in declared} if isinstance(declared, list) else set()
    return [label for label in custom_labels(manifest) if label not in declared]
