"""The runtime: executes a resolved manifest. Reads only the manifest, never the spec modules.

Heavy libraries (pandas, scikit-learn, pyarrow, SQLAlchemy, skops, pandera) are imported inside the
steps that use them, so a no-op run stays fast.
"""

import os

# OpenMP's threads wait for each other at the end of every parallel region by spinning; where the cores are
# shared (a CI runner, `-j N` trainings, monitoring beside a training) the spinning threads take the cores the
# late ones need, and gradient boosting on two threads ran many times slower than on one (benchmarks/README.md,
# "OpenMP waiting"). Passive waiting sleeps instead. OpenMP reads the setting when it loads, that is when
# scikit-learn is first imported, which is always after this package; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
