"""Offline checks of generated Argo manifests, since Argo cannot run here.

- `strict_walk`: every key of a document must be a field of hera's generated models of Argo's API (hera's
  `hera.workflows.models`, generated from Argo's OpenAPI document), by its JSON name, recursively; each
  unknown key is reported with its path. Those models, like Argo's published JSON Schema, ignore unknown
  keys, so validation alone would pass a misspelt field that Argo then silently drops.
- `validated`: the same models' own validation (types, required fields).
- `paper_problems`: the rules Argo's validator (`workflow/validate/validate.go`) applies that the models do
  not: name lengths and characters, unique template, task, parameter and artifact names, the entrypoint,
  the DAG's references and cycles, and that every `{{...}}` tag resolves to a declared parameter, input or
  the output of a task the referring task depends on; plus what mlspec promises on top (images pinned by
  digest, every pod's inputs supplied, no two artifacts at one path).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from hera.workflows.models import CronWorkflow, WorkflowTemplate
from pydantic import BaseModel, RootModel

MODELS = {"WorkflowTemplate": WorkflowTemplate, "CronWorkflow": CronWorkflow}
DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")  # Argo's template and task names
PARAM_NAME = re.compile(r"[-a-zA-Z0-9_]+")  # Argo's parameter and artifact names
TAG = re.compile(r"\{\{(.*?)\}\}")
PINNED = re.compile(r".+@sha256:[0-9a-f]{64}")


def strict_walk(document: dict) -> list[str]:
    """The paths of keys that hera's model of the document's kind has no field for."""
    problems: list[str] = []
    _walk(document, MODELS[document["kind"]], "", problems)
    return problems


def validated(document: dict) -> BaseModel:
    """The document as hera's model (pydantic validation: types, required fields)."""
    return MODELS[document["kind"]].model_validate(document)


def _walk(value: Any, annotation: Any, path: str, problems: list[str]) -> None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        _walk(value, typing.get_args(annotation)[0], path, problems)
    elif origin in (typing.Union, types.UnionType):
        arms = [arm for arm in typing.get_args(annotation) if arm is not type(None)]
        if value is None:
            return
        tried = []
        for arm in arms:
            found: list[str] = []
            _walk(value, arm, path, found)
            if not found:
                return
            tried.append(found)
        problems.extend(min(tried, key=len))
    elif origin is list:
        if not isinstance(value, list):
            problems.append(f"{path}: a list expected")
            return
        for i, item in enumerate(value):
            _walk(item, typing.get_args(annotation)[0], f"{path}[{i}]", problems)
    elif origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{path}: a mapping expected")
            return
        for key, item in value.items():
            _walk(item, typing.get_args(annotation)[1], f"{path}.{key}", problems)
    elif isinstance(annotation, type) and issubclass(annotation, RootModel):
        _walk(value, annotation.model_fields["root"].annotation, path, problems)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _walk_model(value, annotation, path, problems)
    elif annotation is Any or annotation is object:
        return
    elif annotation in (str, int, float, bool):
        ok = isinstance(value, annotation) and not (annotation in (int, float) and isinstance(value, bool))
        if not ok and not (annotation is float and isinstance(value, int) and not isinstance(value, bool)):
            problems.append(f"{path}: {annotation.__name__} expected, not {type(value).__name__}")
    # other annotations (bytes, Base64Str, ...) are left to validation


