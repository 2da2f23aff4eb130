"""Ending worker threads when the window closes, without ever waiting forever.

A worker may be inside a call that cannot be interrupted at once (a model load, a
read from a stalled disk). Closing waits for it a bounded time; a thread still busy
after that is parked here (a QThread destroyed while running aborts the process) and
main.py ends the process without waiting for it once the window has closed and the
history is saved.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QThread

log = logging.getLogger(__name__)
CLOSE_WAIT_MS = 1500  # per thread; the window's close as a whole stays within about 2 s
_parked: list[QThread] = []


def end_thread(thread: QThread, timeout_ms: int = CLOSE_WAIT_MS) -> bool:
    """Ask `thread`'s event loop to end and wait at most `timeout_ms`. False (and the
    thread parked) if it was still busy."""
    if not thread.isRunning():
        return True
    thread.quit()
    if thread.wait(timeout_ms):
        return True
    log.warning("thread %s still busy after %d ms; the app will not wait for it", thread.objectName(), timeout_ms)
    if thread not in _parked:
        _parked.append(thread)
    return False


def busy_threads() -> list[QThread]:
    """Parked threads that are still running (they ended the process's right to wait)."""
    _parked[:] = [t for t in _parked if t.isRunning()]
    return list(_parked)
