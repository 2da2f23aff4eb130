"""The window and `ask --thread` build the same prompt for the same thread and question."""

from __future__ import annotations

import shutil

from app import cli, paths
from app.core.store import Store
from tests.cli.recording_engine import RecordingEngine


def test_the_window_and_ask_thread_send_identical_messages(make_app, tmp_path, monkeypatch):
    """The same thread and question give the model the same messages from the window
    and from `ask --thread`: a thread system prompt, an earlier document turn, history."""
    app = make_app()  # its store is a file under tmp_path; the CLI opens a copy of it
    app.load()
    app.ask("First question")
    thread_id = app.session.thread_id
    app.session.set_thread_settings(thread_id, "Answer like a pirate.", {"temperature": 0.2})
    notes = tmp_path / "notes.txt"
    notes.write_text("The harbour opens at dawn. " * 20, encoding="utf-8")
    app.window.documents.add_paths([str(notes)])
    app.qtbot.waitUntil(lambda: app.window.documents.pending[0].state == "ready", timeout=20000)
    with app.qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=20000):
        app.window._send("When does the harbour open?")
    app.store.wait_checkpoint()
    shutil.copy(app.store.db_path, tmp_path / "copy.db")
    app.ask("And when does it close?")
    window_sent = app.engines[-1].requests[-1]

    # The copy holds the thread as it was before that last question.
    shutil.copy(tmp_path / "copy.db", paths.history_path())
    monkeypatch.setattr(cli, "LlamaEngine", RecordingEngine)
    RecordingEngine.made.clear()
    assert cli.main(["ask", "--model", "m.gguf", "--thread", str(thread_id), "And when does it close?"]) == 0
    cli_sent = RecordingEngine.made[-1].requests[-1]
    assert cli_sent == window_sent
    assert cli_sent[0].content.startswith("Answer like a pirate.")
    assert any("harbour opens at dawn" in m.content for m in cli_sent)
    assert RecordingEngine.made[-1].params[-1].temperature == 0.2  # the thread's own value
    with Store(paths.history_path()) as store:  # the reply went into that thread
        assert [m.content for m in store.path(thread_id)][-2:] == ["And when does it close?", "Sure."]
