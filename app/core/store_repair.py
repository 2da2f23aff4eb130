"""The history file at start: is it whole, and if not, what can still be read from it.

A damaged file is never written to again: it is renamed aside, with its -wal and -shm,
as a backup the person keeps, and what SQLite can still read is copied row by row into
a fresh file with the current schema (the sqlite3 shell's `.recover` is not reachable
from Python). Whatever cannot be read is skipped; the copy never stops at the first
bad page.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.store import Store, StoreError
from app.core.store_check import open_read_only

log = logging.getLogger(__name__)

RECOVER_SECONDS = 300.0  # a recovery that would take longer keeps what it has copied so far
MAX_READ_ERRORS = 100_000  # per table: each costs at most ~130 probes, so this bounds the work too
TABLES = ("threads", "messages", "extractions", "attachments")
_AFTER_START = -(2**63)  # below every rowid
_LAST_ROWID = 2**63 - 1
LOST_EXTRACTION = "The text read from this file was lost when the history file was damaged."


def backup_path(path: Path, now: float | None = None) -> Path:
    """Where a damaged file goes: beside it, named with the local time (history.db.damaged-YYYYMMDD-HHMMSS)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while candidate.exists():  # two starts in one second: never overwrite an earlier backup
        n += 1
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    return candidate


def set_aside(path: Path, backup: Path) -> Path:
    """Rename the file and its -wal/-shm to `backup` (+ the same suffixes), unchanged.

    The WAL keeps its pairing by name, so the backup opens with its newest commits.
    """
    path, backup = Path(path), Path(backup)
    try:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, f"{backup}{suffix}")
    except OSError as exc:
        raise StoreError(
            f"Ponder's history file {path} is damaged, and it could not be moved aside ({exc.strerror or exc}). "
            f"Move it to another folder yourself, then start Ponder again."
        ) from exc
    log.warning("damaged history file kept as %s", backup)
    return backup


@dataclass(frozen=True, slots=True)
class Recovery:
    threads: int
    messages: int
    attachments: int
    unreadable: int  # rows or pages that could not be read (a lower bound on what was lost)
    stopped_early: bool = False  # ran out of time

    def summary(self, backup: Path) -> str:
        """What happened, for the person: counts, whether anything was lost, where the backup is."""
        found = (f"Ponder recovered {self.threads:,} thread{'s' * (self.threads != 1)} with "
                 f"{self.messages:,} message{'s' * (self.messages != 1)} from the damaged history file.")
        if self.stopped_early:
            lost = " Recovery took too long and stopped early, so some conversations may be missing."
        elif self.unreadable:
            lost = " Some parts could not be read, so some messages or whole conversations may be missing."
        else:
            lost = ""
        return f"{found}{lost} The damaged file is kept unchanged as {backup}."


