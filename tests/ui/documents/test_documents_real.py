"""A question about a document, end to end through the real worker and a real model."""

from __future__ import annotations

from app.core.store import Store
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import MainWindow
from tests.ui.documents.test_documents_ui import drop


def test_question_about_a_document_with_the_real_model(smollm2, qtbot, tmp_path):
    store = Store(tmp_path / "chat.db")
    settings = Settings(max_tokens=32, temperature=0.0, seed=7, context_size=2048, n_gpu_layers=0)
    session = ChatSession.create(store, settings)
    window = MainWindow(session)
    window.show()
    try:
        with qtbot.waitSignal(session.models.model_changed, check_params_cb=lambda s, t: s == "ready", timeout=120000):
            session.models.load_model(str(smollm2))
        doc = tmp_path / "inventory.csv"
        doc.write_text("item,count\napples,12\npears,7\nplums,30\n", encoding="utf-8")
        drop(window.chat.viewport(), [doc])
        qtbot.waitUntil(lambda: window.documents.pending[0].tokens is not None, timeout=60000)
        chip = window.documents.pending[0]
        words = len(doc.read_text().split())
        assert chip.state == "ready" and chip.tokens > words  # the model's BPE tokens, not words
        window.composer.setPlainText("How many plums are there?")
        with qtbot.waitSignal(session.message_finished, timeout=120000) as finished:
            window.send_button.click()
        reply = finished.args[0]
        assert reply.state == "complete" and reply.generated_tokens > 0
        assert reply.prompt_tokens > chip.tokens
        user = store.path(session.thread_id)[0]
        (stored,) = store.attachments(user.id)
        assert stored.plan["mode"] == "whole" and "plums,30" in stored.extraction.text
        assert stored.extraction.tokens[session.models.model_path] == chip.tokens
        assert "inventory.csv" in window.chat.widgets[user.id].extra("chips").chips[0].text
    finally:
        window.close()
        store.close()
    assert not window.documents.reader._thread.isRunning() and not session.models.running
