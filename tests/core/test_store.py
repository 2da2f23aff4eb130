"""Tests for the SQLite thread/message store, on real files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.core import store as store_module
from app.core.errors import AppError
from app.core.store import MIGRATIONS, Store, StoreError

REPO = Path(__file__).resolve().parents[2]


class Clock:
    """A clock the test moves by hand, so ordering never depends on timer resolution."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(db):
    s = Store(db, clock=Clock())
    yield s
    s.close()


def raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def user_version(db: Path) -> int:
    conn = raw(db)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def chat(store: Store, thread_id: int, *turns: tuple[str, str]) -> list:
    """Add user/assistant pairs along the current branch; returns the new messages."""
    path = store.path(thread_id)
    parent = path[-1].id if path else None
    made = []
    for question, answer in turns:
        u = store.add_message(thread_id, parent, "user", question)
        a = store.add_message(thread_id, u.id, "assistant", answer, reasoning=f"thinking about {question}")
        made += [u, a]
        parent = a.id
    return made


# --- opening and migrations -----------------------------------------------------


def test_new_file_runs_all_migrations_and_uses_wal(db):
    with Store(db) as s:
        s.create_thread("hello")
    assert db.exists()
    assert user_version(db) == len(MIGRATIONS) >= 1
    conn = raw(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # WAL is stored in the file
    finally:
        conn.close()


def test_reopen_keeps_data_and_version(db):
    with Store(db) as s:
        t = s.create_thread("kept", system_prompt="be brief", settings={"temperature": 0.5})
    with Store(db) as s:
        again = s.get_thread(t.id)
    assert again == t
    assert again.settings == {"temperature": 0.5} and again.system_prompt == "be brief"
    assert user_version(db) == len(MIGRATIONS)


def test_reopen_runs_only_the_missing_migrations(db, monkeypatch):
    with Store(db) as s:
        t = s.create_thread("before upgrade")
    # IF NOT EXISTS: running it twice would not fail, only leave two rows.
    extra = "CREATE TABLE IF NOT EXISTS notes (body TEXT); INSERT INTO notes (body) VALUES ('ran');"
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    with Store(db) as s:
        assert s.get_thread(t.id).title == "before upgrade"
    with Store(db):  # a third open must not run the new step again
        pass
    assert user_version(db) == len(MIGRATIONS) + 1
    conn = raw(db)
    try:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("ran",)]
    finally:
        conn.close()


def test_failed_migration_rolls_back_and_raises(db, monkeypatch):
    with Store(db):
        pass
    broken = "CREATE TABLE half_done (x); THIS IS NOT SQL;"
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StoreError):
        Store(db)
    assert user_version(db) == len(MIGRATIONS)
    conn = raw(db)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert "half_done" not in tables and "threads" in tables


def test_newer_version_is_refused_and_left_untouched(db):
    with Store(db) as s:
        t = s.create_thread("from the future")
    conn = raw(db)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 3}")
    conn.close()
    with pytest.raises(StoreError, match="newer version") as info:
        Store(db)
    assert isinstance(info.value, AppError) and "Update Ponder" in info.value.user_message
    assert user_version(db) == len(MIGRATIONS) + 3
    conn = raw(db)
    try:
        assert conn.execute("SELECT title FROM threads WHERE id = ?", (t.id,)).fetchone() == ("from the future",)
    finally:
        conn.close()


def test_file_that_is_not_sqlite_is_refused(db):
    junk = b"this is a text file, certainly not a database\n" * 200
    db.write_bytes(junk)
    with pytest.raises(StoreError, match="not a Ponder database") as info:
        Store(db)
    assert isinstance(info.value, AppError)
    assert db.read_bytes() == junk  # nothing was written into it


def test_unopenable_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError):
        Store(tmp_path / "no such folder" / "history.sqlite3")


# --- threads --------------------------------------------------------------------


def test_thread_crud(store):
    t = store.create_thread()
    assert t.title == "New thread" and t.system_prompt is None and t.settings == {} and t.deleted_at is None
    store.rename_thread(t.id, "Prime numbers")
    store.update_thread_settings(t.id, system_prompt="Think step by step.")
    store.update_thread_settings(t.id, settings={"max_tokens": 2048, "nested": {"a": [1, 2]}})
    got = store.get_thread(t.id)
    assert got.title == "Prime numbers"
    assert got.system_prompt == "Think step by step."  # untouched by the settings-only call
    assert got.settings == {"max_tokens": 2048, "nested": {"a": [1, 2]}}
    store.update_thread_settings(t.id, system_prompt=None)
    assert store.get_thread(t.id).system_prompt is None
    assert store.get_thread(t.id).settings == {"max_tokens": 2048, "nested": {"a": [1, 2]}}
    assert store.get_thread(99999) is None
    with pytest.raises(StoreError):
        store.rename_thread(99999, "ghost")