def recover_history(damaged: Path, path: Path, seconds: float = RECOVER_SECONDS) -> Recovery:
    """Copy what can be read from `damaged` (opened read-only) into a new history file at `path`.

    The copy is built under a temporary name and renamed into place when complete, so a
    crash halfway leaves no half-recovered file to be taken for a whole one.
    StoreError when the new file cannot be written (nothing is then left at `path`).
    """
    damaged, path = Path(damaged), Path(path)
    partial = path.with_name(f"{path.name}.recovering")
    _remove(partial)
    try:
        Store(partial).close()  # the current schema, through the ordinary migrations
        dest = sqlite3.connect(partial, isolation_level=None)
        try:
            dest.execute("PRAGMA foreign_keys=OFF")  # rows arrive in any order; references are fixed after
            dest.execute("BEGIN IMMEDIATE")
            unreadable, stopped = _copy_tables(damaged, dest, _Deadline(seconds))
            _repair_references(dest)
            dest.execute("COMMIT")
            counts = {t: dest.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to rename; Store turns WAL back on
        finally:
            dest.close()
        os.replace(partial, path)
    except (sqlite3.Error, OSError, StoreError) as exc:
        _remove(partial)
        raise StoreError(
            f"Ponder could not write a recovered history file ({exc}). "
            f"It starts with an empty history; the damaged file is kept as {damaged}."
        ) from exc
    result = Recovery(counts["threads"], counts["messages"], counts["attachments"], unreadable, stopped)
    log.warning("history recovered from %s: %s", damaged, result)
    return result


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class _Deadline:
    """SQLite's progress handler: interrupts the damaged file's reads once time is up."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = False

    def __call__(self) -> bool:
        self.passed = self.passed or time.monotonic() > self.at
        return self.passed


class _OutOfTime(Exception):
    pass


def _copy_tables(damaged: Path, dest: sqlite3.Connection, deadline: _Deadline) -> tuple[int, bool]:
    """Insert every readable row; returns (rows or pages that could not be read, stopped early)."""
    try:
        src = open_read_only(damaged)
        # Reads a file shorter than its header says (a truncated tail) instead of refusing
        # it whole; harmless on a read-only connection.
        src.execute("PRAGMA writable_schema=ON")
    except sqlite3.Error as exc:
        log.warning("damaged history file cannot be opened at all: %s", exc)
        return 1, False
    src.set_progress_handler(deadline, 1000)
    unreadable = 0
    try:
        try:
            present = {row[0] for row in src.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:  # the list of tables itself is unreadable
            log.warning("damaged history file has no readable schema: %s", exc)
            return 1, False
        for table in TABLES:
            if table not in present:
                continue
            columns = _common_columns(src, dest, table)
            names = ", ".join(c.name for c in columns)
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            reader = _RowReader(src, table, [c.name for c in columns], deadline)
            for row in reader.rows():
                values = _clean(columns, row)
                if values is None:
                    unreadable += 1
                    continue
                try:
                    dest.execute(insert, values)
                except sqlite3.IntegrityError:  # a CHECK or UNIQUE the garbled row breaks
                    unreadable += 1
            unreadable += reader.errors
    except _OutOfTime:
        log.warning("history recovery stopped at its time limit")
        return unreadable, True
    finally:
        src.close()
    return unreadable, False


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    type: str  # the current schema's declared type: TEXT, INTEGER or REAL
    not_null: bool


def _common_columns(src: sqlite3.Connection, dest: sqlite3.Connection, table: str) -> list[_Column]:
    try:
        have = {row[1] for row in src.execute(f"PRAGMA table_info({table})")}
    except sqlite3.DatabaseError:
        return []
    # (cid, name, type, notnull, default, pk), in the new file's order
    return [_Column(name, kind.upper(), bool(notnull or pk))
            for _cid, name, kind, notnull, _default, pk in dest.execute(f"PRAGMA table_info({table})")
            if name in have]


class _RowReader:
    """Rows of one table in rowid order, stepping over rows and pages that raise.

    A scan that meets a damaged page stops there; the next scan starts past it. Where
    the next readable rowid lies is found by seeking ever further ahead (a seek reads
    only the pages on its way down), then narrowing back so that few good rows are skipped.
    """

    def __init__(self, src: sqlite3.Connection, table: str, columns: list[str], deadline: _Deadline) -> None:
        self.src, self.table, self.deadline = src, table, deadline
        self.scan = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid"
        self.one = f"SELECT {', '.join(columns)} FROM {table} WHERE rowid = ?"
        self.errors = 0

    def rows(self) -> Iterator[tuple]:
        after = _AFTER_START
        while True:
            try:
                for row in self.src.execute(self.scan, (after,)):
                    after = row[0]
                    yield row[1:]
                return
            except sqlite3.DatabaseError:  # damage, or an I/O error of a failing disk
                self._check_time()
                self.errors += 1
                restart = self._past_damage(after) if self.errors <= MAX_READ_ERRORS else None
                if restart is None:
                    return
                # The row at the restart point may be whole: the error can come from the row
                # after it (sqlite3 steps one row ahead), and a seek "above" a rowid passes
                # through that rowid's page, where a lookup of the rowid itself does not.
                row = self._row(restart)
                if row is not None:
                    yield row
                after = restart

    def _row(self, rowid: int) -> tuple | None:
        try:
            return self.src.execute(self.one, (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            self._check_time()
            return None

    def _check_time(self) -> None:
        if self.deadline.passed:
            raise _OutOfTime

    def _first_after(self, after: int) -> int | None:
        """The first rowid above `after`, None when there is none; DatabaseError if its page is damaged."""
        sql = f"SELECT rowid FROM {self.table} WHERE rowid > ? ORDER BY rowid LIMIT 1"
        row = self.src.execute(sql, (after,)).fetchone()
        return None if row is None else row[0]

    def _reachable(self, after: int) -> bool:
        try:
            self._first_after(after)
            return True
        except sqlite3.DatabaseError:
            self._check_time()
            return False

    def _past_damage(self, after: int) -> int | None:
        """A rowid to scan on from: the next row if its page can be reached (the failure was
        in that row or the one after it), else the first rowid past the damaged pages."""
        try:
            return self._first_after(after)
        except sqlite3.DatabaseError:
            self._check_time()
        step, bad = 1, after
        while after + step < _LAST_ROWID:
            good = after + step
            if self._reachable(good):
                while good - bad > 1:  # narrow back towards the damage
                    mid = (bad + good) // 2
                    if self._reachable(mid):
                        good = mid
                    else:
                        bad = mid
                return good
            bad, step = good, step * 2
        return None


# A required text that arrives garbled is replaced by its plain default; for any other
# required column the row is skipped.
_FALLBACKS = {"title": "Recovered conversation", "settings": "{}", "meta": "{}", "tokens": "{}",
              "content": "", "reasoning": "", "reasoning_unfinished": 0}
_JSON_OBJECTS = {"settings": "{}", "meta": "{}", "tokens": "{}", "plan": None}


def _clean(columns: list[_Column], row: tuple) -> tuple | None:
    """The row with every value of its declared type; None when a required value is wrong."""
    values = []
    for column, value in zip(columns, row, strict=True):
        if value is not None and not _fits(column.type, value):
            value = None
        if value is None and column.not_null:
            if column.name not in _FALLBACKS:
                return None
            value = _FALLBACKS[column.name]
        if column.name in _JSON_OBJECTS and isinstance(value, str) and not _json_object(value):
            value = _JSON_OBJECTS[column.name]  # read back with json.loads, which must not fail
        values.append(value)
    return tuple(values)


def _fits(kind: str, value: object) -> bool:
    if kind == "TEXT":
        return isinstance(value, str)
    if kind == "INTEGER":
        return isinstance(value, int)
    if kind == "REAL":
        return isinstance(value, int | float) and math.isfinite(value)
    return True


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _repair_references(conn: sqlite3.Connection) -> None:
    """Make the copied rows one consistent tree per thread again where rows they point at were lost."""
    # Messages whose thread row was lost get a thread of their own.
    conn.execute(
        "INSERT INTO threads (id, title, created_at, updated_at)"
        " SELECT thread_id, 'Recovered conversation', min(created_at), max(updated_at) FROM messages"
        " WHERE thread_id NOT IN (SELECT id FROM threads) GROUP BY thread_id"
    )
    # A message whose parent was lost (or lies elsewhere) becomes a root of its thread. A
    # parent is always older, so a smaller id: this also rules out cycles from garbled ids.
    conn.execute(
        "UPDATE messages SET parent_id = NULL WHERE parent_id IS NOT NULL AND (parent_id >= id OR NOT EXISTS"
        " (SELECT 1 FROM messages p WHERE p.id = messages.parent_id AND p.thread_id = messages.thread_id))"
    )
    # Selections pointing at a lost or foreign message are cleared; then each parent
    # with children shows its newest one.
    conn.execute(
        "UPDATE messages SET selected_child_id = NULL WHERE selected_child_id IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM messages c WHERE c.id = messages.selected_child_id AND c.parent_id = messages.id)"
    )
    conn.execute(
        "UPDATE threads SET root_selected_id = NULL WHERE root_selected_id IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM messages m WHERE m.id = threads.root_selected_id AND m.thread_id = threads.id"
        " AND m.parent_id IS NULL)"
    )
    conn.execute(
        "UPDATE messages SET selected_child_id = (SELECT max(c.id) FROM messages c WHERE c.parent_id = messages.id)"
        " WHERE selected_child_id IS NULL"
    )
    conn.execute(
        "UPDATE threads SET root_selected_id = (SELECT max(m.id) FROM messages m WHERE m.thread_id = threads.id"
        " AND m.parent_id IS NULL) WHERE root_selected_id IS NULL"
    )
    conn.execute("DELETE FROM attachments WHERE message_id NOT IN (SELECT id FROM messages)")
    conn.execute(
        "UPDATE attachments SET extraction_id = NULL, error = coalesce(error, ?) WHERE extraction_id IS NOT NULL"
        " AND extraction_id NOT IN (SELECT id FROM extractions)",
        (LOST_EXTRACTION,),
    )
    # Anything still pointing nowhere goes, so the foreign keys hold once they are back on.
    for table, rowid, _parent, _fk in conn.execute("PRAGMA foreign_key_check").fetchall():
        conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
