"""Where a model's search and cross-validation run: in this process, or on a Dask cluster (`compute: dask`).

On a cluster, scikit-learn's own parallelism (joblib) hands each candidate's folds and each
cross-validation fold to Dask's joblib backend: scikit-learn and Dask both ship it, mlspec schedules
nothing itself. Only those fits leave the process. The final fit of the chosen parameters stays here,
exactly as a local run makes it, so the artifact's bytes do not depend on where the search ran, and
every fit, on a worker or here, is seeded the same way, so the scores equal a local run's.

dask and distributed are imported only here and only for a model that asks for a cluster: the CLI,
the compiler and runs without such a model never load them. With no address a `LocalCluster` of worker
processes on the loopback interface is started for the training and closed after it; an address is
connected to (a `${env:NAME}` one is read from the environment now, never at compile time) and the
cluster is left running. A scheduler that cannot be reached ends the training with a `TrainingError`
before anything is fitted, so no candidate and no registry entry is made.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

from mlspec.manifest import ModelNode
from mlspec.runtime import machine
from mlspec.runtime.errors import TrainingError

_ENV_REFERENCE = re.compile(r"\$\{env:(?P<name>[A-Z_][A-Z0-9_]{0,63})\}")
# the spec's form (spec.v1.compute), repeated because the runtime never imports the spec modules: a value read from
# the environment is held to it too
_ADDRESS = re.compile(r"(?:tcp|tls)://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|"
                      r"\[[0-9A-Fa-f:.]{2,45}\]):(?P<port>[0-9]{1,5})")
_DASK_EXTRA = "pip install 'mlspec-gitops[dask]'"


def scheduler_address(model: ModelNode) -> str | None:
    """The scheduler a model's compute names, with a `${env:NAME}` reference read now; None: start a local cluster.

    A variable that is not set, or empty (GitHub Actions sets a secret it does not have to ''), or that holds
    anything but tcp://HOST:PORT or tls://HOST:PORT is a `TrainingError` naming it."""
    address = model.compute.address if model.compute is not None else None
    if address is None:
        return None
    reference = _ENV_REFERENCE.fullmatch(address)
    if reference is not None:
        name = reference["name"]
        address = os.environ.get(name, "").strip()
        if not address:
            raise TrainingError(
                f"model '{model.name}' runs its search on the Dask scheduler in ${{env:{name}}}, but {name} is not "
                "set", where=model.file,
                hint=f"export {name}=tcp://HOST:PORT (in CI: a repository secret {name}; pull requests from forks "
                     "receive no secrets), or remove compute.address to use a local cluster")
        match = _ADDRESS.fullmatch(address)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            # the value is not shown: it came from a secret
            raise TrainingError(f"model '{model.name}': {name} does not hold a Dask scheduler address",
                                where=model.file, hint=f"set {name} to tcp://HOST:PORT or tls://HOST:PORT")
    return address


def local_workers() -> int:
    """Worker processes of a local cluster: the threads this training may use (the budget `-j` gives it, which
    the run sets with threadpoolctl), at most the cores this process may use. Two trainings at once (`-j 2`)
    then start one worker each, not one per core each."""
    from threadpoolctl import threadpool_info

    budgets = [library["num_threads"] for library in threadpool_info() if library["user_api"] == "openmp"]
    return max(1, min([machine.usable_cores(), *budgets]))


@contextlib.contextmanager
def parallel(model: ModelNode) -> Iterator[int]:
    """Run the joblib work inside on the model's compute; yields the `n_jobs` to give scikit-learn.

    Locally that is 1 (one process, as always). On a cluster it is -1 (every worker) under Dask's joblib
    backend, with a client for the scheduler (or a local cluster started here) closed on the way out. What
    goes wrong on the cluster (it cannot start, has no worker, a worker dies, the connection drops) ends the
    training with a `TrainingError`; a fit's own error comes out as the fit raised it.
    """
    if model.compute is None:
        yield 1
        return
    address = scheduler_address(model)
    shown = model.compute.address or "a local cluster"  # as the spec wrote it: a secret's value is never shown
    try:
        from dask.distributed import Client, LocalCluster
        from joblib import parallel_config
    except ImportError as exc:
        raise TrainingError(f"model '{model.name}' runs its search on a Dask cluster, but {exc.name} is not "
                            "installed here", where=model.file, hint=_DASK_EXTRA) from None
    with contextlib.ExitStack() as stack:
        try:
            if address is None:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=local_workers(), threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR))  # every port on the loopback
                client = stack.enter_context(Client(cluster, set_as_default=False))
            else:
                client = stack.enter_context(_connect(Client, address, model))
        except TrainingError:
            raise
        except Exception as exc:  # Dask's own: TLS settings missing for tls://, a cluster that cannot start
            raise _cluster_error(model, f"cannot start the Dask client for {shown}", exc, address, shown) from None
        with parallel_config(backend="dask", client=client):
            try:
                yield -1
            except ImportError as exc:  # here, or raised on a worker that lacks a module the fits need
                raise TrainingError(f"model '{model.name}': cannot import {exc.name or exc} (here or on a Dask "
                                    "worker)", where=model.file, hint="install the same mlspec-gitops[runtime] "
                                    "version (and Python, scikit-learn) on the workers as where mlspec runs") from None
            except Exception as exc:
                if not _from_the_cluster(exc):
                    raise
                raise _cluster_error(model, f"the Dask cluster at {shown} failed during the search", exc,
                                     address, shown) from None


def _from_the_cluster(exc: Exception) -> bool:
    """Whether an error is the cluster's (a dead worker, a dropped connection, no worker to run on), not a fit's."""
    import concurrent.futures

    module = type(exc).__module__ or ""
    return (isinstance(exc, OSError | TimeoutError | concurrent.futures.CancelledError)
            or module.split(".")[0] in ("distributed", "dask", "tornado"))


def _cluster_error(model: ModelNode, what: str, exc: Exception, address: str | None, shown: str) -> TrainingError:
    """A `TrainingError` for a cluster's failure, its reason with the address replaced by how the spec names it."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if address:
        reason = reason.replace(address, shown)
    return TrainingError(f"model '{model.name}': {what} ({type(exc).__name__}: {reason})", where=model.file,
                         hint="check the cluster has workers with mlspec-gitops[runtime] installed, that they stay "
                              "up and reachable; tls:// needs Dask's TLS settings (DASK_DISTRIBUTED__COMM__TLS__*); "
                              "or remove compute to search in this process")


@contextlib.contextmanager
def _connect(client_class: type, address: str, model: ModelNode) -> Iterator[Any]:
    """A client of the scheduler at `address`, or a `TrainingError` saying which address could not be reached: as the
    spec wrote it, so an address read from a secret is named by its variable, never shown."""
    shown = model.compute.address if model.compute is not None and model.compute.address else address
    try:
        client = client_class(address, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = (str(exc).splitlines()[0] if str(exc) else type(exc).__name__).replace(address, shown)
        raise TrainingError(
            f"model '{model.name}': cannot reach the Dask scheduler at {shown} ({reason})", where=model.file,
            hint="start one there (`dask scheduler`, then `dask worker ADDRESS` on the workers), check that "
                 "the network (firewall, VPN, a GitHub-hosted runner's outbound access) reaches its port, and that "
                 "the address (or the secret holding it) is right; DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT sets how "
                 "long to try") from None
    try:
        yield client
    finally:
        client.close()
