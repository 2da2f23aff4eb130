"""How the conversation behaves to the person: questions edited in place, actions on
hover and focus, no thinking box for a model that does not think, the empty thread's
example questions, the live theme switch and the context meter's words."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QEnterEvent, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.render.theme import DARK, LIGHT
from app.ui.chat.context_meter import compact, meter_text
from app.ui.chat.empty_state import EXAMPLES
from app.ui.chat.reasoning_box import MAX_BODY_LINES
from app.ui.dialogs import Dialogs
from app.ui.settings.theme import apply_theme


def path(app):
    return app.store.path(app.session.thread_id)


def widget_of(app, message):
    return app.window.chat.widgets[message.id]


def no_modal_dialogs(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a modal dialog opened")

    monkeypatch.setattr(Dialogs, "multiline", classmethod(refuse))


# -- editing a question in place ------------------------------------------------------------

def test_edit_in_place_then_save_and_send_makes_a_new_version(make_app, qtbot, monkeypatch):
    no_modal_dialogs(monkeypatch)
    app = make_app()
    app.load()
    app.ask("First question")
    user, _ = path(app)
    widget = widget_of(app, user)
    widget.actions.buttons["edit"].click()
    assert widget.editing and widget.editor.text() == "First question"
    assert not widget.bubble_row.isVisibleTo(widget)  # the bubble became the editor
    widget.editor.text_box.setPlainText("Edited question")
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=20000):
        qtbot.keyClick(widget.editor.text_box, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    edited = path(app)[0]
    assert edited.content == "Edited question" and edited.id != user.id
    assert [m.id for m in app.store.siblings(edited.id)] == [user.id, edited.id]
    assert app.engines[-1].requests[-1][-1].content == "Edited question"
    shown = widget_of(app, edited)
    assert not shown.editing and shown.user_text.text() == "Edited question"
    assert shown.branch.label.text() == "2/2"


def test_escape_cancels_the_edit_and_changes_nothing(make_app, qtbot, monkeypatch):
    no_modal_dialogs(monkeypatch)
    app = make_app()
    app.load()
    app.ask("Keep me")
    before = [m.id for m in path(app)]
    user = path(app)[0]
    app.window.chat.edit_requested.emit(user.id)  # as Up in an empty message box does
    widget = widget_of(app, user)
    assert widget.editing and widget.editor.text_box.isVisibleTo(widget)
    widget.editor.text_box.setPlainText("Something else")
    qtbot.keyClick(widget.editor.text_box, Qt.Key.Key_Escape)
    assert not widget.editing and widget.bubble_row.isVisibleTo(widget)
    assert widget.user_text.text() == "Keep me"
    assert [m.id for m in path(app)] == before and len(app.store.siblings(user.id)) == 1
    assert not app.session.busy


def test_an_edit_sent_while_a_reply_runs_stays_open(make_app, qtbot):
    app = make_app()
    app.gate = threading.Semaphore(0)
    app.load()
    assert app.session.send("First")
    user = path(app)[0]
    assert app.window.chat.begin_edit(user.id)
    widget = widget_of(app, user)
    widget.editor.text_box.setPlainText("Changed")
    with qtbot.waitSignal(app.window.statusBar().messageChanged):
        widget.editor.save_button.click()
    assert "still being written" in app.window.statusBar().currentMessage()
    assert widget.editing and widget.editor.text() == "Changed"  # nothing typed is lost
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.gate.release(1_000_000)
    assert len(app.store.siblings(user.id)) == 1


# -- actions ------------------------------------------------------------------------------

def enter(widget) -> None:
    QApplication.sendEvent(widget, QEnterEvent(QPointF(4, 4), QPointF(4, 4), QPointF(4, 4)))


def test_actions_are_icons_shown_on_hover_and_focus(make_app):
    app = make_app()
    app.load()
    app.ask("One")
    app.ask("Two")
    first_user, first_reply, _, last_reply = path(app)
    for message in (first_user, first_reply):
        bar = widget_of(app, message).actions
        for button in bar.buttons.values():
            assert button.text() == "" and not button.icon().isNull()
            assert button.toolTip() and button.accessibleName() == button.toolTip()
    names = {b.accessibleName() for b in widget_of(app, first_reply).actions.buttons.values()}
    assert {"Copy answer", "Copy thinking", "Regenerate answer", "Delete answer"} <= names
    names = {b.accessibleName() for b in widget_of(app, first_user).actions.buttons.values()}
    assert {"Copy question", "Edit question", "Delete question"} <= names

    widget = widget_of(app, first_reply)
    assert not widget.actions.revealed  # an older reply: hidden until wanted
    assert widget_of(app, last_reply).actions.revealed  # the newest reply keeps its actions in view
    enter(widget)
    assert widget.actions.revealed
    QApplication.sendEvent(widget, QEvent(QEvent.Type.Leave))
    assert not widget.actions.revealed
    # Keyboard: a hidden button still takes focus, and shows the row when it does.
    button = widget.actions.buttons["regenerate"]
    assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    QApplication.sendEvent(button, QEvent(QEvent.Type.FocusIn))
    assert widget.actions.revealed


def test_copy_answer_copies_the_markdown(make_app):
    app = make_app()
    app.load()
    app.ask("Copy")
    reply = path(app)[-1]
    widget_of(app, reply).actions.buttons["copy"].click()
    assert QGuiApplication.clipboard().text() == reply.content


# -- a model that does not think ----------------------------------------------------------

def test_a_reply_without_thinking_shows_no_thinking_box_and_answer_now_stays_off(make_app, qtbot):
    app = make_app()
    app.script = "Paris is the capital of France, and it has been for a long time now."
    app.gate = threading.Semaphore(0)
    app.load()
    assert app.session.send("Capital of France?")
    reply = path(app)[-1]
    widget = widget_of(app, reply)
    # Before the first word: a neutral line, not "Thinking…".
    assert widget.status.isVisibleTo(widget) and widget.status.text().startswith("Reading your question")
    assert not widget.reasoning.isVisibleTo(widget)
    app.gate.release(3)
    qtbot.waitUntil(lambda: widget.answer.toPlainText().startswith("Paris"))
    assert app.session.busy and not app.window.answer_now_button.isEnabled()
    assert not widget.reasoning.isVisibleTo(widget) and not widget.status.isVisibleTo(widget)
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.gate.release(1_000_000)
    assert not widget.reasoning.isVisibleTo(widget)
    copy_thinking = widget.actions.buttons["copy_thinking"]
    assert not copy_thinking.isEnabled() and not copy_thinking.isVisibleTo(widget)
    assert widget.actions.buttons["copy"].isEnabled()


def test_answer_now_is_on_only_while_the_reply_thinks(make_app, qtbot):
    app = make_app()
    app.gate = threading.Semaphore(0)
    app.load()
    assert app.session.send("Count primes")
    assert app.session.busy and not app.window.answer_now_button.isEnabled()  # nothing written yet
    widget = widget_of(app, path(app)[-1])
    app.gate.release(2)
    qtbot.waitUntil(lambda: bool(widget.reasoning.text()))
    assert app.window.answer_now_button.isEnabled() and app.window.chat.thinking_now
    app.gate.release(16)  # past the end of the thinking, into the answer
    qtbot.waitUntil(lambda: bool(widget.answer.toPlainText()))
    assert app.session.busy and not app.window.answer_now_button.isEnabled()
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        app.gate.release(1_000_000)
    assert not app.window.answer_now_button.isEnabled()
    assert widget.actions.buttons["copy_thinking"].isEnabled()


def test_the_thinking_box_is_as_tall_as_its_text(make_app, qtbot):
    app = make_app()
    app.load()
    app.ask("Short")
    widget = widget_of(app, path(app)[-1])
    box = widget.reasoning
    box.set_expanded(True)
    qtbot.waitUntil(lambda: box.body.verticalScrollBar().maximum() == 0)  # all of it in view
    short = box.body.height()
    assert short < box.max_body_height / 2  # no mostly empty box
    box.set_text("a line of thinking\n" * (MAX_BODY_LINES * 3))
    qtbot.waitUntil(lambda: box.body.height() == box.max_body_height)
    assert box.body.verticalScrollBar().maximum() > 0  # longer ones scroll inside it


# -- the empty thread ---------------------------------------------------------------------

def test_an_example_question_goes_into_the_message_box(make_app, qtbot):
    app = make_app()
    app.load()
    chat = app.window.chat
    assert chat.empty.isVisibleTo(chat) and len(chat.empty.cards) >= 3
    card = chat.empty.cards[1]
    assert card.accessibleName().endswith(EXAMPLES[1][1])
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert app.window.composer.toPlainText() == EXAMPLES[1][1]
    assert app.store.list_threads() == []  # put in the box, not sent
    app.ask(app.window.composer.toPlainText())
    assert not chat.empty.isVisibleTo(chat)
    app.session.new_thread()
    assert chat.empty.isVisibleTo(chat)
    chat.empty.cards[0].setFocus()
    qtbot.keyClick(chat.empty.cards[0], Qt.Key.Key_Return)
    assert app.window.composer.toPlainText() == EXAMPLES[0][1]


# -- live theme -----------------------------------------------------------------------------

@pytest.fixture
def restore_theme():
    app = QApplication.instance()
    sheet = app.styleSheet()
    yield
    apply_theme(app, "system")
    app.setPalette(QPalette())
    app.setStyleSheet(sheet)


def test_choosing_dark_redraws_the_messages_at_once(make_app, restore_theme):
    app = make_app()
    app.load()
    app.ask("Colours")
    widget = widget_of(app, path(app)[-1])
    html = widget.answer.document().toHtml()
    assert LIGHT.code_bg in html and DARK.code_bg not in html
    app.window.apply_settings(app.settings.value.with_changes(theme="dark"))
    assert app.window.theme.dark and app.window.chat.dark
    html = widget.answer.document().toHtml()
    assert DARK.code_bg in html and LIGHT.code_bg not in html  # the same widget, drawn again
    assert "There are" in widget.answer.toPlainText()
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 128
    app.window.apply_settings(app.settings.value.with_changes(theme="light"))
    assert not app.window.theme.dark
    assert LIGHT.code_bg in widget.answer.document().toHtml()
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() >= 128


# -- the context meter ---------------------------------------------------------------------

def test_context_meter_words():
    assert [compact(n) for n in (950, 1000, 3200, 4096, 16384, 131072)] == \
        ["950", "1k", "3.2k", "4.1k", "16k", "131k"]
    assert meter_text(3200, 1000, 16384) == "3.2k of 16k tokens"
    assert meter_text(16000, 1000, 16384) == "16k of 16k tokens — full"


def test_context_meter_reads_as_words_beside_its_bar(make_app, qtbot):
    app = make_app()
    meter = app.window.context_meter
    with qtbot.waitSignal(app.session.context_measured) as measured:
        app.load()
    reading = measured.args[0]
    assert meter.text() == f"{compact(reading.used)} of 4.1k tokens"
    tip = meter.toolTip()
    assert f"{reading.conversation:,} tokens" in tip and f"{reading.reserve:,} are kept free" in tip
    assert "4,096" in tip
    qtbot.waitUntil(lambda: meter.label.width() > 0)
    assert not meter.label.geometry().intersects(meter.bar.geometry())  # no text over the fill


def test_following_the_system_switches_when_the_system_does(make_app, monkeypatch, restore_theme):
    """The platform reports a new scheme: "Follow the system" applies it without a restart."""
    from PySide6.QtCore import QObject, Signal

    from app.ui.settings import theme

    class Hints(QObject):  # the platform's style hints, as a desktop that can switch reports them
        colorSchemeChanged = Signal(object)  # noqa: N815 (Qt's name)

        def __init__(self) -> None:
            super().__init__()
            self.scheme = Qt.ColorScheme.Light

        def colorScheme(self):  # noqa: N802 (Qt's name)
            return self.scheme

        def setColorScheme(self, scheme) -> None:  # noqa: N802 (Qt's name)
            self.scheme = scheme

        def unsetColorScheme(self) -> None:  # noqa: N802 (Qt's name)
            pass

    hints = Hints()
    monkeypatch.setattr(theme.QGuiApplication, "styleHints", staticmethod(lambda: hints))
    app = make_app()
    app.load()
    app.ask("Colours")
    widget = widget_of(app, path(app)[-1])
    assert app.settings.value.theme == "system" and LIGHT.code_bg in widget.answer.document().toHtml()
    hints.scheme = Qt.ColorScheme.Dark
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert app.window.chat.dark and DARK.code_bg in widget.answer.document().toHtml()
    hints.scheme = Qt.ColorScheme.Light
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not app.window.chat.dark and LIGHT.code_bg in widget.answer.document().toHtml()
