"""The message box: Enter sends, Shift+Enter starts a new line, Esc stops a reply, Up in
an empty box opens the last question for editing."""

from __future__ import annotations

from PySide6.QtCore import QKeyCombination, Qt, Signal
from PySide6.QtWidgets import QPlainTextEdit

SEARCH_KEY = QKeyCombination(Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_K)


class Composer(QPlainTextEdit):
    submitted = Signal(str)
    cancel_requested = Signal()
    edit_last_requested = Signal()  # Up with nothing typed

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("composer")
        self.setPlaceholderText("Ask a hard question…  (Enter sends, Shift+Enter for a new line)")
        self.setMaximumHeight(140)
        self.setTabChangesFocus(True)

    def event(self, event) -> bool:
        # Ctrl+K searches the threads (as in other chat apps), rather than deleting to the end of the line.
        if event.type() == event.Type.ShortcutOverride and event.keyCombination() == SEARCH_KEY:
            event.ignore()
            return False
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit(self.toPlainText())
            return
        if event.key() == Qt.Key.Key_Escape:
            self.cancel_requested.emit()
            return
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier  # macOS marks arrows "keypad"
        if event.key() == Qt.Key.Key_Up and plain and not self.toPlainText():
            self.edit_last_requested.emit()
            return
        super().keyPressEvent(event)
