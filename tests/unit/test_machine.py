"""What a process may use of the machine, read from its cgroups as a container or a Kubernetes pod sets them
(`mlspec.runtime.machine`): a fake /proc/self/cgroup and /sys/fs/cgroup in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlspec.runtime import machine

AFFINITY = len(os.sched_getaffinity(0))


def _v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    (tmp_path / "proc").write_text("0::/kubepods/pod1\n", encoding="utf-8")
    folder = tmp_path / "sys" / "kubepods" / "pod1"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    monkeypatch.setattr(machine, "_PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(machine, "_CGROUP_ROOT", tmp_path / "sys")


def _v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quota: str, period: str, memory: str, *,
        in_container: bool = False) -> None:
    """cgroup v1 as a host sees it (the files under the cgroup's path), or as a Docker container does: its own
    cgroup mounted at the hierarchy's root while /proc/self/cgroup still says /docker/c1."""
    (tmp_path / "proc").write_text("4:memory:/docker/c1\n2:cpu,cpuacct:/docker/c1\n1:name=systemd:/\n",
                                   encoding="utf-8")
    below = Path() if in_container else Path("docker") / "c1"
    cpu = tmp_path / "sys" / "cpu,cpuacct" / below
    cpu.mkdir(parents=True, exist_ok=True)
    (cpu / "cpu.cfs_quota_us").write_text(quota + "\n", encoding="utf-8")
    (cpu / "cpu.cfs_period_us").write_text(period + "\n", encoding="utf-8")
    mem = tmp_path / "sys" / "memory" / below
    mem.mkdir(parents=True, exist_ok=True)
    (mem / "memory.limit_in_bytes").write_text(memory + "\n", encoding="utf-8")
    monkeypatch.setattr(machine, "_PROC_CGROUP", tmp_path / "proc")
    monkeypatch.setattr(machine, "_CGROUP_ROOT", tmp_path / "sys")


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("100000 100000", 1),  # --cpus 1
    ("150000 100000", 2),  # 1.5 CPUs: the half core still runs a thread
    ("50000 100000", 1),
    ("max 100000", AFFINITY),  # no quota
])
def test_a_v2_cpu_quota_caps_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str,
                                       expected: int) -> None:
    _v2(tmp_path, monkeypatch, {"cpu.max": cpu_max})
    assert machine.usable_cores() == min(expected, AFFINITY)


@pytest.mark.parametrize("in_container", [False, True])
@pytest.mark.parametrize(("quota", "expected"), [("100000", 1), ("-1", AFFINITY)])
def test_a_v1_cpu_quota_caps_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quota: str,
                                       expected: int, in_container: bool) -> None:
    _v1(tmp_path, monkeypatch, quota, "100000", "9223372036854771712", in_container=in_container)
    assert machine.usable_cores() == min(expected, AFFINITY)


def test_a_containers_memory_limit_is_found_at_its_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _v1(tmp_path, monkeypatch, "50000", "100000", str(256 << 20), in_container=True)
    assert machine.available_memory() == 256 << 20
    assert machine.usable_cores() == 1


def test_memory_limits_of_either_hierarchy_cap_the_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _v2(tmp_path, monkeypatch, {"memory.max": str(512 << 20)})
    assert machine.available_memory() == 512 << 20
    (tmp_path / "v1").mkdir()
    _v1(tmp_path / "v1", monkeypatch, "-1", "100000", str(256 << 20))
    assert machine.available_memory() == 256 << 20


def test_no_limit_leaves_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _v2(tmp_path, monkeypatch, {"memory.max": "max", "cpu.max": "max 100000"})
    assert machine.usable_cores() == AFFINITY
    assert machine.available_memory() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert machine.available_memory() > 0


def test_an_unreadable_cgroup_file_is_no_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "_PROC_CGROUP", tmp_path / "absent")
    assert machine.usable_cores() == AFFINITY
