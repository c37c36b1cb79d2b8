"""The one serializer for generated YAML: from data, never from templates; no anchors or aliases.

PyYAML quotes every scalar that could be read as something else (`on`, `yes`, `0777`), so spec text
that reaches a workflow as a value stays a plain string. Multi-line strings are written as literal
blocks for readability. Comments cannot be data in YAML, so the few we want (action versions, the
reason for each write permission) are added afterwards to lines whose content mlspec produced itself.
"""

from __future__ import annotations

import re

import yaml

from mlspec.emit.pins import PINS

PERMISSION_REASONS = {
    ("issues", "write"): "open or update the monitor's issue",
    ("actions", "write"): "dispatch the retrain workflow",
    ("pull-requests", "write"): "post the report comment",
    ("actions", "read"): "download the report artifact of the pull request's run",
    ("issues", "read"): "find the monitor's issue",
    ("pull-requests", "read"): "read the pull request",
}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        """Never write anchors/aliases: the same object twice is written out twice."""
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent list items under their key (the style yamllint and most editors expect)."""
        return super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

_USES = re.compile(r"^(\s*(?:- )?uses: )([\w.-]+/[\w.-]+)@([0-9a-f]{40})$")
_WRITE = re.compile(r"^(\s*)(issues|actions|pull-requests): (write|read)$")


def dump(document: dict, header: str) -> bytes:
    """YAML text for `document`, with `header` as leading comment lines, ending in one newline."""
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000,
                     allow_unicode=False, explicit_start=False)
    lines = []
    for line in text.splitlines():
        uses = _USES.match(line)
        if uses and PINS.get(uses.group(2), ("",))[0] == uses.group(3):
            line = f"{line}  # {PINS[uses.group(2)][1]}"
        write = _WRITE.match(line)
        if write:
            line = f"{line}  # {PERMISSION_REASONS[(write.group(2), write.group(3))]}"
        if line == "  workflow_run:":
            lines.append("  # Safe use of workflow_run: the job only downloads the report artifact as data; it never")
            lines.append("  # checks out or runs the pull request's code (see mlspec pr-comment).")
            line += "  # zizmor: ignore[dangerous-triggers]"
        lines.append(line)
    comment = "".join(f"# {h}\n" if h else "#\n" for h in header.splitlines())
    return (comment + "\n".join(lines) + "\n").encode("ascii")
