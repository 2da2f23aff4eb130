"""The window chatting through a real llama-server whose layers live on two RPC servers
on 127.0.0.1 (tests/llama_servers.py): the generation worker drives a RemoteEngine as it
drives a local model, and the thinking lands beside the answer."""

from __future__ import annotations

import pytest

from app.core.errors import AppError
from app.core.remote import RemoteEngine
from app.core.store import Store
from app.core.types import Message
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import MainWindow

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ,]{10,60} "</think>" [A-Z] [a-z ,]{5,40} "."'
WAIT_MS = 120_000


def test_the_window_chats_through_the_distributed_server(qtbot, tmp_path, llama_cluster):
    engines = []

    def remote(path, load):  # what the window's connections open: a RemoteEngine for the address
        engines.append(RemoteEngine(llama_cluster.url))
        return engines[-1]

    store = Store(tmp_path / "chat.db")
    session = ChatSession.create(store, Settings(), remote)
    window = MainWindow(session)
    window.show()
    try:
        with qtbot.waitSignal(session.models.model_changed, timeout=WAIT_MS,
                              check_params_cb=lambda state, text: state in ("ready", "failed")) as loaded:
            session.models.load_model(llama_cluster.url)
        assert loaded.args[0] == "ready", loaded.args
        assert session.models.context_size == 2048  # the server's, from /props

        session.set_session_params({"grammar": GRAMMAR, "seed": 1, "temperature": 0.0, "max_tokens": 96})
        session.new_thread()
        with qtbot.waitSignal(session.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
            assert session.send("What is two plus two?")

        reply = session.conversation.path()[-1]
        assert reply.state == "complete", reply.error
        assert reply.reasoning and reply.content and "<think>" not in reply.reasoning + reply.content
        widget = window.chat.widgets[reply.id]
        assert widget.reasoning is not None
        assert widget.reasoning.text().strip() and widget.answer.toPlainText().strip()
        # Rendered Markdown folds runs of spaces (the model may write two), so compare words.
        shown = " ".join(widget.answer.toPlainText().split())
        assert shown and shown in " ".join(reply.content.split())
        saved = store.get_message(reply.id)  # kept in the history as a local model's reply
        assert saved.reasoning == reply.reasoning and saved.content == reply.content
    finally:
        window.close()
        qtbot.waitUntil(lambda: not session.models.running, timeout=WAIT_MS)
        store.close()
    assert engines
    for engine in engines:  # closing the window closed the connection
        with pytest.raises(AppError):
            engine.stream([Message("user", "hi")])
