"""The message box: Enter sends, Shift+Enter starts a new line, Esc stops a reply, Up in
an empty box opens the last question for editing."""

from __future__ import annotations

from PySide6.QtCore import QKeyCombination, Qt, Signal
from PySide6.QtWidgets import QPlainTextEdit

SEARCH_KEY = QKeyCombination(Qt.KeyboardModifier.ControlModifier, Qt.Key.Key_K)
MIN_LINES, MAX_LINES = 2, 10  # the box grows with what is typed, then scrolls


class Composer(QPlainTextEdit):
    submitted = Signal(str)
    cancel_requested = Signal()
    edit_last_requested = Signal()  # Up with nothing typed

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("composer")
        self.setPlaceholderText("Ask a hard question…  (Enter sends, Shift+Enter for a new line)")
        self.setTabChangesFocus(True)
        self.textChanged.connect(self._fit)
        self._fit()

    def _fit(self) -> None:
        """As tall as its text (wrapped lines counted), between MIN_LINES and MAX_LINES."""
        lines = max(MIN_LINES, min(MAX_LINES, round(self.document().size().height())))
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        doc = 2 * round(self.document().documentMargin())
        height = lines * self.fontMetrics().lineSpacing() + margins + doc + 2 * self.frameWidth()
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()  # a new width wraps the text into more or fewer lines

    def event(self, event) -> bool:
        # Ctrl+K searches the threads (as in other chat apps), rather than deleting to the end of the line.
        if event.type() == event.Type.ShortcutOverride and event.keyCombination() == SEARCH_KEY:
            event.ignore()
            return False
        return super().event(event)

    def keyPressEvent(self, event) -> None:
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