def test_threads_newest_activity_first(store):
    a = store.create_thread("a")
    b = store.create_thread("b")
    c = store.create_thread("c")
    assert [t.title for t in store.list_threads()] == ["c", "b", "a"]
    store.add_message(a.id, None, "user", "bump a")
    assert [t.id for t in store.list_threads()] == [a.id, c.id, b.id]
    assert store.get_thread(a.id).updated_at > store.get_thread(c.id).updated_at


def test_search_title_content_and_reasoning(store):
    by_title = store.create_thread("Riemann Hypothesis")
    by_answer = store.create_thread("other")
    store.add_message(by_answer.id, None, "user", "what about the RIEMANN zeta?")
    by_thinking = store.create_thread("third")
    u = store.add_message(by_thinking.id, None, "user", "hi")
    store.add_message(by_thinking.id, u.id, "assistant", "hello", reasoning="maybe riemann was right")
    store.create_thread("unrelated")

    assert {t.id for t in store.list_threads("riemann")} == {by_title.id, by_answer.id, by_thinking.id}
    assert [t.id for t in store.list_threads("hypothesis")] == [by_title.id]
    assert [t.id for t in store.list_threads("was right")] == [by_thinking.id]
    assert store.list_threads("nowhere to be found") == []
    assert len(store.list_threads("")) == 4  # empty search lists everything


def test_search_treats_wildcards_literally(store):
    pct = store.create_thread("growth of 50% per year")
    under = store.create_thread("file_name.txt")
    store.create_thread("50 apples per year")  # would match '50%' if % were a wildcard
    store.create_thread("fileXname.txt")  # would match 'file_name' if _ were a wildcard
    slash = store.create_thread("path C:\\temp")
    body = store.create_thread("body")
    store.add_message(body.id, None, "user", "100% sure")
    assert [t.id for t in store.list_threads("50%")] == [pct.id]
    assert [t.id for t in store.list_threads("file_name")] == [under.id]
    assert [t.id for t in store.list_threads("%")] == [body.id, pct.id]
    assert [t.id for t in store.list_threads("_")] == [under.id]
    assert [t.id for t in store.list_threads("C:\\t")] == [slash.id]


def test_soft_delete_restore_and_purge(db):
    clock = Clock()
    with Store(db, clock=clock) as s:
        keep = s.create_thread("keep")
        gone = s.create_thread("gone")
        chat(s, gone.id, ("q1", "a1"), ("q2", "a2"))
        chat(s, keep.id, ("q", "a"))

        s.delete_thread(gone.id)
        assert [t.id for t in s.list_threads()] == [keep.id]
        assert s.list_threads("q1") == []  # deleted threads do not show up in search either
        assert s.get_thread(gone.id).deleted_at is not None
        assert len(s.path(gone.id)) == 4  # still all there for undo

        s.restore_thread(gone.id)
        assert {t.id for t in s.list_threads()} == {keep.id, gone.id}
        assert s.get_thread(gone.id).deleted_at is None

        s.delete_thread(gone.id)
        assert s.purge_deleted(older_than_seconds=3600) == 0  # too recent
        assert s.get_thread(gone.id) is not None
        clock.now += 7200
        assert s.purge_deleted(older_than_seconds=3600) == 1
        assert s.get_thread(gone.id) is None
        assert len(s.path(keep.id)) == 2

    conn = raw(db)
    try:  # the cascade really removed the rows (needs foreign_keys=ON)
        left = conn.execute("SELECT thread_id, COUNT(*) FROM messages GROUP BY thread_id").fetchall()
    finally:
        conn.close()
    assert left == [(keep.id, 2)]


# --- messages and branches ------------------------------------------------------


