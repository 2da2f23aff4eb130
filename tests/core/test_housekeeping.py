"""Start-up tidying: what earlier sessions deleted goes for good, nothing else does."""

from __future__ import annotations

from app.core.housekeeping import tidy_history, tidy_in_background
from app.core.store import Store


def test_threads_deleted_earlier_and_unused_text_are_purged(tmp_path):
    db = tmp_path / "chat.db"
    now = [1000.0]
    with Store(db, clock=lambda: now[0]) as store:
        kept, old, recent = (store.create_thread(t).id for t in ("kept", "old", "recent"))
        msg = store.add_message(kept, None, "user", "with a document")
        used = store.save_extraction("a" * 64, 1, "text", "used text", {})
        store.save_extraction("b" * 64, 1, "text", "orphaned text", {})
        store.add_attachment(msg.id, 0, "a.txt", 9, "text", used.id)
        store.delete_thread(old)  # at 1000: an earlier session
        now[0] = 2000.0
        store.delete_thread(recent)  # at 2000: this session, still undoable
    assert tidy_history(db, deleted_before=1500.0) == (1, 1)
    with Store(db) as store:
        assert store.get_thread(old) is None
        assert store.get_thread(recent) is not None and store.get_thread(kept) is not None
        assert store.find_extraction("a" * 64, 1) is not None and store.find_extraction("b" * 64, 1) is None


def test_tidying_in_the_background_never_raises(tmp_path):
    (tmp_path / "chat.db").write_bytes(b"not a database at all" * 100)
    thread = tidy_in_background(tmp_path / "chat.db")
    thread.join(10)
    assert not thread.is_alive()  # it failed, logged, and ended
