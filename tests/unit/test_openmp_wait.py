"""OpenMP threads wait passively in mlspec's runtime (unless the user chose otherwise): spinning threads took the
shared cores from the threads they waited for (issue #19 item 3; benchmarks/README.md, "OpenMP waiting")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# scikit-learn imported after the runtime, as every step imports it; threadpoolctl then shows the OpenMP
# runtime loaded, which read the setting when it loaded
PROBE = ("import os, mlspec.runtime, sklearn.ensemble, threadpoolctl; "
         "assert any(p['user_api'] == 'openmp' for p in threadpoolctl.threadpool_info()); "
         "print(os.environ['OMP_WAIT_POLICY'])")


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_runtime_makes_openmp_wait_passively_unless_told_otherwise(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
