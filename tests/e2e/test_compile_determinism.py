"""`mlspec compile` output does not depend on hash seeds, locales, file order or key order.

One generated project is split across several spec files, always with the same nodes in the same file.
Twenty variants then change everything that must not matter: PYTHONHASHSEED, LC_ALL/LANG, the order in
which the files are created (directory listing order), the order of sections, of nodes within a
section and of keys within a node, and (in every other variant) the files' names, so that their sorted
order changes too. Each variant is compiled by `mlspec compile` in its own process.

Spec file names are part of the output (headers, SOURCE_SPEC, the manifest's `file`), so the tree is
hashed twice: raw (paths + bytes), which must agree among the variants that keep the names, and with
every spec file name replaced by one placeholder, which must agree among all twenty.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.spec_factory import build_documents, dump

VARIANTS = 20
PARTS = 6
SEED, MODELS = 7, 12
NAME_POOL = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]
PLACEHOLDER = b"specs/SPEC_FILE.yaml"


def _locales() -> list[str]:
    found = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout.split()
    normal = {name.lower().replace("-", ""): name for name in found}
    chosen = ["C", "C.UTF-8" if "c.utf8" in normal else "C", "POSIX"]
    for wanted in ("en_US.UTF-8", "de_DE.UTF-8", "tr_TR.UTF-8", "sv_SE.UTF-8"):
        if wanted.lower().replace("-", "") in normal:
            chosen.append(wanted)
    return chosen


def _partition() -> list[dict]:
    """The project as PARTS documents; every node always lands in the same part."""
    documents = build_documents(SEED, MODELS)
    merged: dict[str, dict] = {}
    project = None
    for doc in documents.values():
        for section, entries in doc.items():
            if section == "project":
                project = entries
            elif section != "apiVersion":
                merged.setdefault(section, {}).update(entries)
    parts: list[dict] = [{"project": project}] + [{} for _ in range(PARTS - 1)]
    index = 0
    for section in sorted(merged):
        for name in sorted(merged[section]):
            parts[1 + index % (PARTS - 1)].setdefault(section, {})[name] = merged[section][name]
            index += 1
    return parts


def _shuffled(value: object, rng: random.Random, depth: int) -> object:
    if isinstance(value, dict) and depth > 0:
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng, depth - 1) for k in keys}
    return value


def _write_variant(root: Path, parts: list[dict], variant: int) -> list[str]:
    """Write one variant; return its spec file display paths."""
    rng = random.Random(1000 + variant)
    names = [f"{n}.yaml" for n in (NAME_POOL[:PARTS] if variant % 2 == 0 else rng.sample(NAME_POOL, PARTS))]
    files = []
    for name, part in zip(names, parts, strict=True):
        document = _shuffled(part, rng, depth=3)  # sections, nodes, and keys within a node
        files.append((f"specs/{name}", "apiVersion: mlspec/v1\n" + dump(document)))
    rng.shuffle(files)  # creation order = directory listing order on most file systems
    (root / "specs").mkdir(parents=True)
    for path, text in files:
        (root / path).write_text(text, encoding="utf-8")
    return [path for path, _ in files]


def _compile(root: Path, hash_seed: int, locale: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHON"))}
    env |= {"PYTHONHASHSEED": str(hash_seed), "LC_ALL": locale, "LANG": locale, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "mlspec", "-C", str(root), "compile"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def _hashes(root: Path, spec_files: list[str]) -> tuple[str, str]:
    raw, normal = hashlib.sha256(), hashlib.sha256()
    for folder in ("generated", ".github"):
        for path in sorted(p for p in (root / folder).rglob("*") if p.is_file()):
            name, data = path.relative_to(root).as_posix().encode(), path.read_bytes()
            for digest, content in ((raw, data), (normal, _normalise(data, spec_files))):
                digest.update(len(name).to_bytes(8, "big") + name + len(content).to_bytes(8, "big") + content)
    return raw.hexdigest(), normal.hexdigest()


def _normalise(data: bytes, spec_files: list[str]) -> bytes:
    for spec in sorted(spec_files, key=len, reverse=True):
        data = data.replace(spec.encode(), PLACEHOLDER)
    return data


@pytest.fixture
def fast_tmp(tmp_path: Path):
    """A folder in memory when the machine has one (compile fsyncs every file it writes)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="mlspec-determinism-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_compile_is_deterministic(fast_tmp: Path) -> None:
    tmp_path = fast_tmp
    parts = _partition()
    locales = _locales()
    jobs = []
    for variant in range(VARIANTS):
        root = tmp_path / f"v{variant:02d}"
        spec_files = _write_variant(root, parts, variant)
        jobs.append((variant, root, spec_files, 7919 * variant + 1, locales[variant % len(locales)]))

    def run(job):
        variant, root, spec_files, hash_seed, locale = job
        result = _compile(root, hash_seed, locale)
        assert result.returncode == 0, f"variant {variant} ({locale}): {result.stdout}{result.stderr}"
        return variant, spec_files, _hashes(root, spec_files)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(run, jobs))

    orders = {tuple(files) for _, files, _ in results}
    assert len(orders) > VARIANTS // 2, "file orders did not vary"
    assert len({tuple(sorted(files)) for _, files, _ in results}) > 2, "file names did not vary"
    normalised = {hashes[1] for _, _, hashes in results}
    assert len(normalised) == 1, f"{len(normalised)} different trees (names normalised)"
    same_names = {hashes[0] for variant, _, hashes in results if variant % 2 == 0}
    assert len(same_names) == 1, f"{len(same_names)} different trees from the same file names"
    # the generated tree is the real one: every node's script, one retrain workflow offering every model
    sample = tmp_path / "v00"
    assert len(list((sample / "generated").glob("model_*.py"))) == MODELS
    retrain = yaml.safe_load((sample / ".github" / "workflows" / "mlspec-retrain.yml").read_text(encoding="ascii"))
    assert len(retrain["on"]["workflow_dispatch"]["inputs"]["model"]["options"]) == MODELS
