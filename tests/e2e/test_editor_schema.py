"""Editors complete and check specs from the JSON Schema: every estimator, metric and transform (issue #15).

Two layers. The schema itself (always run, with jsonschema): `estimator`, every metric list and
`transform` enumerate exactly the allowlists, each choice with a description, so a typo is flagged.
Then a real editor: the pinned `yaml-language-server` of tests/editor (`make test` and `.ci/run` install it
with `npm ci --prefix tests/editor`; or one on PATH, or its `bin` script in `$YAML_LANGUAGE_SERVER`;
with `MLSPEC_REQUIRE_EDITOR=1`, as in CI, a missing server fails instead of skipping): the test speaks LSP
to it over stdio, as VS Code does, and checks that a misspelt estimator is flagged and that the
completions offered after `estimator: ` are every allowlisted estimator.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import jsonschema
import pytest

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import METRICS
from mlspec.spec.v1.features import TRANSFORMS
from tests.conftest import REPO

SCHEMA = REPO / "schema" / "mlspec-v1.json"
EDITOR = REPO / "tests" / "editor"  # the pinned yaml-language-server (package.json, package-lock.json)
SPEC = """\
# yaml-language-server: $schema={schema}
apiVersion: mlspec/v1
project: {{name: editor}}
sources:
  s: {{format: csv, path: data/s.csv, schema: {{x: {{type: float}}, label: {{type: int, values: [0, 1]}}}}}}
features:
  x: {{source: s, column: x, transform: standardize}}
models:
  m:
    task: classification
    source: s
    label: label
    features: [x]
    estimator: {estimator}
    metrics: [roc_auc]
"""


def _consts(node: dict) -> set[str]:
    return {choice["const"] for choice in node["anyOf"] if "const" in choice}


def test_the_schema_enumerates_estimators_metrics_and_transforms_with_descriptions() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    estimator = schema["definitions"]["Model"]["properties"]["estimator"]
    assert _consts(estimator) == set(ESTIMATORS)
    assert all(choice.get("description") for choice in estimator["anyOf"])
    metrics = schema["definitions"]["Model"]["properties"]["metrics"]["items"]
    assert _consts(metrics) == set(METRICS) and all(c.get("description") for c in metrics["anyOf"])
    transforms = set()
    for definition in schema["definitions"].values():
        transform = definition.get("properties", {}).get("transform", {})
        if "const" in transform:
            assert transform.get("description")
            transforms.add(transform["const"])
    assert transforms == set(TRANSFORMS)


def test_the_schema_flags_a_misspelt_estimator() -> None:
    import yaml

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    good = yaml.safe_load(SPEC.format(schema="x", estimator="random_forest"))
    bad = yaml.safe_load(SPEC.format(schema="x", estimator="random_forrest"))
    assert list(validator.iter_errors(good)) == []
    assert [e.path[-1] for e in validator.iter_errors(bad)] == ["estimator"]


def _server() -> list[str] | None:
    explicit = os.environ.get("YAML_LANGUAGE_SERVER")
    if explicit:
        return ["node", explicit, "--stdio"]
    found = shutil.which("yaml-language-server")
    if found:
        return [found, "--stdio"]
    pinned = EDITOR / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    return ["node", str(pinned), "--stdio"] if pinned.exists() and shutil.which("node") else None


class _Lsp:
    """A minimal LSP client over the server's stdio: requests with ids, notifications, and a message queue."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            if not headers:
                return
            self.messages.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, payload: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **payload}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)

    def wait(self, wanted, timeout: float = 60) -> dict:
        while True:
            message = self.messages.get(timeout=timeout)
            if message.get("method") == "workspace/configuration":  # the server asks for its settings
                self.send({"id": message["id"], "result": [{"validate": True, "completion": True}
                                                          for _ in message["params"]["items"]]})
            elif wanted(message):
                return message

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def lsp():
    command = _server()
    if command is None:
        missing = "yaml-language-server is not installed (npm ci --prefix tests/editor)"
        if os.environ.get("MLSPEC_REQUIRE_EDITOR") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    client = _Lsp(command)
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {
        "textDocument": {"completion": {"completionItem": {"snippetSupport": False}}},
        "workspace": {"configuration": True}}})
    client.send({"method": "initialized", "params": {}})
    yield client
    client.close()


def _open(lsp: _Lsp, tmp_path: Path, estimator: str) -> tuple[str, str]:
    path = tmp_path / "specs" / "main.yaml"
    path.parent.mkdir(exist_ok=True)
    text = SPEC.format(schema=SCHEMA.as_uri(), estimator=estimator)
    path.write_text(text, encoding="utf-8")
    lsp.send({"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": path.as_uri(), "languageId": "yaml", "version": 1, "text": text}}})
    return path.as_uri(), text


def test_the_language_server_flags_a_misspelt_estimator(lsp: _Lsp, tmp_path: Path) -> None:
    uri, text = _open(lsp, tmp_path, "random_forrest")
    published = lsp.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                         and m["params"]["uri"] == uri and m["params"]["diagnostics"])
    line = text.splitlines().index("    estimator: random_forrest")
    flagged = [d for d in published["params"]["diagnostics"] if d["range"]["start"]["line"] == line]
    assert flagged, published
    assert all(d["range"]["start"]["line"] == line for d in published["params"]["diagnostics"]), published


def test_the_language_server_completes_every_estimator(lsp: _Lsp, tmp_path: Path) -> None:
    uri, text = _open(lsp, tmp_path, "")
    line = text.splitlines().index("    estimator: ")
    reply = lsp.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                    "position": {"line": line, "character": len("    estimator: ")}})
    items = reply["result"]["items"] if isinstance(reply["result"], dict) else reply["result"]
    offered = {item["label"] for item in items}
    assert offered >= set(ESTIMATORS), sorted(set(ESTIMATORS) - offered)
    documented = {item["label"] for item in items if item.get("documentation")}
    assert documented >= set(ESTIMATORS)
