"""Running a generated Argo document the way Argo would, without Argo: a test harness, since Argo and
Kubernetes cannot run here. It is not Argo, and passing it proves only what it emulates.

Emulated, as Argo's documentation describes it: each container template is a fresh "pod" with the
workflow's `work` emptyDir at /work (a new folder, mapped in every path), its git input artifact a
`git clone` of the repository at the `revision` parameter, its other input artifacts copied from the
outputs of the tasks they name (directories, as Argo's tar archives unpack), its environment from values
and from `secretKeyRef` (a key missing from the Secret fails the pod, as the kubelet refuses to start it),
`command` + `args` run as one process with no shell, `{{...}}` tags substituted from the workflow's
parameters, the template's inputs and earlier tasks' outputs; output parameters read from their files
(else their `default`), output artifacts collected from their paths (a missing one fails the step unless
`optional`). In a DAG a task runs when every task it `depends` on succeeded or was skipped, is skipped when
its `when` (mlspec writes only `X == Y`) is false, and a `suspend` template waits for `approve(task)`.

Not emulated: the image (the test's own environment runs `mlspec`), resource requests, service accounts,
deadlines, retries, mutexes (tasks run one at a time, in the DAG's order), the artifact repository, and
every Argo feature mlspec does not write.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TAG = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
MLSPEC = str(Path(sys.executable).parent / "mlspec")


@dataclass
class Step:
    """What became of one task (or of the entrypoint when it is a container)."""

    status: str  # Succeeded, Failed, Skipped, Omitted (a dependency did not succeed), Suspended
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)


class Emulator:
    """Runs one WorkflowTemplate or CronWorkflow document; `repositories` maps a git artifact's `repo` to a local
    repository, `secrets` a Secret's name to its keys' values."""

    def __init__(self, document: dict, base: Path, *, repositories: dict[str, Path],
                 secrets: dict[str, dict[str, str]], approve: Callable[[str], bool] = lambda task: True) -> None:
        self.spec = document["spec"]["workflowSpec"] if document["kind"] == "CronWorkflow" else document["spec"]
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        self.base, self.repositories, self.secrets, self.approve = base, repositories, secrets, approve
        self.pods = 0

    def run(self, parameters: dict[str, str] | None = None) -> dict[str, Step]:
        """Every task's outcome (a container entrypoint's under its template's name)."""
        self.parameters = {p["name"]: p.get("value", "") for p in self.spec.get("arguments", {}).get("parameters", [])}
        self.parameters.update(parameters or {})
        entry = self.templates[self.spec["entrypoint"]]
        if "dag" not in entry:
            return {entry["name"]: self._pod(entry, {}, entry["name"])}
        steps: dict[str, Step] = {}
        for task in entry["dag"]["tasks"]:  # mlspec lists a task after those it depends on
            steps[task["name"]] = self._task(task, steps)
        return steps

    def _task(self, task: dict, steps: dict[str, Step]) -> Step:
        needs = [n.strip() for n in task.get("depends", "").split("&&") if n.strip()]
        if any(steps[n].status not in ("Succeeded", "Skipped") for n in needs):
            return Step("Omitted")
        if "when" in task:
            left, right = (side.strip() for side in self._resolve(task["when"], steps, {}).split("=="))
            if left != right:
                return Step("Skipped")
        template = self.templates[task["template"]]
        if "suspend" in template:
            return Step("Succeeded" if self.approve(task["name"]) else "Suspended")
        arguments = task.get("arguments", {})
        inputs = {p["name"]: self._resolve(p["value"], steps, {}) for p in arguments.get("parameters", [])}
        artifacts = {}
        for artifact in arguments.get("artifacts", []):
            source, name = re.fullmatch(r"\{\{tasks\.([^.]+)\.outputs\.artifacts\.([^.}]+)\}\}",
                                        artifact["from"]).groups()
            artifacts[artifact["name"]] = steps[source].artifacts[name]
        return self._pod(template, inputs, task["name"], artifacts)

    def _resolve(self, text: str, steps: dict[str, Step], inputs: dict[str, str]) -> str:
        def value(match: re.Match) -> str:
            tag = match.group(1)
            if tag.startswith("workflow.parameters."):
                return self.parameters[tag.removeprefix("workflow.parameters.")]
            if tag.startswith("inputs.parameters."):
                return inputs[tag.removeprefix("inputs.parameters.")]
            task, name = re.fullmatch(r"tasks\.([^.]+)\.outputs\.parameters\.(.+)", tag).groups()
            return steps[task].parameters[name]
        return _TAG.sub(value, text)

    def _pod(self, template: dict, inputs: dict[str, str], task: str, given: dict[str, Path] | None = None) -> Step:
        self.pods += 1
        work = self.base / f"pod-{self.pods:02d}-{task}" / "work"
        work.mkdir(parents=True)

        def mapped(path: str) -> Path:  # the emptyDir mounted at /work
            assert path == "/work" or path.startswith("/work/"), path
            return work / path.removeprefix("/work").lstrip("/")

        for artifact in template.get("inputs", {}).get("artifacts", []):
            target = mapped(artifact["path"])
            if "git" in artifact:
                git = artifact["git"]
                source = self.repositories[git["repo"]]
                subprocess.run(["git", "clone", "--quiet", str(source), str(target)], check=True)
                revision = self._resolve(git["revision"], {}, inputs)
                subprocess.run(["git", "-C", str(target), "checkout", "--quiet", revision], check=True)
            else:
                shutil.copytree((given or {})[artifact["name"]], target, dirs_exist_ok=True)
        container = template["container"]
        environment = {"PATH": os.environ["PATH"], "HOME": str(work.parent), "LANG": "C.UTF-8"}
        for variable in container.get("env", []):
            if "valueFrom" in variable:
                ref = variable["valueFrom"]["secretKeyRef"]
                if ref["key"] not in self.secrets.get(ref["name"], {}):
                    return Step("Failed", stderr=f"CreateContainerConfigError: couldn't find key {ref['key']} in "
                                                 f"Secret {ref['name']}")
                environment[variable["name"]] = self.secrets[ref["name"]][ref["key"]]
            else:
                value = variable["value"]
                environment[variable["name"]] = str(mapped(value)) if value.startswith("/work/") else value
        assert container["command"] == ["mlspec"], container["command"]
        args = [self._resolve(a, {}, inputs) for a in container["args"]]
        args = [str(mapped(a)) if a.startswith("/work/") else a for a in args]
        done = subprocess.run([MLSPEC, *args], cwd=work.parent, env=environment, capture_output=True, text=True,
                              check=False)
        step = Step("Succeeded" if done.returncode == 0 else "Failed", done.returncode, done.stdout, done.stderr)
        outputs = template.get("outputs", {})
        for parameter in outputs.get("parameters", []):
            source = mapped(parameter["valueFrom"]["path"])
            step.parameters[parameter["name"]] = source.read_text(encoding="utf-8") if source.is_file() \
                else parameter["valueFrom"]["default"]
        for artifact in outputs.get("artifacts", []):
            source = mapped(artifact["path"])
            if source.exists():
                kept = self.base / "artifacts" / f"{task}-{artifact['name']}"
                shutil.copytree(source, kept)
                step.artifacts[artifact["name"]] = kept
            elif not artifact.get("optional") and step.status == "Succeeded":
                step.status, step.stderr = "Failed", step.stderr + f"\noutput artifact {artifact['name']} missing"
        return step
