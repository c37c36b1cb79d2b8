"""generated/argo/: the lifecycle as an Argo Workflows WorkflowTemplate and each monitor as a CronWorkflow, when
`project.argo` asks.

Built as data from the manifest, like the GitHub workflows, and written by the same YAML writer. The DAG is
the default branch's workflow without its plan (every model trains): check that the generated files are
current (`mlspec compile --check`), train each model, run its gates, and for a gate that asks for approval
suspend until a person resumes the workflow, then promote the version the gate registered (the gate's
outputs, as the GitHub promote job reads them). Each step runs `mlspec node NODE_ID` (what the generated
scripts of the GitHub jobs run) in the spec's image, pinned by digest, on a checkout of the repository
(Argo's git artifact at the workflow's `revision` parameter); a trained candidate reaches its gates as
output artifacts. Gates of one model, and monitors that retrain it, hold a mutex named after the model,
as the GitHub gate jobs share a concurrency group.

Spec text is untrusted, and Argo substitutes `{{...}}` in nearly every field. Names reach these documents
only as labels built by `argonames` (letters, digits, `-`) and as node ids in `args` (each its own argv
item; no shell runs anything); descriptions, expressions and the sources' paths, URLs and queries never
do: the pods read them from generated/manifest.json. The settings that do reach them (image, repository,
folder, Secret and account names, quantities, secrets' names, cron schedules) are held by the spec to
characters that cannot open a template, a quote or a line. The only `{{...}}` are this module's references
to the `revision` parameter, to a template's inputs and to a training or gate task's outputs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence

from mlspec import stateurls
from mlspec.emit.argonames import CRON_LIMIT, Names, named, object_name, project_part
from mlspec.emit.jobs import SETUP_MINUTES, gates_of, registry_secrets, source_secrets, train_secrets
from mlspec.emit.yamlout import Commented, dump
from mlspec.manifest import GateNode, Manifest, ModelNode, MonitorNode

ARGO_DIR = "generated/argo"
LIFECYCLE_PATH = f"{ARGO_DIR}/lifecycle.yaml"
API_VERSION = "argoproj.io/v1alpha1"
WORK = "/work"  # an emptyDir every pod mounts: the checkout, the artifacts and the gate's outputs land in it
CHECKOUT = f"{WORK}/repo"
OUTPUTS = f"{WORK}/outputs"  # where `mlspec node` writes a gate's version and promote (MLSPEC_OUTPUTS)
REVISION = "{{workflow.parameters.revision}}"
APPROVAL = "approval"  # the suspend template every approval task runs
LIFECYCLE = "lifecycle"
OBJECT_LIMIT = 1_572_864  # bytes: etcd's default request limit, so the largest object Kubernetes stores


def too_large(path: str, text: bytes) -> str | None:
    """What to say when the document `text` (the file at `path`) would not fit in Kubernetes, else None: its JSON,
    which the API server stores, over `OBJECT_LIMIT`. One WorkflowTemplate holds the whole lifecycle, about 2 KB
    per model and gate."""
    if len(text) <= OBJECT_LIMIT // 2:  # its JSON is smaller than this YAML (no indentation): it fits
        return None
    import json

    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when present: a large file
    size = len(json.dumps(yaml.load(text, Loader=loader), separators=(",", ":")))  # noqa: S506 (a safe loader)
    if size <= OBJECT_LIMIT:
        return None
    return (f"{path} is {size / 2**20:.1f} MiB as JSON, more than the {OBJECT_LIMIT / 2**20:.1f} MiB Kubernetes "
            "stores in one object (etcd's default): the cluster will refuse it. Split the project, or raise etcd's "
            "--max-request-bytes")


def monitor_path(name: str) -> str:
    """The CronWorkflow's file of monitor `name` (names are strict identifiers)."""
    return f"{ARGO_DIR}/monitor_{name}.yaml"


