"""The wire formats: the Open Inference Protocol (KServe V2 REST) and a record-oriented v1 `:predict`.

V2 (`POST /v2/models/{m}[/versions/{v}]/infer`) takes one named input tensor per contract column,
each of shape `[n]` (or `[n, 1]`), and answers with a `label` tensor and, for a classifier with
probabilities, a `probabilities` tensor of shape `[n, classes]` whose class order is in the tensor's
`classes` parameter (JSON text: V2 parameters are scalars). Regression answers `prediction`.
v1 (`POST /v1/models/{m}:predict`) takes `{"instances": [{column: value, ...}, ...]}` and answers
`{"predictions": [{"label": ..., "probabilities": {class: p, ...}}, ...]}`.

Decoding never trusts the body's shape: every mismatch is a `Violation` (422).
"""

from __future__ import annotations

import json

from mlspec.serve.validation import RequestInvalidError, Violation, check_batch

# contract type -> the V2 datatypes a client may send for it
_ACCEPTED = {
    "int": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "float": {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "bool": {"BOOL"},
    "category": {"BYTES"},
    "string": {"BYTES"},
    "datetime": {"BYTES"},
}
_DECLARED = {"int": "INT64", "float": "FP64", "bool": "BOOL", "category": "BYTES", "string": "BYTES",
             "datetime": "BYTES"}


def declared_datatype(contract) -> str:
    """The V2 datatype a column is declared with in the model's metadata."""
    if contract.type == "category" and contract.values and all(isinstance(v, int) for v in contract.values):
        return "INT64"
    return _DECLARED[contract.type]


def accepted(contract) -> set[str]:
    """The V2 datatypes accepted for a column."""
    return _ACCEPTED["int"] if declared_datatype(contract) == "INT64" and contract.type == "category" \
        else _ACCEPTED[contract.type]


def v1_rows(body: object, max_batch: int) -> list:
    """The `instances` of a v1 request body."""
    if not isinstance(body, dict):
        raise RequestInvalidError([Violation("body", "type", 'body: must be an object {"instances": [...]}')])
    extra = sorted(set(body) - {"instances"})
    if extra:
        raise RequestInvalidError([Violation(k, "unknown_field", f"{k}: not part of a predict request "
                                        '({"instances": [...]})') for k in extra])
    if "instances" not in body:
        raise RequestInvalidError([Violation("instances", "required", "instances: required (a list of rows)")])
    rows = body["instances"]
    if not isinstance(rows, list):
        raise RequestInvalidError([Violation("instances", "type", "instances: must be a list of rows")])
    check_batch(len(rows), max_batch)
    return rows


def _flat(data: object, name: str) -> list:
    if not isinstance(data, list):
        raise RequestInvalidError([Violation(name, "data", f"{name}: data must be a list")])
    if data and all(isinstance(item, list) for item in data):  # [[v], [v], ...]: row-major [n, 1]
        if any(len(item) != 1 for item in data):
            raise RequestInvalidError([Violation(name, "shape", f"{name}: one value per row (shape [n] or [n, 1])")])
        return [item[0] for item in data]
    return data


def v2_rows(body: object, inputs: list[str], contracts: dict, max_batch: int) -> tuple[list[dict], str | None]:
    """The rows of a V2 infer request (one input tensor per column) and the request's id."""
    if not isinstance(body, dict):
        raise RequestInvalidError([Violation("body", "type", 'body: must be an object {"inputs": [...]}')])
    extra = sorted(set(body) - {"id", "parameters", "inputs", "outputs"})
    problems = [Violation(k, "unknown_field", f"{k}: not part of an inference request") for k in extra]
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        problems.append(Violation("id", "type", "id: must be a string"))
    tensors = body.get("inputs")
    if not isinstance(tensors, list):
        raise RequestInvalidError([*problems, Violation("inputs", "required" if tensors is None else "type",
                                                   "inputs: required, a list of input tensors")])
    columns: dict[str, list] = {}
    for i, tensor in enumerate(tensors):
        where = f"inputs[{i}]"
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            problems.append(Violation(where, "type", f"{where}: must be a tensor with a name"))
            continue
        name = tensor["name"]
        unknown = sorted(set(tensor) - {"name", "shape", "datatype", "parameters", "data"})
        problems += [Violation(name, "unknown_field", f"{name}: '{k}' is not part of a tensor") for k in unknown]
        if name not in contracts:
            problems.append(Violation(name, "unknown_field", f"{name}: not an input of this model "
                                      f"(inputs: {', '.join(inputs)})"))
            continue
        if name in columns:
            problems.append(Violation(name, "duplicate", f"{name}: given twice"))
            continue
        datatype = tensor.get("datatype")
        if datatype not in accepted(contracts[name]):
            problems.append(Violation(name, "datatype", f"{name}: datatype must be "
                                      f"{' or '.join(sorted(accepted(contracts[name])))} for a column "
                                      f"of type {contracts[name].type} (got {datatype!r})"))
            continue
        try:
            data = _flat(tensor.get("data"), name)
        except RequestInvalidError as exc:
            problems += exc.violations
            continue
        shape = tensor.get("shape")
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
                and shape in ([len(data)], [len(data), 1])):
            problems.append(Violation(name, "shape", f"{name}: shape must be [{len(data)}] or [{len(data)}, 1] "
                                      f"for {len(data)} values (got {shape!r})"))
            continue
        columns[name] = data
    for name in inputs:
        if name not in columns and not contracts[name].nullable and not any(p.field == name for p in problems):
            problems.append(Violation(name, "required", f"{name}: required by the contract, no input tensor "
                                      "has this name"))
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        problems.append(Violation("inputs", "shape", "inputs: every input must have the same number of rows "
                                  f"(got {', '.join(f'{k}={len(v)}' for k, v in sorted(columns.items()))})"))
    if problems:
        raise RequestInvalidError(problems)
    count = lengths.pop() if lengths else 0
    check_batch(count, max_batch, "inputs")
    rows = [{name: values[i] for name, values in columns.items()} for i in range(count)]
    return rows, request_id


