"""Is the history file whole? A bounded, read-only PRAGMA quick_check.

Kept apart from store.py so that Store can refuse a damaged file when it opens one, and
the window can check before it opens anything (store_repair.py does the rest).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# quick_check reads every page once: 0.04 s for a 50 MB history (58,600 messages) in the
# OS cache. A file so large, or a disk so slow, that it takes longer is opened unchecked
# rather than keeping the window from showing.
CHECK_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class HistoryCheck:
    ok: bool
    problem: str = ""  # SQLite's own words, for the log and the dialog
    checked: bool = True  # False: too slow to finish, or locked; opened as it is


def check_history(path: Path, seconds: float = CHECK_SECONDS) -> HistoryCheck:
    """Run PRAGMA quick_check on the file, read-only, within `seconds`.

    Only damage counts as not ok: a locked file or one the check could not finish in
    time is reported as unchecked (Store's own open says what is wrong with it, if anything).
    """
    path = Path(path)
    if not path.exists():
        return HistoryCheck(ok=True)
    deadline = time.monotonic() + seconds
    try:
        conn = open_read_only(path)
    except sqlite3.OperationalError as exc:
        return HistoryCheck(ok=True, problem=str(exc), checked=False)
    try:
        # Called every 1,000 SQLite steps: returning True interrupts the check.
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        rows = [row[0] for row in conn.execute("PRAGMA quick_check(20)")]
    except sqlite3.OperationalError as exc:  # interrupted, busy, locked, I/O: not proven damaged
        log.warning("history check of %s did not finish: %s", path, exc)
        return HistoryCheck(ok=True, problem=str(exc), checked=False)
    except sqlite3.DatabaseError as exc:  # corrupt, or not a database at all
        return HistoryCheck(ok=False, problem=str(exc))
    finally:
        conn.close()
    if rows == ["ok"]:
        return HistoryCheck(ok=True)
    return HistoryCheck(ok=False, problem="; ".join(str(r) for r in rows[:3]))


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes the file. mode=ro reads a WAL left by a crash (and
    never checkpoints it into the file); with no WAL, immutable=1 also keeps SQLite from
    creating an empty -wal and -shm beside a file that may be about to be set aside."""
    path = Path(path)
    mode = "ro" if Path(f"{path}-wal").exists() else "ro&immutable=1"
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None)


