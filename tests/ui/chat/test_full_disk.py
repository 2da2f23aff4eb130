"""A disk that fills up while a reply streams: one readable notice, the reply stays on
screen and the app keeps working; saving resumes once there is room."""

from app.core.store import StoreError


def fill_up(store) -> None:
    # SQLite's own page cap gives the same SQLITE_FULL a full disk gives.
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")


def test_full_disk_while_streaming(make_app):
    app = make_app()
    app.script = "<think>" + "weigh it again " * 400 + "</think>" + "The answer is 42. " * 50
    app.load()
    app.ask("Warm up")  # the thread and its first rows exist
    fill_up(app.store)
    for engine in app.engines:
        engine.delay = 0.002  # long enough to cross the one-second save at least once
    notices = []
    app.session.notice.connect(notices.append)
    app.ask("Now think long")
    assert notices and "disk is full" in notices[0]
    assert len([n for n in notices if "history file" in n]) <= 2  # said once per failing save kind, not each second
    reply = app.window.chat.widgets[max(app.window.chat.widgets)]
    assert "The answer is 42." in reply.answer.toPlainText()  # still on screen
    # Room again: the next reply is saved as usual, and the one that could not be is
    # left for the next start to mark as interrupted.
    app.store._conn.execute("PRAGMA max_page_count = 1073741823")
    app.ask("And now?")
    path = app.store.path(app.session.thread_id)
    assert path[-1].state == "complete" and path[-1].content.startswith("The answer is 42.")
    assert path[-3].state == "streaming"
    assert app.store.mark_interrupted() == 1


def test_store_says_full_in_words(tmp_path):
    from app.core.store import Store

    with Store(tmp_path / "chat.db") as store:
        thread = store.create_thread("t").id
        msg = store.add_message(thread, None, "assistant", state="streaming").id
        fill_up(store)
        try:
            store.update_stream(msg, "", "x" * 100_000)
        except StoreError as exc:
            assert "disk is full" in exc.user_message and "Traceback" not in exc.user_message
        else:
            raise AssertionError("a full database accepted 100 kB")


def test_full_disk_before_sending_keeps_the_question(make_app):
    app = make_app()
    app.load()
    app.ask("First")
    fill_up(app.store)
    notices = []
    app.session.notice.connect(notices.append)
    app.window.composer.setPlainText("word " * 20000)  # bigger than the room left
    app.window.send_button.click()
    assert notices and "disk is full" in notices[-1]
    assert app.window.composer.toPlainText().startswith("word ")  # nothing lost
    assert not app.session.busy