def _datatype_of(values: list) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "BOOL"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def v2_response(served, result, request_id: str | None) -> dict:
    """A V2 inference response for one result (see `mlspec.serve.models.Result`)."""
    count = len(result.labels)
    if served.task == "regression":
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [count], "data": result.labels}]
    else:
        labels = result.labels
        kind = _datatype_of(labels)
        outputs = [{"name": "label", "datatype": kind, "shape": [count],
                    "data": labels if kind != "BYTES" else [str(v) for v in labels]}]
        if result.probabilities is not None:
            flat = [p for row in result.probabilities for p in row]
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [count, len(served.classes)],
                            "parameters": {"classes": json.dumps(served.classes)}, "data": flat})
    out = {"model_name": served.name, "model_version": str(served.version), "outputs": outputs}
    if request_id is not None:
        out["id"] = request_id
    return out


def v1_response(served, result) -> dict:
    """A v1 predict response: one object per row."""
    if served.task == "regression":
        predictions = [{"prediction": v} for v in result.labels]
    elif result.probabilities is None:
        predictions = [{"label": v} for v in result.labels]
    else:
        names = [str(c) for c in served.classes]
        predictions = [{"label": label, "probabilities": dict(zip(names, row, strict=True))}
                       for label, row in zip(result.labels, result.probabilities, strict=True)]
    return {"model": served.name, "version": served.version, "predictions": predictions}


def metadata(served, contracts: dict) -> dict:
    """V2 model metadata: the version, one input per column, the outputs."""
    inputs = [{"name": c, "datatype": declared_datatype(contracts[c]), "shape": [-1]} for c in served.inputs]
    if served.task == "regression":
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    else:
        outputs = [{"name": "label", "datatype": _datatype_of(list(served.classes)), "shape": [-1]},
                   {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(served.classes)]}]
    return {"name": served.name, "versions": [str(served.version)], "platform": "mlspec-sklearn",
            "inputs": inputs, "outputs": outputs,
            "parameters": {"sha256": served.sha256, "task": served.task, "classes": json.dumps(served.classes)}}


# ---- the request bodies as the OpenAPI document (/openapi.json) shows them -----------------------
# The routes read their bodies themselves (the size cap comes before parsing, and every violation is a
# 422 naming its rule), so FastAPI cannot infer these schemas: they are documented here, for clients and
# for the property-based tests that generate requests from the document.

V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                "FP64", "BYTES"]
_JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "category": "string", "string": "string",
               "datetime": "string"}


def _column_schema(contract) -> dict:
    if contract is None:  # two sources declare the column differently: which applies depends on the model
        return {}
    if contract.values is not None and contract.type in ("int", "category", "string"):
        schema: dict = {"enum": [*contract.values, *([None] if contract.nullable else [])]}
    else:
        schema = {"type": [_JSON_TYPES[contract.type], "null"] if contract.nullable else _JSON_TYPES[contract.type]}
        schema.update({k: v for k, v in (("minimum", contract.min), ("maximum", contract.max)) if v is not None})
    return schema


def openapi_bodies(columns: dict, required: list[str], max_batch: int) -> dict[str, dict]:
    """OpenAPI `requestBody` objects of the V2 infer and v1 predict routes, from the served models' input
    columns (`columns`: name -> contract, `required`: those every row must have). Which of them a model
    reads is in its V2 metadata."""
    tensor = {
        "type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "enum": sorted(columns)},
            "shape": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
            "datatype": {"type": "string", "enum": V2_DATATYPES},
            "parameters": {"type": "object"},
            "data": {"type": "array", "maxItems": max_batch},
        },
    }
    v2 = {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": tensor},
        "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                "properties": {"name": {"type": "string"},
                                                               "parameters": {"type": "object"}}}},
    }}
    row = {"type": "object", "additionalProperties": False, "required": required,
           "properties": {name: _column_schema(contract) for name, contract in sorted(columns.items())}}
    v1 = {"type": "object", "required": ["instances"], "additionalProperties": False,
          "properties": {"instances": {"type": "array", "items": row, "maxItems": max_batch}}}
    return {kind: {"required": True, "content": {"application/json": {"schema": schema}}}
            for kind, schema in (("v2", v2), ("v1", v1))}
