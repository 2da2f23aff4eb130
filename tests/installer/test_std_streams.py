"""A windowed build starts without stdout/stderr; the app must still run and keep what is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WINDOWED = r"""
import faulthandler, os, sys
from pathlib import Path
os.close(1); os.close(2)  # what a windowed Windows build starts with
sys.stdout = sys.stderr = None
from app.std_streams import ensure_std_streams
ensure_std_streams(Path(sys.argv[1]))
faulthandler.enable()  # raises "sys.stderr is None" without a stream
from llama_cpp._utils import suppress_stdout_stderr
with suppress_stdout_stderr(disable=False):  # os.dup(1) and os.dup(2): EBADF on closed descriptors
    print("hidden by llama-cpp-python")
print("print line")
sys.stderr.write("stderr line\n")
os.write(2, b"native line\n")
"""


def test_missing_streams_go_to_the_log_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-c", WINDOWED, str(tmp_path)], cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "console.log").read_text(encoding="utf-8")
    assert "print line" in log and "stderr line" in log and "native line" in log
    assert "hidden" not in log


def test_present_streams_are_left_alone(tmp_path):
    from app.std_streams import ensure_std_streams

    before = sys.stdout, sys.stderr
    assert ensure_std_streams(tmp_path) is None
    assert (sys.stdout, sys.stderr) == before and not (tmp_path / "console.log").exists()