def files(manifest: Manifest, header: Callable[[list[str]], str]) -> dict[str, bytes]:
    """generated/argo/'s files ({} without `project.argo`); `header(spec files)` is a file's DO NOT EDIT note."""
    if manifest.project.argo is None:
        return {}
    build = _Builder(manifest)
    every_file = sorted({n.file for n in manifest.nodes.values()})
    lifecycle = build.lifecycle()
    out = {LIFECYCLE_PATH: dump(Commented(lifecycle, header(every_file) + "\n" + build.notes(lifecycle)))}
    for monitor in manifest.of_kind("monitor"):
        document = build.cron_workflow(monitor)
        out[monitor_path(monitor.name)] = dump(Commented(document, header([monitor.file]) + "\n"
                                                         + build.notes(document, monitor)))
    return out


class _Builder:
    """The documents of one manifest, every name they give recorded in one `Names`."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        if manifest.project.argo is None:
            raise ValueError("the project has no Argo target")  # `emit` builds only for one that has
        self.argo = manifest.project.argo
        self.project = manifest.project.name
        self.names = Names()
        self.root = posixpath.normpath(posixpath.join(CHECKOUT, self.argo.folder))  # the project in the checkout

    # ---- names ----

    def _template(self, word: str, kind: str, name: str) -> str:
        return self.names.add("template", named(word, name), f"{kind} '{name}'")

    def _object(self, kind: str, what: str, meaning: str, limit: int) -> str:
        return self.names.add(kind, object_name(self.project, what, limit), meaning)

    def _mutex(self, model: str) -> dict:
        """Gates of one model queue, as the GitHub gate jobs do in their concurrency group."""
        name = self._object("mutex", named("model", model), f"model '{model}'", 253)
        return {"mutexes": [{"name": name}]}

    # ---- pieces ----

    def _metadata(self, name: str) -> dict:
        metadata: dict = {"name": name}
        if self.argo.namespace:
            metadata["namespace"] = self.argo.namespace
        metadata["labels"] = {"app.kubernetes.io/managed-by": "mlspec",
                              "app.kubernetes.io/part-of": project_part(self.project)}
        return metadata

    def _workflow_spec(self, entrypoint: str, templates: list[dict]) -> dict:
        spec: dict = {"entrypoint": entrypoint,
                      "arguments": {"parameters": [{
                          "name": "revision", "value": self.manifest.project.default_branch,
                          "description": "The commit (or branch, or tag) of the repository every step checks out"}]}}
        if self.argo.service_account:
            spec["serviceAccountName"] = self.argo.service_account
        spec["volumes"] = [{"name": "work", "emptyDir": {}}]
        spec["templates"] = templates
        return spec

    def _checkout(self) -> dict:
        git: dict = {"repo": self.argo.repository, "revision": REVISION}
        secret = self.argo.git_secret
        if secret and self.argo.repository.startswith("https://"):
            git["usernameSecret"] = {"name": secret, "key": "username"}
            git["passwordSecret"] = {"name": secret, "key": "password"}
        elif secret:
            git["sshPrivateKeySecret"] = {"name": secret, "key": "ssh-private-key"}
        return {"name": "repository", "path": CHECKOUT, "git": git}

    def _candidate(self) -> list[dict]:
        """The folders a trained candidate leaves for its gates (the same for every model): its record's and, unless
        the artifact store is a folder every pod sees (file://), the one where its model file waits."""
        paths = [("candidate", posixpath.join(self.root, ".mlspec", "candidates"))]
        folder = stateurls.candidate_folder(self.manifest.project.artifacts_uri)
        if folder is not None:
            paths.append(("models", posixpath.join(self.root, folder, "sha256")))
        return [{"name": name, "path": path} for name, path in paths]

    def _container(self, name: str, args: list[str], *, runner: str, minutes: int, secrets: list[str],
                   inputs: dict | None = None, outputs: dict | None = None, env: Sequence[dict] = (),
                   synchronization: dict | None = None) -> dict:
        """A template running `mlspec -C PROJECT ARGS...` in the image, on a checkout of the repository."""
        requests = self.argo.runners.get(runner, self.argo.requests)
        container: dict = {"image": self.argo.image, "command": ["mlspec"], "args": ["-C", self.root, *args]}
        variables = [{"name": secret, "valueFrom": {"secretKeyRef": {"name": self.argo.secret, "key": secret}}}
                     for secret in secrets]
        if variables or env:
            container["env"] = [*variables, *env]
        container["resources"] = {"requests": {"cpu": requests.cpu, "memory": requests.memory}}
        container["volumeMounts"] = [{"name": "work", "mountPath": WORK}]
        inputs = dict(inputs or {})
        inputs["artifacts"] = [self._checkout(), *inputs.get("artifacts", [])]
        template: dict = {"name": name, "inputs": inputs}
        if outputs:
            template["outputs"] = outputs
        if synchronization:
            template["synchronization"] = synchronization
        template["activeDeadlineSeconds"] = minutes * 60
        template["container"] = container
        return template

    # ---- templates ----

    def _check(self) -> dict:
        # a pod's cache is thrown away with it: no entry to write (an empty MLSPEC_CACHE_DIR turns it off)
        return self._container("check", ["compile", "--check"], runner=self.manifest.project.runner,
                               minutes=SETUP_MINUTES, secrets=[], env=[{"name": "MLSPEC_CACHE_DIR", "value": ""}])

    def _train(self, model: ModelNode) -> dict:
        return self._container(self._template("train", "model", model.name), ["node", model.id],
                               runner=model.runner, minutes=model.timeout_minutes,
                               secrets=train_secrets(self.manifest, model),
                               outputs={"artifacts": self._candidate()})

    def _gate(self, gate: GateNode, model: ModelNode) -> dict:
        outputs, env = None, []
        if gate.approval_environment:  # what the approval and promote tasks read, as the GitHub promote job does
            env = [{"name": "MLSPEC_OUTPUTS", "value": OUTPUTS}]
            outputs = {"parameters": [
                {"name": "version", "valueFrom": {"path": f"{OUTPUTS}/version", "default": ""}},
                {"name": "promote", "valueFrom": {"path": f"{OUTPUTS}/promote", "default": "false"}}]}
        return self._container(self._template("gate", "gate", gate.name), ["node", gate.id], runner=model.runner,
                               minutes=SETUP_MINUTES, secrets=registry_secrets(self.manifest),
                               inputs={"artifacts": self._candidate()}, outputs=outputs, env=env,
                               synchronization=self._mutex(model.name))

    def _promote(self, gate: GateNode, model: ModelNode) -> dict:
        return self._container(self._template("promote", "gate", gate.name),
                               ["node", gate.id, "promote", "--version", "{{inputs.parameters.version}}"],
                               runner=model.runner, minutes=SETUP_MINUTES, secrets=registry_secrets(self.manifest),
                               inputs={"parameters": [{"name": "version"}]}, synchronization=self._mutex(model.name))

    def _monitor(self, monitor: MonitorNode) -> dict:
        model = self.manifest.model(monitor.model)
        live = [] if monitor.data.startswith("predictions:") else [monitor.data]  # the prediction log is in the store
        retrain = "retrain" in monitor.on_alert  # no GitHub to dispatch to: retrain here, through the gates
        secrets = {*registry_secrets(self.manifest), *source_secrets(self.manifest, live)}
        if retrain:
            secrets |= set(train_secrets(self.manifest, model))
        report = {"name": "report", "path": posixpath.join(self.root, ".mlspec", "reports", monitor.id),
                  "optional": True}
        return self._container(self._template("monitor", "monitor", monitor.name),
                               ["node", monitor.id, *(["--retrain"] if retrain else [])],
                               runner=model.runner, minutes=model.timeout_minutes, secrets=sorted(secrets),
                               outputs={"artifacts": [report]},
                               synchronization=self._mutex(model.name) if retrain else None)

    # ---- documents ----

    def lifecycle(self) -> dict:
        """The WorkflowTemplate: check, then train, gate, approve and promote, as a DAG."""
        tasks = [{"name": "check", "template": "check"}]
        templates = [self._check()]
        needs_approval = False
        for model in self.manifest.of_kind("model"):
            train = self._train(model)
            templates.append(train)
            tasks.append({"name": train["name"], "template": train["name"], "depends": "check"})
            for gate in gates_of(self.manifest, model.name):
                templates.append(self._gate(gate, model))
                tasks.append(self._gate_task(templates[-1]["name"], train["name"]))
                if gate.approval_environment:
                    needs_approval = True
                    templates.append(self._promote(gate, model))
                    tasks += self._approval_tasks(gate, templates[-2]["name"], templates[-1]["name"])
        if needs_approval:
            templates.append({"name": APPROVAL, "suspend": {}})
        dag = {"name": LIFECYCLE, "dag": {"tasks": tasks}}
        name = self._object("WorkflowTemplate", LIFECYCLE, "the lifecycle", 63)
        return {"apiVersion": API_VERSION, "kind": "WorkflowTemplate", "metadata": self._metadata(name),
                "spec": self._workflow_spec(LIFECYCLE, [dag, *templates])}

    def _gate_task(self, gate: str, train: str) -> dict:
        return {"name": gate, "template": gate, "depends": train, "arguments": {"artifacts": [
            {"name": artifact["name"], "from": f"{{{{tasks.{train}.outputs.artifacts.{artifact['name']}}}}}"}
            for artifact in self._candidate()]}}

    def _approval_tasks(self, gate: GateNode, gate_task: str, promote: str) -> list[dict]:
        """Suspend until a person resumes the workflow (`argo resume`), then promote; both only when the gate
        registered a version that waits for approval."""
        approve = self._template("approve", "gate", gate.name)
        outputs = f"tasks.{gate_task}.outputs.parameters"
        when = "{{" + outputs + ".promote}} == true"
        return [{"name": approve, "template": APPROVAL, "depends": gate_task, "when": when},
                {"name": promote, "template": promote, "depends": approve, "when": when,
                 "arguments": {"parameters": [{"name": "version", "value": "{{" + outputs + ".version}}"}]}}]

    def cron_workflow(self, monitor: MonitorNode) -> dict:
        """A CronWorkflow running one monitor on its schedule (in UTC, as GitHub's schedules are)."""
        template = self._monitor(monitor)
        name = self._object("CronWorkflow", named("monitor", monitor.name), f"monitor '{monitor.name}'", CRON_LIMIT)
        return {"apiVersion": API_VERSION, "kind": "CronWorkflow", "metadata": self._metadata(name),
                "spec": {"schedules": [" ".join(monitor.schedule.split())], "timezone": "UTC",
                         # a run still going when the next is due: the next is skipped (Argo has no queue)
                         "concurrencyPolicy": "Forbid",
                         "workflowSpec": self._workflow_spec(template["name"], [template])}}

    def notes(self, document: dict, monitor: MonitorNode | None = None) -> str:
        """The header's account of what the document needs from the cluster (the Secrets and their keys) and, for
        a monitor, what its alert does here."""
        keys = sorted({variable["valueFrom"]["secretKeyRef"]["key"]
                       for template in document["spec"].get("templates") or
                       document["spec"]["workflowSpec"]["templates"]
                       for variable in (template.get("container") or {}).get("env", [])
                       if "valueFrom" in variable})
        lines = ["For Argo Workflows 3.6 or later (see the README, \"Argo Workflows\").",
                 "Apply with: kubectl apply --server-side -f generated/argo/"]
        lines.append(f"Secret {self.argo.secret}: keys {', '.join(keys)}." if keys else "Secrets: none.")
        if self.argo.git_secret:
            kind = "username, password" if self.argo.repository.startswith("https://") else "ssh-private-key"
            lines.append(f"Secret {self.argo.git_secret} (to clone the repository): keys {kind}.")
        if monitor is not None:
            acts = "retrains the model here, through its gates, and fails" if "retrain" in monitor.on_alert else "fails"
            lines.append(f"An alert {acts} the run (no GitHub issue is opened from Argo).")
        return "\n".join(lines)
