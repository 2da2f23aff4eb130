"""Give a windowed build somewhere to write.

A windowed PyInstaller build (and pythonw) starts with sys.stdout and sys.stderr set to
None and, on Windows, without file descriptors 1 and 2. print() then drops its text, but
sys.stderr.write(), faulthandler.enable() and llama-cpp-python's suppress_stdout_stderr
(which os.dup()s descriptors 1 and 2) fail. Both are pointed at a file in the log folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MAX_BYTES = 1_000_000  # start the file afresh past this, so it never grows without bound


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def ensure_std_streams(log_dir: Path) -> Path | None:
    """Replace missing streams with `log_dir/console.log`; returns that path, or None if all were there."""
    missing = [name for name in ("stdout", "stderr") if getattr(sys, name) is None]
    closed = [fd for fd in (1, 2) if not _fd_open(fd)]
    if not missing and not closed:
        return None
    path = Path(log_dir) / "console.log"
    mode = "a" if path.exists() and path.stat().st_size < MAX_BYTES else "w"
    stream = open(path, mode, encoding="utf-8", errors="replace", buffering=1)  # noqa: SIM115 (lives as long as the process)
    for fd in closed:
        os.dup2(stream.fileno(), fd)  # native code (llama.cpp's fprintf) writes here too
    for name in missing:
        setattr(sys, name, stream)
    return path
