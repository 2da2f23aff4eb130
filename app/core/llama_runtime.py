"""Process-wide llama.cpp setup: backend init and log capture.

llama.cpp writes its log through one process-wide callback. We route it into Python
logging (so it lands in the app's log file, never on a console a windowed build does
not have) and keep the last lines, because a failed load only returns NULL: the
reason is in the log.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading

import llama_cpp

log = logging.getLogger("llama.cpp")

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the last line).
_LEVELS = {0: logging.CRITICAL, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_lock = threading.Lock()
_recent: collections.deque[str] = collections.deque(maxlen=400)
_partial: list[str] = []
_last_level = logging.DEBUG
_initialised = False
_count = [0]  # lines ever captured, so marks stay valid as old lines drop off


@llama_cpp.llama_log_callback
def _on_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    global _last_level
    piece = text.decode("utf-8", errors="replace") if text else ""
    with _lock:
        # Level 5 continues the previous line (progress dots and the like).
        py_level = _last_level if level == 5 else _LEVELS.get(level, logging.DEBUG)
        _last_level = py_level
        _partial.append(piece)
        if not piece.endswith("\n"):
            return
        line = "".join(_partial).rstrip("\n")
        _partial.clear()
        _append(line)
    log.log(py_level, "%s", line)


def ensure_initialised() -> None:
    """Initialise the llama.cpp backend once and take over its log."""
    global _initialised
    with _lock:
        if _initialised:
            return
        _initialised = True
    llama_cpp.llama_log_set(_on_log, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()


def log_mark() -> int:
    """A position in the captured log; pass it to `lines_since`."""
    with _lock:
        return _count[0]


def lines_since(mark: int) -> list[str]:
    """Log lines written after `mark` (at most the last few hundred)."""
    with _lock:
        if _partial:  # a line with no newline yet may still hold the reason
            _append("".join(_partial))
            _partial.clear()
        n = min(_count[0] - mark, len(_recent))
        return list(_recent)[len(_recent) - n :] if n > 0 else []


def _append(line: str) -> None:
    _recent.append(line)
    _count[0] += 1


def cpu_has_amx() -> bool:
    """True on CPUs with Intel AMX (Xeon Sapphire Rapids and later).

    ggml's AMX weight repacking crashes in llama_decode on some of these machines
    (seen under a VM that advertises AMX), so the engine keeps weights in plain CPU
    buffers there unless asked otherwise.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "amx_int8" in line.split() or "amx_tile" in line.split()
    except OSError:
        pass
    return False
