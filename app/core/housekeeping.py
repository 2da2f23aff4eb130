"""Tidying the history at start, off the window's thread: threads deleted in an earlier
session (their undo ended when that session quit) and extracted document text no
attachment refers to any more are removed for good."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from app.core.store import Store

log = logging.getLogger(__name__)


def tidy_history(db_path: Path, deleted_before: float) -> tuple[int, int]:
    """Purge threads deleted before `deleted_before` (a time.time()) and unused
    extractions, on this thread's own connection. Returns (threads, extractions)."""
    with Store(db_path, check=False) as store:
        threads = store.purge_deleted(older_than_seconds=max(0.0, time.time() - deleted_before))
        extractions = store.purge_unused_extractions()
    if threads or extractions:
        log.info("history tidied: %d deleted threads, %d unused document texts removed", threads, extractions)
    return threads, extractions


def tidy_in_background(db_path: Path) -> threading.Thread:
    """Start `tidy_history` for everything deleted before now; the app never waits for it
    (a daemon thread: SQLite rolls back a purge cut short by exit)."""
    started = time.time()

    def run() -> None:
        try:
            tidy_history(db_path, started)
        except Exception:  # housekeeping is never worth an error dialog
            log.exception("tidying the history failed")

    thread = threading.Thread(target=run, name="history-tidy", daemon=True)
    thread.start()
    return thread
