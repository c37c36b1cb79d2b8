"""What this process may use of the machine: its cores and its memory, as a container or a CI runner limits them.

`os.cpu_count()` and the physical memory describe the host; a container (`docker run --cpus 2`, a Kubernetes
pod's limits, as Argo's steps get) or a CPU affinity mask gives a process less. Thread budgets, `-j`, the DuckDB
engine's memory limit and a local Dask cluster are sized from these figures, so that a job on a 64-core node
with a 2-CPU limit does not start 64 threads per training.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

_PROC_CGROUP = Path("/proc/self/cgroup")  # this process's cgroups, one line per hierarchy
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota (rounded up), at
    least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quotas = [math.ceil(quota) for quota in _cgroup_cpu_quotas()]
    return max(1, min([cores, *quotas]))


def available_memory() -> int:
    """The bytes of memory this process may use: the machine's, a cgroup's limit (v2 or v1) or RLIMIT_AS."""
    import resource

    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        limits.append(4 << 30)
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    for text in _cgroup_values(v2="memory.max", v1=("memory", "memory.limit_in_bytes")):
        if text.isdigit() and int(text) < (1 << 60):  # v1 writes "no limit" as a huge number
            limits.append(int(text))
    return min(limits)


def _cgroup_cpu_quotas() -> list[float]:
    """The CPU quotas of this process's cgroups, in cores: v2 `cpu.max` ("QUOTA PERIOD", or "max PERIOD" for
    none), v1 `cpu.cfs_quota_us` over `cpu.cfs_period_us` (a quota of -1: none)."""
    quotas = []
    for text in _cgroup_values(v2="cpu.max"):
        quota, _, period = text.partition(" ")
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            quotas.append(int(quota) / int(period))
    v1 = zip(_cgroup_values(v1=("cpu", "cpu.cfs_quota_us")), _cgroup_values(v1=("cpu", "cpu.cfs_period_us")),
             strict=False)
    quotas += [int(quota) / int(period) for quota, period in v1
               if quota.isdigit() and period.isdigit() and int(period) > 0]
    return [q for q in quotas if q > 0]


def _cgroup_values(v2: str | None = None, v1: tuple[str, str] | None = None) -> list[str]:
    """The stripped text of a control file of this process's cgroups: `v2` in the unified hierarchy, `v1` (its
    controller, its file) in the legacy one; none where there is no such file or it cannot be read.

    The file is looked for under the cgroup's path, then at the hierarchy's mount point: a container usually has
    its own cgroup mounted there while /proc/self/cgroup still names it by the host's path (`/docker/ID`)."""
    try:
        lines = _PROC_CGROUP.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if controllers == "" and v2 is not None:
            mount, name = _CGROUP_ROOT, v2
        elif v1 is not None and v1[0] in controllers.split(","):
            mount, name = _CGROUP_ROOT / controllers, v1[1]
        else:
            continue
        for candidate in (mount / path.lstrip("/") / name, mount / name):
            try:
                found.append(candidate.read_text(encoding="utf-8").strip())
                break
            except OSError:
                continue
    return found