def _walk_model(value: Any, model: type[BaseModel], path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: a mapping expected for {model.__name__}")
        return
    fields = {(field.alias or name): field for name, field in model.model_fields.items()}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            problems.append(f"{where}: unknown key of {model.__name__}")
            continue
        _walk(item, fields[key].annotation, where, problems)
    for key, field in fields.items():
        if field.is_required() and key not in value:
            problems.append(f"{path or '(top)'}: {model.__name__} requires {key}")


# ------------------------------------------------------------------------------------------------
# Argo's own rules, on paper
# ------------------------------------------------------------------------------------------------


def _names(items: list[dict], pattern: re.Pattern, what: str, problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for item in items:
        name = item.get("name", "")
        if not pattern.fullmatch(name) or len(name) > 128:
            problems.append(f"{what} name {name!r} is invalid")
        if name in seen:
            problems.append(f"{what} name {name!r} is not unique")
        seen.add(name)
    return seen


def _depends(expression: str) -> set[str]:
    """The tasks a `depends` expression names (mlspec writes `a` or `a && b`)."""
    return {part.strip().split(".")[0] for part in expression.replace("(", " ").replace(")", " ").split("&&")
            if part.strip()}


def _ancestors(tasks: dict[str, dict], name: str) -> set[str]:
    found: set[str] = set()
    todo = list(_depends(tasks[name].get("depends", "")))
    while todo:
        task = todo.pop()
        if task in found or task not in tasks:
            continue
        found.add(task)
        todo.extend(_depends(tasks[task].get("depends", "")))
    return found


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in TAG.findall(value)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tags(item)]
    if isinstance(value, list):
        return [t for item in value for t in _tags(item)]
    return []


def paper_problems(document: dict) -> list[str]:
    """What Argo's validator (and mlspec's promises) would refuse in `document`."""
    problems: list[str] = []
    kind, name = document["kind"], document["metadata"]["name"]
    limit = 52 if kind == "CronWorkflow" else 63
    if len(name) > limit or not DNS_LABEL.fullmatch(name):
        problems.append(f"{kind} name {name!r} is not a DNS-1123 label of at most {limit} characters")
    for key, label in document["metadata"].get("labels", {}).items():
        if len(label) > 63 or not re.fullmatch(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", label):
            problems.append(f"label {key}={label!r} is not a valid label value")
    spec = document["spec"]["workflowSpec"] if kind == "CronWorkflow" else document["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    _names(spec["templates"], FIELD_NAME, "template", problems)
    parameters = {p["name"] for p in spec.get("arguments", {}).get("parameters", [])}
    _names(spec.get("arguments", {}).get("parameters", []), PARAM_NAME, "workflow parameter", problems)
    if spec["entrypoint"] not in templates:
        problems.append(f"entrypoint {spec['entrypoint']!r} is not a template")
    volumes = {v["name"] for v in spec.get("volumes", [])}
    for template in spec["templates"]:
        problems += _template_problems(template, templates, parameters, volumes)
    return problems


def _template_problems(template: dict, templates: dict[str, dict], parameters: set[str],
                       volumes: set[str]) -> list[str]:
    problems: list[str] = []
    where = f"templates.{template['name']}"
    inputs = template.get("inputs", {})
    _names(inputs.get("parameters", []), PARAM_NAME, f"{where} input parameter", problems)
    _names(inputs.get("artifacts", []), PARAM_NAME, f"{where} input artifact", problems)
    _names(template.get("outputs", {}).get("parameters", []), PARAM_NAME, f"{where} output parameter", problems)
    _names(template.get("outputs", {}).get("artifacts", []), PARAM_NAME, f"{where} output artifact", problems)
    if "dag" in template:
        return problems + _dag_problems(template, templates, parameters)
    if "suspend" in template:
        return problems
    container = template["container"]
    if not PINNED.fullmatch(container["image"]):
        problems.append(f"{where}: image {container['image']!r} is not pinned by digest")
    if not isinstance(template.get("activeDeadlineSeconds"), int) or template["activeDeadlineSeconds"] <= 0:
        problems.append(f"{where}: no time limit")
    paths = [a["path"] for a in inputs.get("artifacts", [])]
    if len(paths) != len(set(paths)):
        problems.append(f"{where}: two input artifacts at one path")
    for mount in container.get("volumeMounts", []):
        if mount["name"] not in volumes:
            problems.append(f"{where}: volume {mount['name']!r} is not declared")
    known = {f"workflow.parameters.{p}" for p in parameters}
    known |= {f"inputs.parameters.{p['name']}" for p in inputs.get("parameters", [])}
    for tag in _tags(template):
        if tag not in known:
            problems.append(f"{where}: {{{{{tag}}}}} does not resolve")
    env = [e["name"] for e in container.get("env", [])]
    if len(env) != len(set(env)):
        problems.append(f"{where}: an environment variable is set twice")
    return problems


def _dag_problems(template: dict, templates: dict[str, dict], parameters: set[str]) -> list[str]:
    problems: list[str] = []
    where = f"templates.{template['name']}"
    tasks = {t["name"]: t for t in template["dag"]["tasks"]}
    _names(template["dag"]["tasks"], FIELD_NAME, f"{where} task", problems)
    for task in template["dag"]["tasks"]:
        name = task["name"]
        if name[0].isdigit():
            problems.append(f"{where}.{name}: a task name may not start with a digit when tasks depend")
        if task["template"] not in templates:
            problems.append(f"{where}.{name}: template {task['template']!r} is undefined")
            continue
        for needed in _depends(task.get("depends", "")):
            if needed not in tasks:
                problems.append(f"{where}.{name}: depends on unknown task {needed!r}")
        if name in _ancestors(tasks, name):
            problems.append(f"{where}.{name}: depends on itself")
        problems += _task_references(where, task, tasks, templates, parameters)
    return problems


def _task_references(where: str, task: dict, tasks: dict[str, dict], templates: dict[str, dict],
                     parameters: set[str]) -> list[str]:
    """Each tag resolves to a parameter or an earlier task's declared output; the template's inputs are given."""
    problems: list[str] = []
    name, target = task["name"], templates[task["template"]]
    before = _ancestors(tasks, name)
    for tag in _tags(task):
        match = re.fullmatch(r"tasks\.([^.]+)\.outputs\.(parameters|artifacts)\.([^.]+)", tag)
        if tag.startswith("workflow.parameters.") and tag.split(".", 2)[2] in parameters:
            continue
        if match is None:
            problems.append(f"{where}.{name}: {{{{{tag}}}}} does not resolve")
            continue
        source, kind, output = match.groups()
        if source not in before:
            problems.append(f"{where}.{name}: {{{{{tag}}}}} names a task it does not depend on")
            continue
        declared = {o["name"] for o in templates[tasks[source]["template"]].get("outputs", {}).get(kind, [])}
        if output not in declared:
            problems.append(f"{where}.{name}: {{{{{tag}}}}}: task {source} has no such output")
    arguments = task.get("arguments", {})
    given = {a["name"] for a in arguments.get("artifacts", [])}
    wanted = {a["name"] for a in target.get("inputs", {}).get("artifacts", []) if "git" not in a}
    if given != wanted:
        problems.append(f"{where}.{name}: artifacts given {sorted(given)}, wanted {sorted(wanted)}")
    given = {p["name"] for p in arguments.get("parameters", [])}
    wanted = {p["name"] for p in target.get("inputs", {}).get("parameters", []) if "value" not in p}
    if given != wanted:
        problems.append(f"{where}.{name}: parameters given {sorted(given)}, wanted {sorted(wanted)}")
    return problems
