"""Closing the window never waits on work that may not finish: a load or a reply stuck
inside a call keeps running on its own thread while the window closes and the history
is saved."""

from __future__ import annotations

import threading

from app.core.engine import LoadParams
from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import MainWindow
from app.ui.thread_exit import busy_threads


class _StuckStream(ScriptedEngine):
    """A reply that blocks inside the engine and ignores cancel until released."""

    def __init__(self, release: threading.Event, entered: threading.Event) -> None:
        super().__init__("<think>a</think>b")
        self.release, self.entered = release, entered

    def stream(self, messages, params=None, cancel=None, answer_now=None):
        self.entered.set()
        self.release.wait(60)
        return iter(())


def _window(qtbot, tmp_path, factory):
    store = Store(tmp_path / "chat.db")
    session = ChatSession.create(store, Settings(), factory)
    window = MainWindow(session)
    window.show()
    return store, session, window


def test_close_during_a_load_that_does_not_stop(qtbot, tmp_path):
    release, entered = threading.Event(), threading.Event()

    def stuck_load(path, load):
        entered.set()
        release.wait(60)  # a load that never looks at its progress callback
        return ScriptedEngine()

    store, session, window = _window(qtbot, tmp_path, stuck_load)
    session.models.load_model("/models/stuck.gguf")
    qtbot.waitUntil(entered.is_set)
    window.close()  # returns although the load is still running
    assert session.models.running and busy_threads()
    store.close()
    release.set()
    qtbot.waitUntil(lambda: not session.models.running, timeout=10000)
    assert busy_threads() == []


def test_close_during_a_reply_stuck_in_the_engine_keeps_the_question(qtbot, tmp_path):
    release, entered = threading.Event(), threading.Event()
    store, session, window = _window(qtbot, tmp_path, lambda p, l: _StuckStream(release, entered))
    with qtbot.waitSignal(session.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        session.models.load_model("/models/s.gguf")
    assert session.send("Will this hang?")
    qtbot.waitUntil(entered.is_set)
    window.close()
    assert session.models.running
    user, reply = store.path(session.thread_id)
    assert user.content == "Will this hang?" and reply.state == "cancelled"
    store.close()
    release.set()
    qtbot.waitUntil(lambda: not session.models.running, timeout=10000)


def test_a_load_under_way_is_told_to_stop_once_closing(qtbot):
    """llama.cpp's loader asks the progress callback after each tensor; once the window
    closes the answer is "stop"."""
    from app.core.errors import ModelLoadError
    from app.ui.models.generation_worker import GenerationWorker

    closing, answers = threading.Event(), []

    def loading(path, load):
        answers.append(load.progress(0.2))
        closing.set()
        answers.append(load.progress(0.3))
        raise ModelLoadError("The load was stopped.")

    worker = GenerationWorker(loading, closing)
    with qtbot.waitSignal(worker.model_failed):
        worker.load("/models/any.gguf", LoadParams())
    assert answers == [True, False]
