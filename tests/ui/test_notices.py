"""Notices: passing news in the status bar goes away and never covers the speed readout;
with no model, Send is off (and says why) and a question gets the banner with the
buttons that load one; the banner shows every string as plain text."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.ui.dialogs import Dialogs


@pytest.fixture
def quick_notices(monkeypatch):
    monkeypatch.setattr("app.ui.notice_banner.NOTICE_MS", 50)


def test_a_notice_passes_and_the_speed_stays_in_view(make_app, qtbot, quick_notices, tiny_phi3, monkeypatch):
    app = make_app()
    app.load()
    app.ask("Go")
    stats, status = app.window.stats_label, app.window.statusBar()
    speed = stats.text()
    assert "tok/s" in speed and stats.isVisible()
    monkeypatch.setattr(Dialogs, "confirm", staticmethod(lambda *a: False))  # added, not loaded
    assert app.window.import_model(tiny_phi3)
    assert status.currentMessage() == "Added tiny-phi3.gguf."
    assert stats.isVisible() and stats.text() == speed  # beside the notice, not under it
    qtbot.waitUntil(lambda: status.currentMessage() == "")  # it goes by itself
    app.window.show_notice("Thread deleted.")
    assert stats.isVisible()
    qtbot.waitUntil(lambda: status.currentMessage() == "")


def test_send_is_off_until_a_model_is_ready_and_says_why(make_app, qtbot):
    app = make_app()
    send = app.window.send_button
    assert not send.isEnabled() and send.toolTip() == "Load a model first"
    with qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        app.models.load_model("/models/scripted.gguf")
        assert not send.isEnabled() and send.toolTip() == "Wait until the model has loaded"
    assert send.isEnabled() and send.toolTip() == ""
    app.window.composer.setPlainText("Hello")
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=20000):
        send.click()
        assert send.isEnabled() and send.text() == "Stop"  # Stop never waits for anything


def test_a_question_without_a_model_gets_the_ways_to_load_one(make_app, qtbot, monkeypatch):
    app = make_app()
    monkeypatch.setattr(app.window.models, "downloaded_model", lambda: None)
    app.window.composer.setPlainText("A question")
    qtbot.keyClick(app.window.composer, Qt.Key.Key_Return)  # Enter still sends: nothing to send to
    banner = app.window.banner
    assert "No model is loaded yet" in banner.text() and "Model → Open" not in banner.text()
    assert banner.action_labels() == ["Open a model…", "Download Phi-4-reasoning…"]
    assert app.window.composer.toPlainText() == "A question" and app.store.list_threads() == []
    monkeypatch.setattr(app.window.models.manager, "fetch_sizes", lambda: None)  # no Hub in tests
    banner.button("Download Phi-4-reasoning…").click()
    dialog = app.window.models.dialog
    assert dialog is not None and dialog.isVisible() and banner.isHidden()
    dialog.close()

    app.window.composer.setPlainText("A question")
    qtbot.keyClick(app.window.composer, Qt.Key.Key_Return)
    monkeypatch.setattr(Dialogs, "open_model", staticmethod(lambda parent, start="": "/models/scripted.gguf"))
    with qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        banner.button("Open a model…").click()
    assert banner.isHidden() and app.window.send_button.isEnabled()


def test_a_downloaded_model_is_offered_by_name(make_app, qtbot, monkeypatch):
    app = make_app()
    monkeypatch.setattr(app.window.models, "downloaded_model", lambda: ("Phi-4-reasoning Q4_K_M", "/models/p.gguf"))
    app.window.composer.setPlainText("A question")
    qtbot.keyClick(app.window.composer, Qt.Key.Key_Return)
    banner = app.window.banner
    assert banner.action_labels() == ["Load Phi-4-reasoning Q4_K_M", "Open a model…"]
    with qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
        banner.button("Load Phi-4-reasoning Q4_K_M").click()
    assert app.models.model_path == "/models/p.gguf"


def test_the_banner_shows_plain_text_cut_short_with_actions_and_a_close_button(qtbot):
    from app.ui.notice_banner import MAX_BANNER_CHARS, NoticeBanner

    banner = NoticeBanner()
    qtbot.addWidget(banner)
    ran = []
    text = "<b>not bold</b> & " + "x" * 5000
    banner.show_notice(text, [("Fix & go", lambda: ran.append("fix"))], kind="error", key="k")
    assert banner.label.textFormat() == Qt.TextFormat.PlainText
    assert banner.text().startswith("<b>not bold</b> & ") and len(banner.text()) == MAX_BANNER_CHARS
    assert banner.action_labels() == ["Fix & go"]
    banner.button("Fix & go").click()
    assert ran == ["fix"] and banner.isHidden()
    banner.show_notice("Later", kind="info", key="other")
    banner.clear("k")  # about something else: stays
    assert banner.text() == "Later" and banner.property("kind") == "info"
    with qtbot.waitSignal(banner.dismissed):
        banner.close_button.click()
    assert banner.isHidden() and banner.text() == ""


def test_undo_delete_button_goes_after_a_while(make_app, monkeypatch):
    import app.ui.main_window as main_window

    monkeypatch.setattr(main_window, "UNDO_BUTTON_MS", 50)
    app = make_app()
    app.load()
    app.ask("Keep me")
    thread_id = app.session.thread_id
    app.window.delete_thread(thread_id)
    assert app.window.undo_button.isVisibleTo(app.window)
    app.qtbot.waitUntil(lambda: not app.window.undo_button.isVisibleTo(app.window), timeout=5000)
    assert app.window.thread_list.model().rowCount() == 0
