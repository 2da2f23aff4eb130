"""The chat window on a real SQLite file with a scripted engine behind the real worker thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from app.core.errors import ModelMissing
from app.core.scripted_engine import ScriptedEngine
from app.core.export import thread_markdown


def reply_widget(app):
    reply = app.store.path(app.session.thread_id)[-1]
    return reply, app.window.chat.widgets[reply.id]


def start_held(make_app, qtbot, pieces: int):
    """A reply held after `pieces` pieces of its thinking, shown on screen."""
    app = make_app()
    app.gate = threading.Semaphore(0)
    app.load()
    assert app.session.send("Count primes")
    app.gate.release(pieces)
    qtbot.waitUntil(lambda: bool(reply_widget(app)[1].reasoning.text()))
    return app


def test_send_streams_thinking_and_answer_into_their_parts(make_app):
    app = make_app()
    app.load()
    app.ask("How many primes are below 20?")
    user, reply = app.store.path(app.session.thread_id)
    assert (user.role, reply.role, reply.state) == ("user", "assistant", "complete")
    assert reply.reasoning.startswith("Count them") and reply.content.startswith("There are **8**")
    widget = app.window.chat.widgets[reply.id]
    assert widget.reasoning.text() == reply.reasoning
    html = widget.answer.document().toHtml()
    assert "<table" in html and "print" in widget.answer.toPlainText()
    assert "Count them" not in widget.answer.toPlainText()
    assert widget.answer.block_count >= 4  # paragraph, table, code, math paragraph
    assert not widget.reasoning.expanded
    assert widget.reasoning.header.text().startswith("Thought for")
    assert app.window.thread_list.model().rowCount() == 1
    assert app.window.thread_list.model().index(0).data() == "How many primes are below 20?"


def test_thinking_is_open_while_thinking_then_folds_and_toggles(make_app, qtbot):
    app = start_held(make_app, qtbot, 4)
    _, widget = reply_widget(app)
    assert widget.reasoning.expanded and widget.reasoning.header.text().startswith("Thinking")
    assert widget.answer.toPlainText() == ""
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.gate.release(1000)
    reply, widget = reply_widget(app)
    assert not widget.reasoning.expanded
    qtbot.mouseClick(widget.reasoning.header, Qt.MouseButton.LeftButton)
    assert widget.reasoning.expanded
    assert app.store.get_message(reply.id).reasoning_expanded is True


def test_stop_keeps_the_partial_reply(make_app, qtbot):
    app = start_held(make_app, qtbot, 3)
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.window.send_button.click()  # the Send button is Stop while busy
        app.gate.release(1000)
    reply, widget = reply_widget(app)
    assert reply.state == "cancelled" and reply.reasoning and not reply.content
    assert "stopped" in widget.reasoning.header.text()


def test_answer_now_ends_thinking_and_answers(make_app, qtbot):
    app = start_held(make_app, qtbot, 2)
    assert app.window.answer_now_button.isEnabled()
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.window.answer_now_button.click()
        app.gate.release(1000)
    reply, _ = reply_widget(app)
    assert reply.state == "complete" and reply.content.startswith("There are")
    assert "eight" not in reply.reasoning  # the rest of the thinking was skipped


def test_regenerate_and_edit_keep_switchable_branches(make_app, qtbot):
    app = make_app()
    app.load()
    app.ask("First question")
    user, first = app.store.path(app.session.thread_id)
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda b: not b, timeout=20000):
        app.session.regenerate(first.id)
    second = app.store.path(app.session.thread_id)[-1]
    assert second.id != first.id and [m.id for m in app.store.siblings(second.id)] == [first.id, second.id]
    app.session.switch_branch(second.id, -1)
    assert app.store.path(app.session.thread_id)[-1].id == first.id
    assert app.window.chat.widgets[first.id].branch.label.text() == "1/2"  # the version switch
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda b: not b, timeout=20000):
        app.session.edit_and_resend(user.id, "Edited question")
    path = app.store.path(app.session.thread_id)
    assert path[0].content == "Edited question" and len(app.store.siblings(path[0].id)) == 2
    assert app.engines[-1].requests[-1][-1].content == "Edited question"
    app.session.delete_message(path[-1].id)
    assert [m.id for m in app.store.path(app.session.thread_id)] == [path[0].id]


def test_follow_up_sends_answers_without_thinking(make_app):
    app = make_app()
    app.load()
    app.ask("One")
    app.ask("Two")
    sent = app.engines[-1].requests[-1]
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert "Count them" not in sent[2].content and sent[2].content.startswith("There are")


def test_search_rename_delete_and_undo(make_app):
    app = make_app()
    app.load()
    app.ask("Apples and pears")
    app.session.new_thread()
    app.ask("Boats")
    window = app.window
    assert window.thread_list.model().rowCount() == 2
    window.search.setText("primes below")  # in both answers
    assert window.thread_list.model().rowCount() == 2
    window.search.setText("apples")
    assert window.thread_list.model().rowCount() == 1
    thread_id = window.thread_list.model().index(0).data(Qt.ItemDataRole.UserRole)
    app.session.rename_thread(thread_id, "Fruit")
    assert window.thread_list.model().index(0).data() == "Fruit"
    window.search.clear()
    window.delete_thread(thread_id)
    assert window.thread_list.model().rowCount() == 1 and window.undo_button.isVisibleTo(window)
    window.undo_button.click()
    assert window.thread_list.model().rowCount() == 2 and app.session.thread_id == thread_id


def test_history_survives_a_restart(make_app):
    app = make_app()
    app.load()
    app.ask("Remember me")
    thread_id = app.session.thread_id
    app.close()
    again = make_app()
    assert again.window.thread_list.model().rowCount() == 1
    again.session.select_thread(thread_id)
    reply = again.store.path(thread_id)[-1]
    widget = again.window.chat.widgets[reply.id]
    assert widget.reasoning.text().startswith("Count them") and "There are 8" in widget.answer.toPlainText()


def test_without_a_model_nothing_is_lost(make_app, qtbot):
    app = make_app()
    app.window.composer.setPlainText("A question")
    with qtbot.waitSignal(app.session.notice):
        app.window.composer.submitted.emit(app.window.composer.toPlainText())  # Send itself is off
    assert app.window.composer.toPlainText() == "A question"
    assert app.store.list_threads() == []


def test_model_load_failure_is_shown(make_app, qtbot):
    app = make_app()

    def broken(path, load):
        raise ModelMissing("The model file /nope.gguf does not exist.")

    app.models._worker._factory = broken
    with qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "failed"):
        app.models.load_model("/nope.gguf")
    assert "does not exist" in app.window.banner.text()
    assert not app.models.model_ready


def test_context_overflow_becomes_a_readable_error(make_app, qtbot):
    app = make_app()
    app.load()
    app.models._worker._engine = ScriptedEngine(context_size=64)
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda b: not b, timeout=20000):
        app.session.send("word " * 100)
    reply, widget = reply_widget(app)
    assert reply.state == "error" and "too long" in reply.error
    assert widget.error_label.isVisibleTo(widget) and "too long" in widget.error_label.text()
    app.models._worker._engine = ScriptedEngine()  # a model with room again
    app.session.new_thread()
    app.ask("Short")  # the app keeps working
    assert reply_widget(app)[0].state == "complete"


def test_export_markdown_folds_thinking(make_app):
    app = make_app()
    app.load()
    app.ask("Export me")
    text = thread_markdown("Export me", app.store.path(app.session.thread_id))
    assert "<details>" in text and "Count them" in text and "There are **8**" in text


def test_closing_leaves_no_thread_or_timer(make_app, qtbot):
    app = start_held(make_app, qtbot, 2)
    app.gate.release(10_000)
    app.close()
    assert not app.models.running
    assert not app.window.chat._tick.isActive()
    assert app.engines[-1].closed


def test_context_meter_counts_history_and_reserve(make_app, qtbot):
    app = make_app()
    with qtbot.waitSignal(app.session.context_measured) as first:
        app.load()
    reading = first.args[0]
    tokens0, reserve, size = reading.used, reading.reserve, reading.size
    assert size == 4096 and reserve == 1024 and tokens0 > 0  # the system prompt alone; a quarter kept
    with qtbot.waitSignal(app.session.context_measured) as after:
        app.ask("How many primes are below 20?")
    assert after.args[0].used > tokens0
    assert app.window.context_meter.text().endswith("of 4.1k tokens")


def test_sending_keeps_the_widgets_already_shown(make_app):
    app = make_app()
    app.load()
    app.ask("One")
    first_widgets = dict(app.window.chat.widgets)
    app.ask("Two")
    for message_id, widget in first_widgets.items():
        assert app.window.chat.widgets[message_id] is widget  # not rebuilt
    assert len(app.window.chat.widgets) == 4
    app.session.select_thread(app.session.new_thread())
    assert app.window.chat.widgets == {}


def test_the_open_thread_follows_changed_settings_at_once(make_app):
    app = make_app()
    app.load()
    app.ask("How many primes are below 20?")
    assert app.session.conversation.params().temperature != 0.3
    app.settings.update(temperature=0.3, system_prompt="Be brief.")
    assert app.session.conversation.params().temperature == 0.3
    app.ask("And below 30?")
    sent = app.engines[-1].requests[-1]
    assert sent[0].role == "system" and sent[0].content == "Be brief."
