"""`state.files.write_atomic` and `append_whole` when the disk is full: the file is as it was.

A real process with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes writes past the limit fail
with EFBIG, as a full disk fails them with ENOSPC: write_atomic leaves the old file and no temporary
file, and says which file it was writing; append_whole adds a whole line or nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHILD = """
import errno, json, resource, signal, sys
from pathlib import Path
from mlspec.runtime.artifacts import append_whole
from mlspec.state.files import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
folder = Path(sys.argv[1])
said = {}
for name, call in (("atomic", lambda: write_atomic(folder / "state.json", b"x" * 5000)),
                   ("append", lambda: append_whole(folder / "alerts.log", b"y" * 500 + b"\\n"))):
    try:
        call()
        said[name] = None
    except OSError as exc:
        said[name] = [errno.errorcode[exc.errno], exc.filename]
print(json.dumps(said))
"""


def test_a_write_past_the_limit_leaves_every_file_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_bytes(b'{"old": true}')
    (tmp_path / "alerts.log").write_bytes(b"z" * 700 + b"\n")  # 701 bytes: one more line passes the limit
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=True)
    said = json.loads(done.stdout)
    assert said == {"atomic": ["EFBIG", str(tmp_path / "state.json")],
                    "append": ["EFBIG", str(tmp_path / "alerts.log")]}
    assert (tmp_path / "state.json").read_bytes() == b'{"old": true}'
    assert (tmp_path / "alerts.log").read_bytes() == b"z" * 700 + b"\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alerts.log", "state.json"]  # no temporary file
