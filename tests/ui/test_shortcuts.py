"""The window's keyboard shortcuts, pressed for real on a real window, and the list in
Help > Keyboard shortcuts agreeing with what the menus bind."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from app.ui.shortcuts import SHORTCUTS, WINDOW, ShortcutsDialog, key_sequences, key_text

CTRL = Qt.KeyboardModifier.ControlModifier


def active(app, qtbot):
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow)
    return app.window


def test_every_menu_shortcut_is_listed_and_every_listed_window_key_is_bound(make_app, qtbot):
    app = make_app()
    window = app.window
    bound = {}
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            for key in action.shortcuts():
                bound[key.toString(QKeySequence.SequenceFormat.PortableText)] = action.text()
    listed = {k.toString(QKeySequence.SequenceFormat.PortableText) for s in SHORTCUTS if s.where == WINDOW
              for k in key_sequences(s.name)}
    assert listed == set(bound)
    for key in ("Ctrl+N", "Ctrl+F", "Ctrl+K", "Ctrl+,", "Ctrl+B", "Ctrl+Shift+C", "Esc", "Ctrl+Z", "Ctrl+/"):
        assert key in bound, key

    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    shown = dict(dialog.shown)
    native = QKeySequence.SequenceFormat.NativeText
    assert shown["Copy the last answer"] == QKeySequence("Ctrl+Shift+C").toString(native)
    assert shown["Search threads"] == key_text(next(s for s in SHORTCUTS if s.name == "find"))
    assert shown["Open a model file"] == QKeySequence(QKeySequence.StandardKey.Open).toString(native)  # one binding
    assert {"Rename the thread (or double-click it)", "Delete the thread",
            "Edit the last question (when the box is empty)"} <= set(shown)


def test_help_lists_the_shortcuts_without_blocking(make_app, qtbot):
    app = make_app()
    window = active(app, qtbot)
    qtbot.keyClick(window.thread_list, Qt.Key.Key_Slash, CTRL)
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Keyboard shortcuts"
    dialog.close()


def test_ctrl_n_ctrl_f_ctrl_k_and_ctrl_b(make_app, qtbot):
    app = make_app()
    window = active(app, qtbot)
    qtbot.keyClick(window.thread_list, Qt.Key.Key_N, CTRL)
    assert len(app.store.list_threads()) == 1 and app.session.thread_id is not None

    qtbot.keyClick(window.thread_list, Qt.Key.Key_B, CTRL)
    assert window.sidebar.collapsed and not window.search.isVisible()
    qtbot.keyClick(window.composer, Qt.Key.Key_K, CTRL)  # from the message box too, and unfolding
    assert not window.sidebar.collapsed and window.search.hasFocus()
    window.composer.setFocus()
    qtbot.keyClick(window.composer, Qt.Key.Key_F, CTRL)
    assert window.search.hasFocus()
    qtbot.keyClick(window.search, Qt.Key.Key_B, CTRL)
    assert window.sidebar.collapsed


def test_ctrl_shift_c_copies_the_last_answer(make_app, qtbot):
    app = make_app()
    window = active(app, qtbot)
    QGuiApplication.clipboard().setText("before")
    qtbot.keyClick(window.composer, Qt.Key.Key_C, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert QGuiApplication.clipboard().text() == "before" and "no answer" in window.statusBar().currentMessage()
    app.load()
    app.ask("How many primes are below 20?")
    active(app, qtbot)
    qtbot.keyClick(window.composer, Qt.Key.Key_C, CTRL | Qt.KeyboardModifier.ShiftModifier)
    answer = app.store.path(app.session.thread_id)[-1].content
    assert answer.startswith("There are **8**") and QGuiApplication.clipboard().text() == answer


def test_esc_stops_the_reply_from_anywhere_in_the_window(make_app, qtbot):
    app = make_app()
    window = active(app, qtbot)
    app.gate = threading.Semaphore(0)
    app.load()
    qtbot.keyClick(window.thread_list, Qt.Key.Key_Escape)  # nothing streams: nothing happens
    assert not window.stop_action.isEnabled()
    assert app.session.send("Count primes")
    app.gate.release(2)
    assert window.stop_action.isEnabled()
    with qtbot.waitSignal(app.session.busy_changed, timeout=20000):
        qtbot.keyClick(window.thread_list, Qt.Key.Key_Escape)
        app.gate.release(1000)
    reply = app.store.path(app.session.thread_id)[-1]
    assert reply.state == "cancelled" and not window.stop_action.isEnabled()


def test_up_in_an_empty_message_box_asks_to_edit_the_last_question(make_app, qtbot, monkeypatch):
    from app.ui.dialogs import Dialogs

    monkeypatch.setattr(Dialogs, "multiline", staticmethod(lambda *a, **k: None))  # whatever edits it
    app = make_app()
    window = active(app, qtbot)
    app.load()
    app.ask("First question")
    app.ask("Second question")
    question = app.store.path(app.session.thread_id)[-2]
    window.composer.setFocus()
    with qtbot.waitSignal(window.chat.edit_requested, timeout=2000) as edit:
        qtbot.keyClick(window.composer, Qt.Key.Key_Up)
    assert edit.args == [question.id] and question.content == "Second question"

    asked = []
    window.chat.edit_requested.connect(asked.append)
    window.composer.setPlainText("line one\nline two")
    qtbot.keyClick(window.composer, Qt.Key.Key_Up)  # typed text: Up moves the cursor
    assert asked == [] and window.composer.textCursor().blockNumber() == 0


def test_ctrl_z_undoes_a_delete_but_stays_text_undo_in_the_message_box(make_app, qtbot):
    app = make_app()
    window = active(app, qtbot)
    first = app.session.new_thread()
    second = app.session.new_thread()
    window.delete_thread(first)
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, "draft")
    qtbot.keyClick(window.composer, Qt.Key.Key_Z, CTRL)
    assert window.composer.toPlainText() != "draft"  # the box's own undo
    assert [t.id for t in app.store.list_threads()] == [second]
    window.thread_list.setFocus()
    qtbot.keyClick(window.thread_list, Qt.Key.Key_Z, CTRL)
    assert {t.id for t in app.store.list_threads()} == {first, second} and app.session.thread_id == first


def test_ctrl_comma_opens_settings(make_app, qtbot, monkeypatch):
    from app.ui.settings.settings_dialog import SettingsDialog

    opened = []
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: opened.append(self) or 0)
    app = make_app()
    window = active(app, qtbot)
    qtbot.keyClick(window.thread_list, Qt.Key.Key_Comma, CTRL)
    assert len(opened) == 1
    assert QApplication.activeModalWidget() is None