def test_add_message_defaults_and_finish(store):
    t = store.create_thread()
    u = store.add_message(t.id, None, "user", "Is 91 prime?")
    assert (u.parent_id, u.role, u.content, u.reasoning, u.state) == (None, "user", "Is 91 prime?", "", "complete")
    a = store.add_message(t.id, u.id, "assistant", state="streaming")
    assert a.state == "streaming" and a.reasoning_expanded is None and a.reasoning_unfinished is False
    store.finish_message(
        a.id, state="complete", content="No: 7 x 13.", reasoning="91 = 7 * 13", think_seconds=1.5,
        answer_seconds=0.25, prompt_tokens=12, generated_tokens=40, finish_reason="stop",
    )
    store.set_reasoning_expanded(a.id, True)
    done = store.path(t.id)[-1]
    assert (done.content, done.reasoning, done.state) == ("No: 7 x 13.", "91 = 7 * 13", "complete")
    assert (done.think_seconds, done.answer_seconds, done.prompt_tokens, done.generated_tokens) == (1.5, 0.25, 12, 40)
    assert done.finish_reason == "stop" and done.error is None and done.reasoning_expanded is True
    assert done.updated_at > done.created_at

    e = store.add_message(t.id, a.id, "user", "and 97?")
    r = store.add_message(t.id, e.id, "assistant", state="streaming")
    store.finish_message(r.id, state="error", content="", reasoning="97 is", error="out of memory",
                         finish_reason="error", reasoning_unfinished=True)
    store.set_reasoning_expanded(r.id, False)
    failed = store.get_message(r.id)
    assert failed.state == "error" and failed.error == "out of memory"
    assert failed.reasoning_unfinished is True and failed.reasoning_expanded is False

    with pytest.raises(ValueError):
        store.add_message(t.id, None, "robot", "hi")
    with pytest.raises(ValueError):
        store.finish_message(r.id, state="done", content="", reasoning="")
    with pytest.raises(StoreError):
        store.add_message(t.id, 99999, "user", "orphan")
    other = store.create_thread()
    with pytest.raises(StoreError):  # the parent must be in the same thread
        store.add_message(other.id, u.id, "user", "cross-thread")


def test_regenerate_makes_a_switchable_branch(store):
    t = store.create_thread()
    u1, a1, u2, a2 = chat(store, t.id, ("q1", "a1"), ("q2", "a2"))
    assert [m.id for m in store.path(t.id)] == [u1.id, a1.id, u2.id, a2.id]

    # Regenerate the first answer: a second assistant child of u1, now selected.
    b1 = store.add_message(t.id, u1.id, "assistant", "a1 again")
    assert [m.id for m in store.path(t.id)] == [u1.id, b1.id]
    assert [m.id for m in store.siblings(a1.id)] == [a1.id, b1.id]
    assert [m.id for m in store.siblings(b1.id)] == [a1.id, b1.id]
    v2 = store.add_message(t.id, b1.id, "user", "q2 on the new branch")
    assert [m.id for m in store.path(t.id)] == [u1.id, b1.id, v2.id]

    # Switching back shows the old branch in full, remembering its own selections.
    store.select(a1.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, a1.id, u2.id, a2.id]
    store.select(b1.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, b1.id, v2.id]

    # Edit-and-resend of the first prompt: a second root.
    e1 = store.add_message(t.id, None, "user", "q1 edited")
    assert [m.id for m in store.path(t.id)] == [e1.id]
    assert [m.id for m in store.siblings(u1.id)] == [u1.id, e1.id]
    store.select(u1.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, b1.id, v2.id]

    # Branches of one thread never leak into another.
    other = store.create_thread()
    o = store.add_message(other.id, None, "user", "elsewhere")
    assert [m.id for m in store.siblings(o.id)] == [o.id]
    assert [m.id for m in store.path(other.id)] == [o.id]


def test_delete_subtree_moves_selection_to_a_sibling(store):
    t = store.create_thread()
    u1, a1, u2, a2 = chat(store, t.id, ("q1", "a1"), ("q2", "a2"))
    b1 = store.add_message(t.id, u1.id, "assistant", "b1")
    c1 = store.add_message(t.id, u1.id, "assistant", "c1")
    d1 = store.add_message(t.id, u1.id, "assistant", "d1")
    assert [m.id for m in store.path(t.id)] == [u1.id, d1.id]

    # Deleting the selected last branch falls back to the nearest earlier one, c1.
    store.delete_message(d1.id)
    assert [m.id for m in store.siblings(a1.id)] == [a1.id, b1.id, c1.id]
    assert [m.id for m in store.path(t.id)] == [u1.id, c1.id]

    # Deleting an unselected sibling leaves the selection alone.
    store.delete_message(b1.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, c1.id]
    store.delete_message(c1.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, a1.id, u2.id, a2.id]  # a1 kept its own selections

    # Deleting a1 removes its whole subtree; u1 is left with no reply selected.
    store.delete_message(a1.id)
    for gone in (a1, u2, a2, b1, c1, d1):
        assert store.get_message(gone.id) is None
    assert [m.id for m in store.path(t.id)] == [u1.id]

    # With only later siblings left, the next one is chosen.
    x = store.add_message(t.id, u1.id, "assistant", "x")
    y = store.add_message(t.id, u1.id, "assistant", "y")
    store.select(x.id)
    store.delete_message(x.id)
    assert [m.id for m in store.path(t.id)] == [u1.id, y.id]

    # Deleting the only root empties the thread.
    store.delete_message(u1.id)
    assert store.path(t.id) == []
    assert store.get_message(y.id) is None
    store.delete_message(u1.id)  # already gone: nothing happens


