"""Thinking under control in the window: the composer's budget choice, the reasoning
header's tokens of the budget, the repeat notice and its two buttons, and how the
thinking ended, still shown after a restart."""

from __future__ import annotations

import threading

from app.core.store import Store
from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import REPEAT_TEXT, MainWindow
from app.ui.settings.thread_settings_dialog import ThreadSettingsDialog
from tests.ui.chat.test_chat import reply_widget

LONG_THINKING = "<think>" + " ".join(f"step {i} checks the value {i * 7}." for i in range(400)) + "</think>The answer."
LOOPING = "<think>Let me see. " + "So the answer is twelve, because three times four is twelve. " * 120 + \
    "</think>Twelve."


def test_the_composer_budget_closes_the_thinking_and_the_trace_says_so(make_app, qtbot):
    app = make_app()
    app.script = LONG_THINKING
    app.load()
    picker = app.window.thinking_picker
    assert picker.itemText(0) == "Default thinking" and "Answer directly" in [picker.itemText(i)
                                                                              for i in range(picker.count())]
    picker.choose("quick")
    app.ask("Think.")
    assert app.engines[-1].params[-1].think_budget == 1000
    reply, widget = reply_widget(app)
    # The scripted engine streams 6 characters a token: 1,000 tokens come before the script's own close.
    assert reply.thinking_end == "budget" and reply.think_budget == 1000
    assert reply.content == "The answer."
    assert "budget reached at 1,000 tokens" in widget.reasoning.header.text()


def test_answer_directly_is_labelled_in_the_reply(make_app, qtbot):
    app = make_app()
    app.load()
    app.window.thinking_picker.choose("direct")
    app.ask("Quick one.")
    reply, widget = reply_widget(app)
    assert app.engines[-1].params[-1].answer_directly
    assert reply.reasoning == "" and reply.thinking_end == "skipped" and reply.content.startswith("There are")
    assert widget.error_label.text() == "(answered directly, without thinking)"


def test_the_header_counts_tokens_of_the_budget_while_thinking(make_app, qtbot):
    app = make_app()
    app.script = LONG_THINKING
    app.gate = threading.Semaphore(0)
    app.load()
    app.window.thinking_picker.choose("normal")
    assert app.session.send("Think.")
    app.gate.release(40)  # the scripted engine reports its speed every 8 tokens
    widget = None

    def counted():
        nonlocal widget
        widget = reply_widget(app)[1]
        return "of 4,000 tokens" in widget.reasoning.header.text()

    qtbot.waitUntil(counted, timeout=20000)
    assert widget.reasoning.header.text().startswith("Thinking…")
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.session.stop()
        app.gate.release(1_000_000)


def test_the_repeat_notice_offers_answer_now_and_keep_thinking(make_app, qtbot):
    app = make_app()
    app.script = LOOPING
    app.gate = threading.Semaphore(0)
    app.load()
    assert app.session.send("Loop.")
    app.gate.release(400)
    banner = app.window.banner
    qtbot.waitUntil(lambda: banner.text() == REPEAT_TEXT, timeout=20000)
    assert banner.action_labels() == ["Answer now", "Keep thinking"]
    banner.button("Keep thinking").click()
    assert banner.text() == ""  # thinking goes on
    app.gate.release(400)
    qtbot.waitUntil(lambda: banner.text() == REPEAT_TEXT, timeout=20000)  # caught again
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        banner.button("Answer now").click()
        app.gate.release(1_000_000)
    reply, _ = reply_widget(app)
    assert reply.thinking_end == "answer_now" and reply.content == "Twelve."


def test_auto_answer_setting_answers_at_the_second_time(make_app, qtbot):
    app = make_app()
    app.script = LOOPING
    app.settings.update(loop_auto_answer=True)
    app.session.new_thread()  # a conversation takes the settings as it starts
    app.load()
    app.ask("Loop.")
    reply, widget = reply_widget(app)
    assert reply.thinking_end == "loop" and reply.content == "Twelve."
    assert "the model was repeating itself" in widget.reasoning.header.text()


def test_thread_settings_keep_an_exact_budget(make_app, qtbot):
    app = make_app()
    app.load()
    app.ask("First.")
    thread = app.session.thread(app.session.thread_id)
    dialog = ThreadSettingsDialog(thread, app.settings.value)
    own, box = dialog.boxes["think_budget"]
    assert box.specialValueText() == "no limit" and box.value() == 0
    own.setChecked(True)
    box.setValue(2500)
    assert dialog.overrides() == {"think_budget": 2500}
    app.session.set_thread_settings(thread.id, None, dialog.overrides())
    dialog.deleteLater()
    app.ask("Second.")
    assert app.engines[-1].params[-1].think_budget == 2500


def test_how_the_thinking_ended_is_shown_after_a_restart(make_app, qtbot, tmp_path):
    app = make_app()
    app.script = LONG_THINKING
    app.load()
    app.window.thinking_picker.choose("quick")
    app.ask("Think.")
    thread_id = app.session.thread_id
    app.close()
    with Store(tmp_path / "chat.db") as store:
        session = ChatSession.create(store, app.settings.value, lambda path, load: None)
        window = MainWindow(session)
        try:
            session.select_thread(thread_id)
            reply = store.path(thread_id)[-1]
            header = window.chat.widgets[reply.id].reasoning.header.text()
            assert "budget reached at 1,000 tokens" in header
        finally:
            window.close()
            session.shutdown()
