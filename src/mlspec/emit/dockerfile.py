"""`generated/Dockerfile.serve`: an image that runs `mlspec serve`, when `project.serve.dockerfile` asks.

The image starts from the base the spec pins by digest (the spec refuses anything else, MLS225), installs
mlspec the way the generated CI jobs do (`project.install` with the serve extra and the state's extras,
pinned by `generated/constraints.txt`), copies the specs and generated files, and runs the server as a
non-root user. Every instruction that carries spec text is in exec form with each argument written by
`json.dumps`, so no spec value reaches a shell or starts a new instruction; the base image and the model
names are validated to their characters before they get here.

It lives in generated/ beside the manifest it serves from, and is built from the repository root:
`docker build -f generated/Dockerfile.serve .`.
"""

from __future__ import annotations

import json

from mlspec.emit import CONSTRAINTS_PATH
from mlspec.manifest import Manifest

DOCKERFILE_PATH = "generated/Dockerfile.serve"
USER_ID = 10001  # not 0, and above the ranges base images give their own users


def _exec(*args: str | int) -> str:
    """An exec-form argument list: a JSON array of strings."""
    return json.dumps([str(a) for a in args])


def dockerfile(manifest: Manifest, header: str) -> bytes | None:
    """The serving image's Dockerfile, or None when the spec does not ask for one."""
    serve = manifest.project.serve
    if serve is None:
        return None
    install = manifest.project.install
    pip = ["python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check"]
    lines = [*(f"# {line}" if line else "#" for line in header.splitlines()),
             "# Build from the repository root: docker build -f generated/Dockerfile.serve -t IMAGE .",
             "# The registry and artifact store are the spec's; pass their credentials as environment variables.",
             "",
             f"FROM {serve.base_image}",
             "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1",
             f"RUN {_exec('useradd', '--create-home', '--user-group', '--uid', USER_ID, 'mlspec')}",
             "WORKDIR /app"]
    if install.form == "lock":  # the hashed requirements file is the whole environment
        lines += [f"COPY {_exec(serve.install, serve.install)}",
                  f"RUN {_exec(*pip, '--require-hashes', '-r', serve.install)}"]
    elif install.form == "path":  # mlspec is the repository itself: its sources come in first
        lines += [f"COPY {_exec('.', '/app')}",
                  f"RUN {_exec(*pip, '-c', CONSTRAINTS_PATH, serve.install)}"]
    else:
        lines += [f"COPY {_exec(CONSTRAINTS_PATH, CONSTRAINTS_PATH)}",
                  f"RUN {_exec(*pip, '-c', CONSTRAINTS_PATH, serve.install)}"]
    if install.form != "path":
        lines += ['COPY ["specs", "specs"]', 'COPY ["generated", "generated"]']
    # a folder the server may write (a local registry or artifact store, the prediction log) when one is mounted
    # all interfaces: inside a container the port is reached through its network namespace, never from the host
    everywhere = "0.0.0.0"  # noqa: S104
    command = _exec("mlspec", "serve", "--host", everywhere, "--port", serve.port, "--workers", serve.workers,
                    *serve.models)
    lines += [f"RUN {_exec('install', '-d', '-o', USER_ID, '-g', USER_ID, '/app/.mlspec')}",
              f"USER {USER_ID}:{USER_ID}",
              f"EXPOSE {serve.port}",
              f"CMD {command}",
              ""]
    return "\n".join(lines).encode("ascii")
