"""A damaged history file, on real SQLite files: found when opened, never written to,
set aside with its WAL, and what can still be read copied into a new file."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app import CLI_COMMANDS
from app.core.errors import AppError
from app.core.store import Store, StoreDamaged
from app.core.store_check import check_history
from app.core.store_repair import LOST_EXTRACTION, backup_path, recover_history, set_aside

REPO = Path(__file__).resolve().parents[2]
THREADS = 40
FILLER = "lorem ipsum " * 30  # ~360 bytes: several messages to a 4 KiB page, none overflowing


def content(t: int, i: int) -> str:
    return f"<thread {t:03d} message {i}> {FILLER}"


def build_history(db: Path) -> dict[int, str]:
    """THREADS threads of two question/answer pairs; returns message id -> content."""
    made = {}
    with Store(db) as store:
        for t in range(THREADS):
            thread = store.create_thread(f"thread {t}", settings={"temperature": 0.5})
            parent = None
            for i in range(4):
                role = "user" if i % 2 == 0 else "assistant"
                msg = store.add_message(thread.id, parent, role, content(t, i), reasoning=f"why {t}/{i}")
                made[msg.id] = msg.content
                parent = msg.id
    assert not Path(f"{db}-wal").exists()  # closed cleanly: one self-contained file to damage
    return made


def page_size(db: Path) -> int:
    return int.from_bytes(db.read_bytes()[16:18], "big")


def page_holding(db: Path, text: str) -> int:
    return db.read_bytes().index(text.encode()) // page_size(db)


def garble_pages(db: Path, first: int, count: int) -> None:
    size = page_size(db)
    with db.open("r+b") as fh:
        fh.seek(first * size)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(size * count)))


def truncate_last_pages(db: Path, count: int) -> None:
    with db.open("r+b") as fh:
        fh.truncate(db.stat().st_size - count * page_size(db))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quick_check(db: Path) -> list:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA quick_check").fetchall()
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "history.db"


def test_a_whole_file_passes_and_opens(db):
    build_history(db)
    assert check_history(db).ok
    with Store(db) as store:
        assert len(store.list_threads()) == THREADS


def test_damage_in_the_middle_is_refused_before_anything_is_written(db):
    made = build_history(db)
    garble_pages(db, page_holding(db, content(20, 0)), 2)
    before = digest(db)
    result = check_history(db)
    assert not result.ok and result.checked and "malformed" in result.problem
    with pytest.raises(StoreDamaged, match="is damaged") as info:
        Store(db)  # used to open, then fail (or crash the window) at the first read
    assert isinstance(info.value, AppError) and "recover" in info.value.user_message
    assert digest(db) == before and not Path(f"{db}-wal").exists()
    assert made  # (the file had content to lose)


def test_damaged_last_pages_are_refused_too(db):
    build_history(db)
    truncate_last_pages(db, 2)
    before = digest(db)
    assert not check_history(db).ok
    with pytest.raises(StoreDamaged):
        Store(db)  # used to open silently and go on writing into the damaged file
    assert digest(db) == before


def test_recovery_copies_every_readable_message_into_a_new_file(db, tmp_path):
    made = build_history(db)
    page = page_holding(db, content(20, 0))
    on_lost_page = rowids_on_leaf(db.read_bytes(), page, page_size(db))
    garble_pages(db, page, 1)
    damaged = db.read_bytes()
    backup = set_aside(db, backup_path(db))
    assert not db.exists() and backup.read_bytes() == damaged
    assert backup.name.startswith("history.db.damaged-")

    result = recover_history(backup, db)

    assert backup.read_bytes() == damaged  # the backup stays exactly as it was
    assert quick_check(db) == [("ok",)]
    with Store(db) as store:
        threads = store.list_threads()
        for thread in threads:
            path = store.path(thread.id)  # empty where every message of the thread was lost
            assert all(m.thread_id == thread.id for m in path) and all(m.parent_id is None for m in path[:1])
            assert all(b.parent_id == a.id for a, b in zip(path, path[1:]))  # one consistent branch
            assert thread.settings == {"temperature": 0.5}
    recovered = all_messages(db)
    assert all(made[i] == text for i, text in recovered.items())  # nothing garbled slips through
    assert content(20, 0) not in recovered.values() and len(on_lost_page) > 1
    assert set(recovered) == set(made) - on_lost_page  # everything else is back
    assert result.messages == len(recovered) and result.unreadable >= 1
    assert len(threads) == THREADS
    summary = result.summary(backup)
    assert f"{len(recovered):,} messages" in summary and "could not be read" in summary and str(backup) in summary


def rowids_on_leaf(data: bytes, page: int, size: int) -> set[int]:
    """The rowids a table leaf page holds (SQLite's file format, section 1.6)."""
    start = page * size
    assert data[start] == 0x0D, "not a table leaf page"
    cells = int.from_bytes(data[start + 3:start + 5], "big")
    rowids = set()
    for n in range(cells):
        at = start + int.from_bytes(data[start + 8 + 2 * n:start + 10 + 2 * n], "big")
        _payload, at = varint(data, at)
        rowid, _ = varint(data, at)
        rowids.add(rowid)
    return rowids


def varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def all_messages(db: Path) -> dict[int, str]:
    """Every message row, on the branch shown or not (a message whose parent was lost is a root of its own)."""
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT id, content FROM messages"))
    finally:
        conn.close()


def test_recovery_of_a_truncated_file_keeps_the_pages_before_the_cut(db):
    made = build_history(db)
    truncate_last_pages(db, 2)
    cut = db.stat().st_size
    kept = {i for i, text in made.items() if 0 <= db.read_bytes().find(text.encode()) < cut}
    backup = set_aside(db, backup_path(db))

    result = recover_history(backup, db)

    recovered = all_messages(db)
    assert set(recovered) >= kept and all(made[i] == text for i, text in recovered.items())
    assert result.messages == len(recovered)


def test_lost_rows_leave_a_consistent_tree(db, tmp_path):
    """Rows gone from the damaged file (here deleted by hand, as a bad page would lose them)
    leave no reference pointing nowhere in the copy."""
    with Store(db) as store:
        orphaned = store.create_thread("its thread row is lost")
        q = store.add_message(orphaned.id, None, "user", "question")
        store.add_message(orphaned.id, q.id, "assistant", "answer")
        branched = store.create_thread("its first question is lost")
        first = store.add_message(branched.id, None, "user", "first")
        reply = store.add_message(branched.id, first.id, "assistant", "reply to first")
        follow = store.add_message(branched.id, reply.id, "user", "follow-up")
        ext = store.save_extraction("ab" * 32, 1, "txt", "the text", {})
        store.add_attachment(follow.id, 0, "notes.txt", 8, "txt", extraction_id=ext.id)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM threads WHERE id = ?", (orphaned.id,))  # foreign keys are off here
    conn.execute("DELETE FROM messages WHERE id = ?", (first.id,))
    conn.execute("DELETE FROM extractions")
    conn.close()

    recover_history(db, tmp_path / "new.db")

    conn = sqlite3.connect(tmp_path / "new.db")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    with Store(tmp_path / "new.db") as store:
        titles = {t.id: t.title for t in store.list_threads()}
        assert titles[orphaned.id] == "Recovered conversation"
        assert [m.content for m in store.path(orphaned.id)] == ["question", "answer"]
        assert [m.content for m in store.path(branched.id)] == ["reply to first", "follow-up"]
        [attachment] = store.attachments(follow.id)
        assert attachment.extraction is None and attachment.error == LOST_EXTRACTION


def test_garbled_values_are_mended_or_skipped(db, tmp_path):
    with Store(db) as store:
        thread = store.create_thread("settings garbled")
        good = store.add_message(thread.id, None, "user", "kept")
        bad_text = store.add_message(thread.id, good.id, "assistant", "to be garbled")
        bad_role = store.add_message(thread.id, bad_text.id, "user", "role garbled")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("UPDATE threads SET settings = 'not json'")
    conn.execute("UPDATE messages SET content = x'00ff', think_seconds = 'slow' WHERE id = ?", (bad_text.id,))
    conn.execute("UPDATE messages SET role = 'robot' WHERE id = ?", (bad_role.id,))
    conn.close()

    result = recover_history(db, tmp_path / "new.db")

    assert result.unreadable == 1  # the row whose role no schema allows
    with Store(tmp_path / "new.db") as store:
        assert store.get_thread(thread.id).settings == {}
        mended = store.get_message(bad_text.id)
        assert mended.content == "" and mended.think_seconds is None and mended.reasoning == ""
        assert store.get_message(bad_role.id) is None
        assert [m.id for m in store.path(thread.id)] == [good.id, bad_text.id]


def test_a_file_that_is_not_a_database_recovers_to_an_empty_history(db, tmp_path):
    db.write_bytes(b"certainly not SQLite\n" * 500)
    assert not check_history(db).ok
    result = recover_history(db, tmp_path / "new.db")
    assert (result.threads, result.messages) == (0, 0) and result.unreadable
    with Store(tmp_path / "new.db") as store:
        assert store.list_threads() == []


def test_the_check_gives_up_at_its_time_limit_without_calling_the_file_damaged(db):
    build_history(db)
    result = check_history(db, seconds=-1)  # already past: interrupted at its first progress call
    assert result.ok and not result.checked


def test_a_file_in_use_by_another_connection_is_not_called_damaged(db):
    build_history(db)
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")  # WAL: readers still see the last commit
        result = check_history(db)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.ok


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from app.core.store import Store

    store = Store(Path(sys.argv[1]))
    for t in range(12):
        thread = store.create_thread(f"only in the WAL {t}")
        store.add_message(thread.id, None, "user", f"question {t}")
    print("written", flush=True)
    sys.stdin.readline()  # killed while waiting here: no checkpoint, no close
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_backup_takes_its_wal_along(db, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], cwd=REPO, env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "written\n", child.stderr.read() if child.poll() is not None else ""
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()
    wal = Path(f"{db}-wal").read_bytes()
    assert wal  # the threads exist only there

    backup = set_aside(db, backup_path(db))

    assert not any(Path(f"{db}{s}").exists() for s in ("", "-wal", "-shm"))
    assert Path(f"{backup}-wal").read_bytes() == wal
    result = recover_history(backup, tmp_path / "new.db")
    assert (result.threads, result.messages) == (12, 12)


def test_backups_never_overwrite_each_other(db):
    build_history(db)
    first = set_aside(db, backup_path(db, now=1_700_000_000))
    build_history(db)
    second = set_aside(db, backup_path(db, now=1_700_000_000))
    assert first != second and first.exists() and second.exists()


@pytest.mark.skipif("threads" not in CLI_COMMANDS, reason="no headless command opens the history")
def test_the_cli_says_the_history_is_damaged_in_one_line(app_home):
    db = app_home / "data" / "chat.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    build_history(db)
    garble_pages(db, page_holding(db, content(20, 0)), 2)
    before = digest(db)
    env = {**os.environ, "PONDER_HOME": str(app_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "app", "threads", "list"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: The history file") and "is damaged" in proc.stderr
    assert digest(db) == before
