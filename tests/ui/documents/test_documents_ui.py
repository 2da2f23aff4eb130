"""Documents in the window: drops, chips, reading off the GUI thread, the budget
question on send, Sources, and attachments kept with the thread."""

from __future__ import annotations

import re
import threading

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from app.core.documents import DOCUMENTS_INSTRUCTION
from app.core.documents.errors import ExtractionCancelled
from app.core.scripted_engine import ScriptedEngine
from app.ui.dialogs import Dialogs
from tests.core.documents.builders import make_docx, make_image_pdf, make_pdf


def drop(widget, paths) -> None:
    """What a file manager's drop delivers (file URLs in the drag's data), given to the
    event filter the widget has. QApplication.sendEvent does not deliver drag events
    outside a real drag, so the filter, which the real drop goes through, is called."""
    window = widget.window()
    panel = window.documents
    assert widget.acceptDrops()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    for kind in (QEvent.Type.DragEnter, QEvent.Type.Drop):
        args = (QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        event = QDragEnterEvent(*args) if kind == QEvent.Type.DragEnter else QDropEvent(QPointF(10, 10), *args[1:])
        assert panel.eventFilter(widget, event) and event.isAccepted()


def settled(app, qtbot) -> list:
    """Wait until every pending chip is read and (when readable) counted."""
    panel = app.window.documents
    qtbot.waitUntil(lambda: all(a.state == "failed" or (a.state == "ready" and a.tokens) for a in panel.pending),
                    timeout=20000)
    return panel.pending


def chip_texts(row) -> list[str]:
    return [c.text for c in row.chips]


def notes(tmp_path, name="notes.txt", secret="PLUTO-42"):
    path = tmp_path / name
    path.write_text(f"Meeting notes.\nThe secret code is {secret}.\nNothing else happened.\n", encoding="utf-8")
    return path


def send(app, qtbot, text: str) -> None:
    app.window.composer.setPlainText(text)
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=20000):
        app.window.send_button.click()


