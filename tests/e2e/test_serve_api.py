"""`mlspec serve`'s HTTP API, property-based: requests generated from the server's own OpenAPI document,
and the Open Inference Protocol routes checked against the protocol's REST payloads.

One real server (a subprocess on 127.0.0.1) serves a trained model for the module. schemathesis reads
`/openapi.json` from it and generates requests for every route, valid and invalid by the document (a
bounded number per route, so the module finishes in a minute or two): no answer may be a server
error, and every OIP answer must match `schemas/open_inference_protocol_v2_rest.schema.json`, which
was written for these tests from the protocol's REST description. A second test sends requests a
client of the protocol would send and checks each answer against the same schema.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import httpx
import jsonschema
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.e2e.serving import Server, v2_request
from tests.e2e.test_run import make_frame, make_project
from tests.e2e.test_serve import INPUTS, ROW, serve_doc, train

pytestmark = pytest.mark.slow

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "open_inference_protocol_v2_rest.schema.json")
                    .read_text(encoding="utf-8"))
EXAMPLES = 100  # per route (12 routes): enough to find a crash, few enough to finish in a minute or two


def oip(name: str, payload: object) -> None:
    """Check `payload` against the protocol's definition `name`, and every tensor's element count."""
    validator = jsonschema.Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{name}"})
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    for tensor in payload.get("outputs", []) if name == "inference_response" else []:
        assert math.prod(tensor["shape"]) == len(tensor["data"]), tensor


# route (as the OpenAPI document names it) -> the protocol's definitions for a 200 and for a failure
OIP_ROUTES = {
    "/v2/health/live": ("server_live_response", "error_response"),
    "/v2/health/ready": ("server_ready_response", "server_ready_response"),
    "/v2": ("server_metadata_response", "error_response"),
    "/v2/models/{model}": ("model_metadata_response", "error_response"),
    "/v2/models/{model}/versions/{version}": ("model_metadata_response", "error_response"),
    "/v2/models/{model}/ready": ("model_ready_response", "model_ready_response"),
    "/v2/models/{model}/versions/{version}/ready": ("model_ready_response", "model_ready_response"),
    "/v2/models/{model}/infer": ("inference_response", "error_response"),
    "/v2/models/{model}/versions/{version}/infer": ("inference_response", "error_response"),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    root = make_project(tmp_path_factory.mktemp("api"), serve_doc())
    train(root)
    with Server(root, "--no-access-log", "--max-batch", "50", "--flush-seconds", "1") as server:
        server.wait_ready()
        yield server
        assert "Traceback" not in server.log, server.log
        server.stop_gracefully()


def test_no_generated_request_is_a_server_error(served: Server) -> None:
    # schemathesis's strategies driven by Hypothesis here, not its pytest loader: `from_fixture` fails under
    # pytest 9 (it reads a node attribute pytest no longer has)
    # the schema is read from the running server; every route gets requests valid by the document and
    # requests that break it (wrong types, missing fields, bodies that are not objects)
    api = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == len(OIP_ROUTES) + 3  # the OIP routes, v1 predict twice, /metrics
    checked: dict[str, set[int]] = {}
    for operation in operations:
        cases = st.one_of(*(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))

        # Half the cases name the served model and version, so generated bodies reach validation and scoring
        # instead of stopping at "unknown model" (404).
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases, served_model=st.booleans())
        def check(case, served_model: bool) -> None:
            if served_model and "model" in (case.path_parameters or {}):
                case.path_parameters["model"] = "risk_lr"
                if "version" in case.path_parameters:
                    case.path_parameters["version"] = "1"
            response = case.call(base_url=served.url, timeout=60)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} " \
                                                f"{response.text[:500]}"
            route = case.operation.path
            checked.setdefault(route, set()).add(response.status_code)
            if route in OIP_ROUTES:
                ok, failed = OIP_ROUTES[route]
                oip(ok if response.status_code == 200 else failed, response.json())

        check()
    # generated requests reached the model's answers (v1) and its validation (both protocols); a generated V2
    # body rarely names every input with a matching datatype, so V2 answers are checked by the next test
    v1 = checked["/v1/models/{model}:predict"] | checked["/v1/models/{model}/versions/{version}:predict"]
    assert {200, 422} <= v1, checked
    assert 422 in checked["/v2/models/{model}/infer"], checked


def test_the_oip_routes_answer_as_the_protocol_describes(served: Server) -> None:
    client = served.client
    oip("server_live_response", client.get("/v2/health/live").json())
    oip("server_ready_response", client.get("/v2/health/ready").json())
    oip("server_metadata_response", client.get("/v2").json())
    for path in ("/v2/models/risk_lr", "/v2/models/risk_lr/versions/1"):
        metadata = client.get(path).json()
        oip("model_metadata_response", metadata)
        assert [t["name"] for t in metadata["inputs"]] == INPUTS
    for path in ("/v2/models/risk_lr/ready", "/v2/models/risk_lr/versions/1/ready"):
        answer = client.get(path)
        assert answer.status_code == 200
        oip("model_ready_response", answer.json())

    rows = make_frame(7, seed=3)[INPUTS]
    request = v2_request(rows, INPUTS, "req-oip")
    request["parameters"] = {"note": "a client's parameter"}
    request["outputs"] = [{"name": "label"}]
    oip("inference_request", request)  # the request is the protocol's too
    for path in ("/v2/models/risk_lr/infer", "/v2/models/risk_lr/versions/1/infer"):
        answer = client.post(path, json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        oip("inference_response", body)
        assert body["id"] == "req-oip" and body["model_name"] == "risk_lr"
        assert {o["name"]: o["shape"] for o in body["outputs"]} == {"label": [7], "probabilities": [7, 2]}
    # [n, 1] tensors, nested data, as a client with 2-D arrays sends them
    nested = v2_request(pd.DataFrame([ROW, ROW]), INPUTS)
    for tensor in nested["inputs"]:
        tensor["shape"], tensor["data"] = [2, 1], [[v] for v in tensor["data"]]
    oip("inference_request", nested)
    answer = client.post("/v2/models/risk_lr/infer", json=nested)
    assert answer.status_code == 200, answer.text
    oip("inference_response", answer.json())

    # failures: an error object, with a 4xx status
    failures = [client.post("/v2/models/risk_lr/infer", json={"inputs": [{"name": "hour"}]}),
                client.post("/v2/models/nope/infer", json=request),
                client.get("/v2/models/nope"),
                client.post("/v2/models/risk_lr/versions/7/infer", json=request)]
    for answer in failures:
        assert 400 <= answer.status_code < 500, answer.text
        oip("error_response", answer.json())
    not_served = client.get("/v2/models/nope/ready")
    assert not_served.status_code == 404
    oip("model_ready_response", not_served.json())
    assert re.fullmatch(r"[0-9a-f]{64}", client.get("/v2/models/risk_lr").headers["x-mlspec-sha256"])
    # the checks themselves refuse what the protocol does not allow
    with pytest.raises(AssertionError, match="model_name"):
        oip("inference_response", {"outputs": []})
    with pytest.raises(AssertionError):
        oip("inference_response", {"model_name": "m", "outputs": [{"name": "x", "shape": [2], "datatype": "FP64",
                                                                   "data": [1.0]}]})
    with pytest.raises(AssertionError, match="datatype"):
        oip("model_metadata_response", {"name": "m", "platform": "p", "outputs": [],
                                        "inputs": [{"name": "a", "datatype": "TEXT", "shape": [-1]}]})


def test_the_document_describes_every_route_and_its_request_bodies(served: Server) -> None:
    document = httpx.get(f"{served.url}/openapi.json").json()
    assert set(OIP_ROUTES) | {"/v1/models/{model}:predict", "/v1/models/{model}/versions/{version}:predict",
                              "/metrics"} == set(document["paths"])
    v2 = document["paths"]["/v2/models/{model}/infer"]["post"]["requestBody"]["content"]["application/json"]
    tensor = v2["schema"]["properties"]["inputs"]["items"]
    assert set(tensor["properties"]["name"]["enum"]) >= set(INPUTS)
    v1 = document["paths"]["/v1/models/{model}:predict"]["post"]["requestBody"]["content"]["application/json"]
    row = v1["schema"]["properties"]["instances"]["items"]
    assert row["properties"]["hour"] == {"type": "integer", "minimum": 0, "maximum": 23}
    assert row["properties"]["age"] == {"type": ["integer", "null"], "minimum": 18, "maximum": 95}
    assert row["properties"]["channel"] == {"enum": ["web", "app", "store"]}
    assert row["additionalProperties"] is False and row["required"] == ["amount", "channel", "hour", "signal"]
    assert set(row["properties"]) == set(INPUTS)  # what the model reads, not every column of its source