def test_deleting_a_long_chain_and_purging_it(store):
    # Deeper than SQLite's trigger-depth limit (1000), which cascades would hit.
    t = store.create_thread()
    parent = None
    ids = []
    for i in range(1200):
        parent = store.add_message(t.id, parent, "user" if i % 2 == 0 else "assistant", f"m{i}").id
        ids.append(parent)
    assert [m.id for m in store.path(t.id)] == ids
    store.delete_message(ids[1])
    assert [m.id for m in store.path(t.id)] == ids[:1]
    for i in range(1200):
        parent = store.add_message(t.id, parent if i else ids[0], "user", f"n{i}").id
    store.delete_thread(t.id)
    assert store.purge_deleted() == 1
    assert store.path(t.id) == []


# --- streaming and crashes ------------------------------------------------------


def test_streaming_text_survives_reopen_and_is_marked_interrupted(db):
    s = Store(db, clock=Clock())
    t = s.create_thread()
    u = s.add_message(t.id, None, "user", "long question")
    a = s.add_message(t.id, u.id, "assistant", state="streaming")
    done = s.add_message(t.id, u.id, "assistant", "finished", state="streaming")
    s.finish_message(done.id, state="complete", content="finished", reasoning="r")
    s.update_stream(done.id, "late tick", "late tick")  # ignored: already finished
    s.update_stream(a.id, "The ans", "Let me think")
    s.update_stream(a.id, "The answer is", "Let me think about it")
    # Not closed: a second connection must already see the committed partial text.
    with Store(db) as other:
        seen = other.get_message(a.id)
        assert (seen.content, seen.reasoning, seen.state) == ("The answer is", "Let me think about it", "streaming")
    s.close()

    with Store(db) as s2:
        assert s2.get_message(done.id).content == "finished"
        assert s2.mark_interrupted() == 1
        got = s2.get_message(a.id)
        assert (got.content, got.reasoning, got.state) == ("The answer is", "Let me think about it", "interrupted")
        assert s2.get_message(done.id).state == "complete"
        assert s2.mark_interrupted() == 0


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from app.core.store import Store

    store = Store(Path(sys.argv[1]))
    t = store.create_thread("killed mid-stream")
    u = store.add_message(t.id, None, "user", "count for me")
    a = store.add_message(t.id, u.id, "assistant", state="streaming")
    answer, thinking = "", ""
    i = 0
    while True:
        answer += f"{i} "
        thinking += f"t{i} "
        store.update_stream(a.id, answer, thinking)
        if i == 3:
            print(t.id, a.id, flush=True)  # the parent kills us from here on
        i += 1
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_process_leaves_partial_text(db):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.poll() is not None else "no output"
        thread_id, message_id = map(int, line.split())
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    with Store(db) as s:
        msg = s.get_message(message_id)
        assert msg.state == "streaming" and msg.thread_id == thread_id
        numbers = msg.content.split()
        assert len(numbers) >= 4 and numbers == [str(i) for i in range(len(numbers))]
        thoughts = msg.reasoning.split()
        assert thoughts == [f"t{i}" for i in range(len(numbers))]  # one UPDATE writes both
        assert s.mark_interrupted() == 1
    with Store(db) as s:
        again = s.get_message(message_id)
        assert again.state == "interrupted" and again.content == msg.content and again.reasoning == msg.reasoning
        assert [m.id for m in s.path(thread_id)][-1] == message_id


def test_checkpoints_run_off_the_writing_thread(tmp_path):
    import sqlite3
    import threading

    store = Store(tmp_path / "chat.db")
    thread = store.create_thread("t").id
    msg = store.add_message(thread, None, "assistant", state="streaming").id
    assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    seen = []
    original = store._checkpoint
    store._checkpoint = lambda: (seen.append(threading.current_thread().name), original())[1]
    for i in range(70):  # a long reply saved once a second
        store.update_stream(msg, "", "thinking " * (200 * i))
    store.wait_checkpoint()
    assert seen and all(name == "store-checkpoint" for name in seen)
    store.finish_message(msg, state="complete", content="done", reasoning="thinking")
    store.wait_checkpoint()
    with sqlite3.connect(tmp_path / "chat.db") as other:
        busy, log_frames, checkpointed = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log_frames == checkpointed  # nothing was left to copy back
    store.close()
    with Store(tmp_path / "chat.db") as again:
        assert again.get_message(msg).content == "done"