def long_text(tmp_path, lines: int = 600):
    """Far more words than a 4,096-token context holds, with one line that answers."""
    body = [f"Line {i} talks about the weather in town number {i} and nothing more." for i in range(lines)]
    body[lines // 2] = "The zebra password is MANGO, said the keeper."
    path = tmp_path / "long.txt"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def test_dropped_files_become_chips_ready_or_failed_with_the_reason(make_app, qtbot, tmp_path):
    app = make_app()
    app.load()
    pdf = make_pdf(tmp_path / "report.pdf", ["Revenue grew in spring.", "Costs fell in autumn."])
    word = make_docx(tmp_path / "memo.docx", ["First paragraph.", "Second paragraph."])
    scan = make_image_pdf(tmp_path / "scan.pdf")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not really a pdf")
    drop(app.window.composer.viewport(), [pdf, word, scan, broken])
    assert [a.state for a in app.window.documents.pending] == ["reading"] * 4
    pending = settled(app, qtbot)
    assert [a.state for a in pending] == ["ready", "ready", "failed", "failed"]
    texts = chip_texts(app.window.attachment_tray.row)
    assert "2 pages" in texts[0] and "tokens" in texts[0]
    assert "lines" in texts[1]
    assert "OCR" in pending[2].error and "failed:" in texts[2]
    assert "damaged" in pending[3].error
    assert app.window.composer.toPlainText() == ""  # the drop did not paste file paths


def test_progress_shows_pages_read(make_app, qtbot, tmp_path):
    app = make_app()
    pdf = make_pdf(tmp_path / "book.pdf", [f"Page {i} text." for i in range(30)])
    seen = []
    app.window.documents.reader.progressed.connect(
        lambda *_: seen.append(app.window.attachment_tray.row.chips[0].text))
    drop(app.window.chat.viewport(), [pdf])
    qtbot.waitUntil(lambda: app.window.documents.pending[0].state == "ready", timeout=20000)
    assert any("reading p. 30 of 30" in text for text in seen)
    assert "30 pages" in app.window.attachment_tray.row.chips[0].text
    assert "counting tokens" in app.window.attachment_tray.row.chips[0].text  # no model: nothing to count with


def test_cancel_stops_reading_and_drops_the_chip(make_app, qtbot, tmp_path, monkeypatch):
    started = threading.Event()

    def slow_extract(path, *, max_bytes, progress, cancel, **_known):
        progress(1, 300)
        started.set()
        cancel.wait(10)
        raise ExtractionCancelled("Reading was cancelled.")

    monkeypatch.setattr("app.core.documents.jobs.extract_file", slow_extract)
    app = make_app()
    drop(app.window.chat.viewport(), [make_pdf(tmp_path / "big.pdf", ["x"])])
    row = app.window.attachment_tray.row
    qtbot.waitUntil(lambda: "reading p. 1 of 300" in row.chips[0].text, timeout=20000)
    with qtbot.waitSignal(app.window.documents.reader.extracted, timeout=20000) as done:
        row.chips[0].remove_button.click()
    assert "cancelled" in done.args[1].error
    assert app.window.documents.pending == [] and row.chips == []
    app.close()
    assert not app.window.documents.reader._thread.isRunning()
    assert not app.models.running


def test_whole_document_goes_in_and_stays_with_the_thread(make_app, qtbot, tmp_path, monkeypatch):
    app = make_app()
    app.load()
    path = notes(tmp_path)
    drop(app.window.chat.viewport(), [path])
    settled(app, qtbot)
    before = app.window.context_meter.value()
    qtbot.waitUntil(lambda: app.window.context_meter.value() > 0)
    send(app, qtbot, "What is the secret code?")
    sent = app.engines[-1].requests[-1]
    assert DOCUMENTS_INSTRUCTION in sent[0].content
    assert sent[-1].content.startswith('<document name="notes.txt"') and "PLUTO-42" in sent[-1].content
    assert sent[-1].content.endswith("What is the secret code?")
    assert app.window.documents.pending == [] and app.window.composer.toPlainText() == ""
    user = app.store.path(app.session.thread_id)[0]
    chips = app.window.chat.widgets[user.id].extra("chips")
    assert "notes.txt" in chip_texts(chips)[0]
    assert before >= 0

    # A follow-up carries the earlier document again, exactly as first sent.
    send(app, qtbot, "Say it again.")
    follow = app.engines[-1].requests[-1]
    assert follow[1].content == sent[-1].content and follow[-1].content == "Say it again."
    assert follow[0].content.count(DOCUMENTS_INSTRUCTION) == 1

    # The same file dropped again is recognised: its text is not extracted again.
    def no_read(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr("app.core.documents.extract.extract_bytes", no_read)
    drop(app.window.chat.viewport(), [path])
    assert settled(app, qtbot)[0].state == "ready"
    app.window.documents.clear()

    # Reopened in a new window on the same data: chips come from the store.
    thread_id = app.session.thread_id
    app.close()
    again = make_app()
    again.session.select_thread(thread_id)
    user = again.store.path(thread_id)[0]
    chip = again.window.chat.widgets[user.id].extra("chips").chips[0]
    assert chip.attachment.state == "ready" and "PLUTO-42" in chip.attachment.doc.text


def test_too_long_asks_first_and_passages_are_listed_as_sources(make_app, qtbot, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(Dialogs, "documents_dont_fit",
                        staticmethod(lambda parent, plan, larger: asked.append((plan, larger)) or "passages"))
    app = make_app()
    app.load()
    drop(app.window.chat.viewport(), [long_text(tmp_path)])
    settled(app, qtbot)
    send(app, qtbot, "What is the zebra password?")
    plan, larger = asked[0]
    assert plan.decision == "passages" and larger[0] > plan.context_size
    prompt = app.engines[-1].requests[-1][-1].content
    assert "MANGO" in prompt and 'given="passages"' in prompt
    assert len(set(re.findall(r"Line (\d+) talks", prompt))) < 599  # not the whole text
    reply = app.store.path(app.session.thread_id)[-1]
    sources = app.window.chat.widgets[reply.id].extra("sources")
    assert not sources.body.isVisibleTo(sources)
    assert sources.toggle.text().startswith(f"▸ Sources: {len(plan.documents[0].passages)} passages")
    sources.toggle.click()
    assert sources.body.isVisibleTo(sources)
    assert any("long.txt line" in row for row in sources.row_texts())

    # Reopened, the reply still lists its sources.
    thread_id = app.session.thread_id
    app.close()
    again = make_app()
    again.session.select_thread(thread_id)
    assert again.window.chat.widgets[reply.id].extra("sources").row_texts() == sources.row_texts()


def test_cancel_in_the_budget_question_sends_nothing(make_app, qtbot, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(Dialogs, "documents_dont_fit",
                        staticmethod(lambda parent, plan, larger: asked.append(plan) or "cancel"))
    app = make_app()
    app.load()
    drop(app.window.chat.viewport(), [long_text(tmp_path)])
    settled(app, qtbot)
    app.window.composer.setPlainText("What is the zebra password?")
    app.window.send_button.click()
    qtbot.waitUntil(lambda: bool(asked))
    assert app.store.list_threads() == [] and app.engines[-1].requests == []
    assert app.window.composer.toPlainText() == "What is the zebra password?"
    assert len(app.window.documents.pending) == 1
    assert "Not sent" in app.window.statusBar().currentMessage()


def test_a_larger_context_reloads_and_sends_the_whole_text(make_app, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(Dialogs, "documents_dont_fit", staticmethod(lambda parent, plan, larger: "context"))
    app = make_app()
    app.models._worker._factory = lambda path, load: app.engines.append(
        ScriptedEngine(chunk=6, context_size=load.n_ctx or 4096)) or app.engines[-1]
    app.load()
    drop(app.window.chat.viewport(), [long_text(tmp_path)])
    settled(app, qtbot)
    app.window.composer.setPlainText("What is the zebra password?")
    with qtbot.waitSignal(app.session.message_finished, timeout=20000):
        app.window.send_button.click()
    assert app.settings.value.context_size > 4096
    assert app.engines[-1].context_size == app.settings.value.context_size
    prompt = app.engines[-1].requests[-1][-1].content
    assert 'given="whole"' in prompt and "Line 5 talks" in prompt and "MANGO" in prompt


def test_a_dropped_model_file_goes_to_model_import(make_app, tmp_path, monkeypatch):
    app = make_app()
    imported = []
    monkeypatch.setattr(app.window, "import_model", imported.append)
    model = tmp_path / "Phi-4-reasoning-Q4_K_M.gguf"
    model.write_bytes(b"GGUF")
    drop(app.window.chat.viewport(), [model])
    assert imported == [str(model)] and app.window.documents.pending == []


def test_sending_while_a_file_is_read_waits_for_it(make_app, qtbot, tmp_path, monkeypatch):
    gate = threading.Event()

    def held(path, *, max_bytes, progress, cancel):
        gate.wait(10)
        raise ExtractionCancelled("Reading was cancelled.")

    monkeypatch.setattr("app.core.documents.jobs.extract_file", held)
    app = make_app()
    app.load()
    drop(app.window.chat.viewport(), [notes(tmp_path)])
    app.window.composer.setPlainText("Question")
    app.window.send_button.click()
    assert "Still reading notes.txt" in app.window.statusBar().currentMessage()
    assert app.store.list_threads() == []
    gate.set()


def asked_about_notes(make_app, qtbot, tmp_path):
    """An app that was asked one question with a notes file attached, and what it sent."""
    app = make_app()
    app.load()
    drop(app.window.chat.viewport(), [notes(tmp_path)])
    settled(app, qtbot)
    send(app, qtbot, "What is the secret code?")
    return app, app.engines[-1].requests[-1]


def test_regenerate_sends_the_documents_again(make_app, qtbot, tmp_path):
    app, first = asked_about_notes(make_app, qtbot, tmp_path)
    reply = app.store.path(app.session.thread_id)[-1]
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda b: not b, timeout=20000):
        app.session.regenerate(reply.id)
    assert app.engines[-1].requests[-1] == first


def test_an_edited_question_keeps_its_documents(make_app, qtbot, tmp_path):
    app, first = asked_about_notes(make_app, qtbot, tmp_path)
    user = app.store.path(app.session.thread_id)[-2]
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda b: not b, timeout=20000):
        app.session.edit_and_resend(user.id, "Which code is secret?")
    edited = app.store.path(app.session.thread_id)[-2]
    assert edited.id != user.id and edited.content == "Which code is secret?"
    assert [a.name for a in app.store.attachments(edited.id)] == [a.name for a in app.store.attachments(user.id)]
    sent = app.engines[-1].requests[-1]
    # The same document block goes with the new wording.
    assert sent[-1].content.replace("Which code is secret?", "What is the secret code?") == first[-1].content
