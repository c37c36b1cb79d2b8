"""The one table of GitHub Actions every generated workflow may use, pinned by full commit SHA.

SHAs were verified against each action's git history (see the team's notes on GitHub Actions). A
version comment follows every pin in the generated YAML, so reviewers and update bots can read it.
"""

from __future__ import annotations

from mlspec.emit.yamlout import Commented

PINS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}


def uses(action: str) -> Commented:
    """`owner/repo@sha` for an action in the table, noted with its version (a KeyError for anything else)."""
    sha, version = PINS[action]
    return Commented(f"{action}@{sha}", version)
