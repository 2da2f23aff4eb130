"""Threads and their messages, kept in one SQLite file.

Messages form a tree per thread: editing a prompt or regenerating a reply adds a
sibling instead of overwriting, so every earlier branch stays switchable. Each parent
row remembers its selected child (the thread row remembers the selected root), and
`path` follows those selections to give the branch on screen.

A reply is saved while it streams (`update_stream`, one cheap UPDATE a second), so a
crash or kill loses at most the last second; `mark_interrupted` labels such leftovers
on the next start. WAL with synchronous=NORMAL keeps every commit through an app
crash (only an OS crash may lose the newest ones) at a fraction of FULL's cost.

The connection belongs to the thread that opened the store (sqlite3's default check).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.errors import AppError
from app.core.records import MessageState, StoredMessage, Thread  # noqa: F401 (re-exported)
from app.core.search_snippets import AFTER, BEFORE, Snippet, fold, make_snippet
from app.core.store_check import check_history
from app.core.store_documents import DocumentRecords, StoredAttachment, StoredExtraction  # noqa: F401 (re-exported)
from app.core.store_schema import MIGRATIONS
from app.core.types import Role

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_SAVES = 30

STATES = ("streaming", "complete", "cancelled", "interrupted", "error")
ROLES = ("user", "assistant", "system")

_KEEP = object()  # "argument not given", where None is a meaningful value


class StoreError(AppError):
    """The history database cannot be opened, upgraded or changed as asked."""


class StoreDamaged(StoreError):
    """The file failed its integrity check when opened; nothing was written to it."""

    def __init__(self, path: Path, problem: str) -> None:
        what = "is not a Ponder database, or it is damaged" if "not a database" in problem else "is damaged"
        super().__init__(
            f"The history file {path} {what} (SQLite reports: {problem}). Nothing was written to it. "
            f"Start the Ponder window to keep it as a backup and recover what can still be read, "
            f"or move it aside and Ponder will start a new one.",
            problem=problem,
        )


def _thread(row: sqlite3.Row) -> Thread:
    data = {name: row[name] for name in Thread.__slots__}
    return Thread(**{**data, "settings": json.loads(data["settings"])})


def _message(row: sqlite3.Row) -> StoredMessage:
    data = {name: row[name] for name in StoredMessage.__slots__}
    expanded = data["reasoning_expanded"]  # SQLite has no booleans
    data.update(reasoning_unfinished=bool(data["reasoning_unfinished"]),
                reasoning_expanded=None if expanded is None else bool(expanded))
    return StoredMessage(**data)


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Store(DocumentRecords):
    def __init__(self, path: Path, clock: Callable[[], float] = time.time, *, check: bool = True) -> None:
        """Open (or create) the history file. With `check`, a damaged file is refused with
        StoreDamaged before anything touches it (a read-only quick_check; 0.04 s for 50 MB)."""
        self.db_path = Path(path)
        if check:
            result = check_history(self.db_path)
            if not result.ok:
                raise StoreDamaged(self.db_path, result.problem)
        self._clock = clock
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_lock = threading.Lock()
        self._saves = 0
        # isolation_level=None: no implicit transactions; multi-step changes use _tx().
        try:
            self._conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=5.0)
        except sqlite3.Error as exc:
            raise StoreError(f"Ponder could not open its history file {self.db_path}: {exc}.") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        try:
            # Read the version before changing anything: a newer file is left untouched.
            version = self._version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"The history file {self.db_path} is not a Ponder database, or it is damaged. "
                f"Move it aside and Ponder will start a new one."
            ) from exc
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The history file {self.db_path} was saved by a newer version of Ponder "
                f"(format {version}; this version knows up to {len(MIGRATIONS)}). "
                f"Update Ponder to open it."
            )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Copying the WAL back into the database (a checkpoint) is the one step that waits
        # for the disk; SQLite would do it inside whichever commit crosses 1,000 pages, which
        # is a streaming save on the GUI thread. It runs on a helper thread instead.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn.execute("PRAGMA foreign_keys=ON")  # per connection, and outside transactions
        self._migrate()

    def _version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        for target in range(self._version() + 1, len(MIGRATIONS) + 1):
            # One transaction per step, with the version bump inside it: a failed step
            # leaves the file exactly as the previous step did.
            script = f"BEGIN IMMEDIATE;\n{MIGRATIONS[target - 1]};\nPRAGMA user_version = {target};\nCOMMIT;"
            try:
                self._conn.executescript(script)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.rollback()
                if self._version() >= target:
                    continue  # another Ponder process ran this step meanwhile
                raise StoreError(f"Ponder could not upgrade its history file {self.db_path}: {exc}.") from exc

    def close(self) -> None:
        self.wait_checkpoint()
        self._conn.close()

    @contextmanager
    def _saving(self) -> Iterator[None]:
        """A write that may meet a full or read-only disk: say so in words, keep the app going."""
        try:
            yield
        except sqlite3.Error as exc:
            text = str(exc).lower()
            if "full" in text:
                why = "the disk is full"
            elif "readonly" in text or "read-only" in text:
                why = "the history file is read-only"
            elif "locked" in text or "busy" in text:
                why = "another program is using the history file"
            else:
                why = str(exc)
            raise StoreError(f"Ponder could not save to its history file ({why}). What is on screen "
                             f"stays; free some space (or close the other program) and try again.") from exc

    def checkpoint_soon(self) -> None:
        """Checkpoint the WAL on a helper thread with its own connection (never blocks the caller)."""
        with self._checkpoint_lock:
            if self._checkpointer is not None and self._checkpointer.is_alive():
                return
            self._checkpointer = threading.Thread(target=self._checkpoint, name="store-checkpoint")
            self._checkpointer.start()

    def wait_checkpoint(self) -> None:
        with self._checkpoint_lock:
            thread = self._checkpointer
        if thread is not None:
            thread.join()

    def _checkpoint(self) -> None:
        try:
            conn = sqlite3.connect(self.db_path, timeout=5.0)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error:  # a busy or vanished file: the next checkpoint catches up
            log.warning("WAL checkpoint failed", exc_info=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a read-then-write step cannot
        # fail halfway on a lock held by another process.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.rollback()
            raise
        self._conn.execute("COMMIT")

    # --- threads ---------------------------------------------------------------

    def create_thread(self, title: str = "New thread", system_prompt: str | None = None,
                      settings: dict | None = None) -> Thread:
        now = self._clock()
        with self._saving():
            cur = self._conn.execute(
                "INSERT INTO threads (title, system_prompt, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (title, system_prompt, json.dumps(settings or {}), now, now),
            )
        return self.get_thread(cur.lastrowid)

    def get_thread(self, thread_id: int) -> Thread | None:
        """The thread, deleted or not (None if purged or never made)."""
        row = self._conn.execute("SELECT * FROM threads WHERE id = ?", (thread_id,)).fetchone()
        return None if row is None else _thread(row)

    def _change_thread(self, thread_id: int, sql: str, *args: object) -> None:
        if self._conn.execute(sql, (*args, thread_id)).rowcount == 0:
            raise StoreError("That thread no longer exists.")

    # Renaming or retuning a thread does not bump updated_at: the list would jump.
    def rename_thread(self, thread_id: int, title: str) -> None:
        self._change_thread(thread_id, "UPDATE threads SET title = ? WHERE id = ?", title)

    def update_thread_settings(self, thread_id: int, system_prompt: str | None | object = _KEEP,
                               settings: dict | None | object = _KEEP) -> None:
        """Change what is given; system_prompt=None clears it, settings=None empties them."""
        if system_prompt is not _KEEP:
            self._change_thread(thread_id, "UPDATE threads SET system_prompt = ? WHERE id = ?", system_prompt)
        if settings is not _KEEP:
            self._change_thread(thread_id, "UPDATE threads SET settings = ? WHERE id = ?", json.dumps(settings or {}))

    def delete_thread(self, thread_id: int) -> None:
        """Hide the thread; `restore_thread` undoes this until `purge_deleted` runs."""
        self._change_thread(thread_id, "UPDATE threads SET deleted_at = ? WHERE id = ?", self._clock())

    def restore_thread(self, thread_id: int) -> None:
        self._change_thread(thread_id, "UPDATE threads SET deleted_at = NULL WHERE id = ?")

    def purge_deleted(self, older_than_seconds: float = 0) -> int:
        """Really delete threads hidden at least that long (messages go by cascade)."""
        cutoff = self._clock() - older_than_seconds
        return self._conn.execute(
            "DELETE FROM threads WHERE deleted_at IS NOT NULL AND deleted_at <= ?", (cutoff,)
        ).rowcount

    def list_threads(self, search: str | None = None) -> list[Thread]:
        """Threads not deleted, newest activity first; `search` matches title, answers and thinking."""
        sql = "SELECT * FROM threads t WHERE deleted_at IS NULL"
        args: dict = {}
        if search:
            # LIKE folds ASCII case only, but runs in C over every message; fine for one person's history.
            sql += (
                " AND (t.title LIKE :p ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id"
                " AND (m.content LIKE :p ESCAPE '\\' OR m.reasoning LIKE :p ESCAPE '\\')))"
            )
            args = {"p": _like_pattern(search)}
        rows = self._conn.execute(sql + " ORDER BY t.updated_at DESC, t.id DESC", args).fetchall()
        return [_thread(r) for r in rows]

    def search_snippets(self, search: str) -> dict[int, Snippet]:
        """Thread id -> a one-line snippet around the first match of `search`, for each thread
        `list_threads(search)` finds by a message but not by its title: from its oldest
        matching message, the answer (or question) before the thinking. Only the snippet's
        characters leave SQLite, however long the message."""
        query = search.strip()
        if not query:
            return {}
        before = BEFORE + 16  # room to start the snippet at a word
        span = before + len(query) + AFTER + 16
        rows = self._conn.execute(
            "WITH hit AS (SELECT MIN(m.id) AS id FROM messages m JOIN threads t ON t.id = m.thread_id"
            " WHERE t.deleted_at IS NULL AND t.title NOT LIKE :p ESCAPE '\\'"
            " AND (m.content LIKE :p ESCAPE '\\' OR m.reasoning LIKE :p ESCAPE '\\') GROUP BY m.thread_id),"
            " body AS (SELECT m.thread_id, CASE WHEN m.content LIKE :p ESCAPE '\\' THEN m.content"
            " ELSE m.reasoning END AS text FROM hit JOIN messages m ON m.id = hit.id),"
            " found AS (SELECT thread_id, text, max(1, instr(lower(text), :q) - :before) AS first FROM body)"
            " SELECT thread_id, substr(text, first, :span), first > 1, first - 1 + :span < length(text) FROM found",
            {"p": _like_pattern(query), "q": fold(query), "before": before, "span": span},
        ).fetchall()
        return {r[0]: make_snippet(r[1], query, bool(r[2]), bool(r[3])) for r in rows}

    # --- messages --------------------------------------------------------------

    def get_message(self, message_id: int) -> StoredMessage | None:
        row = self._conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else _message(row)

    def _select(self, conn: sqlite3.Connection, thread_id: int, parent_id: int | None, child_id: int | None) -> None:
        if parent_id is None:
            conn.execute("UPDATE threads SET root_selected_id = ? WHERE id = ?", (child_id, thread_id))
        else:
            conn.execute("UPDATE messages SET selected_child_id = ? WHERE id = ?", (child_id, parent_id))

    def add_message(self, thread_id: int, parent_id: int | None, role: Role, content: str = "",
                    reasoning: str = "", state: MessageState = "complete") -> StoredMessage:
        """Append a message under `parent_id` (None: a root) and make it the selected branch."""
        if role not in ROLES or state not in STATES:
            raise ValueError(f"bad role {role!r} or state {state!r}")
        now = self._clock()
        with self._saving(), self._tx() as conn:
            if conn.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is None:
                raise StoreError("That thread no longer exists.")
            if parent_id is not None and conn.execute(
                "SELECT 1 FROM messages WHERE id = ? AND thread_id = ?", (parent_id, thread_id)
            ).fetchone() is None:
                raise StoreError("The message being answered no longer exists.")
            cur = conn.execute(
                "INSERT INTO messages (thread_id, parent_id, role, content, reasoning, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (thread_id, parent_id, role, content, reasoning, state, now, now),
            )
            self._select(conn, thread_id, parent_id, cur.lastrowid)
            conn.execute("UPDATE threads SET updated_at = ? WHERE id = ?", (now, thread_id))
        return self.get_message(cur.lastrowid)

    def update_stream(self, message_id: int, content: str, reasoning: str) -> None:
        """Save a streaming reply's text so far. Ignored once the message is finished,
        so a late tick cannot overwrite the final text. StoreError if the disk refuses."""
        with self._saving():
            self._conn.execute(
                "UPDATE messages SET content = ?, reasoning = ?, updated_at = ? WHERE id = ? AND state = 'streaming'",
                (content, reasoning, self._clock(), message_id),
            )
        self._saves += 1
        if self._saves % CHECKPOINT_EVERY_SAVES == 0:  # a long reply keeps the WAL short too
            self.checkpoint_soon()

    def finish_message(self, message_id: int, *, state: MessageState, content: str, reasoning: str,
                       error: str | None = None, think_seconds: float | None = None,
                       answer_seconds: float | None = None, prompt_tokens: int | None = None,
                       generated_tokens: int | None = None, finish_reason: str | None = None,
                       reasoning_unfinished: bool = False, reasoning_tokens: int | None = None,
                       thinking_end: str | None = None, think_budget: int | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"bad state {state!r}")
        with self._saving():
            cur = self._conn.execute(
                "UPDATE messages SET state = ?, content = ?, reasoning = ?, error = ?, think_seconds = ?,"
                " answer_seconds = ?, prompt_tokens = ?, generated_tokens = ?, finish_reason = ?,"
                " reasoning_unfinished = ?, reasoning_tokens = ?, thinking_end = ?, think_budget = ?,"
                " updated_at = ? WHERE id = ?",
                (state, content, reasoning, error, think_seconds, answer_seconds, prompt_tokens, generated_tokens,
                 finish_reason, int(reasoning_unfinished), reasoning_tokens, thinking_end, think_budget,
                 self._clock(), message_id),
            )
        if cur.rowcount == 0:
            raise StoreError("That message no longer exists.")
        self.checkpoint_soon()

    def set_reasoning_expanded(self, message_id: int, expanded: bool) -> None:
        self._conn.execute("UPDATE messages SET reasoning_expanded = ? WHERE id = ?", (int(expanded), message_id))

    def path(self, thread_id: int) -> list[StoredMessage]:
        """The branch on screen: from the selected root down through each selected child."""
        rows = self._conn.execute(
            "WITH RECURSIVE p(id, depth) AS ("
            " SELECT root_selected_id, 0 FROM threads WHERE id = ? AND root_selected_id IS NOT NULL"
            " UNION ALL SELECT m.selected_child_id, p.depth + 1 FROM messages m JOIN p ON m.id = p.id"
            " WHERE m.selected_child_id IS NOT NULL)"
            " SELECT m.* FROM p JOIN messages m ON m.id = p.id ORDER BY p.depth",
            (thread_id,),
        ).fetchall()
        return [_message(r) for r in rows]

    def siblings(self, message_id: int) -> list[StoredMessage]:
        """The message and its alternatives (same parent), oldest first."""
        rows = self._conn.execute(
            "SELECT s.* FROM messages m JOIN messages s ON s.thread_id = m.thread_id AND s.parent_id IS m.parent_id"
            " WHERE m.id = ? ORDER BY s.id",
            (message_id,),
        ).fetchall()
        return [_message(r) for r in rows]

    def sibling_positions(self, thread_id: int) -> dict[int, tuple[int, int]]:
        """Message id -> (1-based place among its siblings, how many), for a whole thread
        in one query (the conversation view shows "2 / 3" on branched messages)."""
        rows = self._conn.execute(
            "SELECT id, ROW_NUMBER() OVER w, COUNT(*) OVER (PARTITION BY parent_id) FROM messages"
            " WHERE thread_id = ? WINDOW w AS (PARTITION BY parent_id ORDER BY id)",
            (thread_id,),
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def select(self, message_id: int) -> None:
        """Switch branch: make this message the one its parent shows."""
        msg = self.get_message(message_id)
        if msg is None:
            raise StoreError("That message no longer exists.")
        self._select(self._conn, msg.thread_id, msg.parent_id, message_id)

    def delete_message(self, message_id: int) -> None:
        """Delete the message and everything under it; its parent then shows the nearest
        remaining sibling (the previous one if any), or nothing."""
        msg = self.get_message(message_id)
        if msg is None:
            return
        with self._tx() as conn:
            # One statement for the whole subtree: parent_id has no cascade (see schema).
            conn.execute(
                "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT m.id FROM messages m JOIN sub"
                " ON m.parent_id = sub.id) DELETE FROM messages WHERE id IN sub",
                (message_id,),
            )
            # ON DELETE SET NULL cleared the selection if it pointed at the deleted message.
            if msg.parent_id is None:
                selected = conn.execute("SELECT root_selected_id FROM threads WHERE id = ?", (msg.thread_id,))
            else:
                selected = conn.execute("SELECT selected_child_id FROM messages WHERE id = ?", (msg.parent_id,))
            if selected.fetchone()[0] is None:
                row = conn.execute(
                    "SELECT id FROM messages WHERE thread_id = ? AND parent_id IS ? ORDER BY id > ?, abs(id - ?)",
                    (msg.thread_id, msg.parent_id, message_id, message_id),
                ).fetchone()
                self._select(conn, msg.thread_id, msg.parent_id, None if row is None else row[0])

    def mark_interrupted(self) -> int:
        """On startup: replies left "streaming" were cut off by a crash or kill; their
        saved partial text stays. Returns how many were marked."""
        return self._conn.execute(
            "UPDATE messages SET state = 'interrupted', updated_at = ? WHERE state = 'streaming'", (self._clock(),)
        ).rowcount
