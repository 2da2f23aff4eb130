"""A question edited where it stands in the conversation: the bubble becomes a text box
with Save & send and Cancel. Esc cancels, Ctrl+Enter sends."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from app.ui import style

MIN_LINES, MAX_LINES = 2, 14


class InlineEditor(QFrame):
    submitted = Signal(str)
    cancelled = Signal()

    def __init__(self, text: str) -> None:
        super().__init__()
        self.setObjectName("inlineEditor")
        self.text_box = QPlainTextEdit(text)
        self.text_box.setObjectName("inlineEditorText")
        self.text_box.setFont(style.reading_font())
        self.text_box.setFrameShape(QFrame.Shape.NoFrame)
        self.text_box.setTabChangesFocus(True)
        self.text_box.setAccessibleName("Edit your question")
        self.text_box.installEventFilter(self)
        self.text_box.textChanged.connect(self._changed)
        hint = QLabel("Esc cancels · Ctrl+Enter sends")
        hint.setObjectName("hintText")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("secondaryButton")
        self.cancel_button.setToolTip("Keep the question as it was (Esc)")
        self.save_button = QPushButton("Save && send")
        self.save_button.setObjectName("primaryButton")
        self.save_button.setToolTip("Ask the edited question; the earlier version stays, a click on ‹ › away (Ctrl+Enter)")
        self.cancel_button.clicked.connect(self.cancelled)
        self.save_button.clicked.connect(self.submit)
        buttons = QHBoxLayout()
        buttons.setSpacing(style.S)
        buttons.addWidget(hint, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.M, style.M, style.M, style.M)
        layout.setSpacing(style.S)
        layout.addWidget(self.text_box)
        layout.addLayout(buttons)
        cursor = self.text_box.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.text_box.setTextCursor(cursor)
        self._changed()

    def text(self) -> str:
        return self.text_box.toPlainText()

    def submit(self) -> None:
        text = self.text().strip()
        if text:
            self.submitted.emit(text)

    def _changed(self) -> None:
        self.save_button.setEnabled(bool(self.text().strip()))
        # As tall as the text (wrapped lines counted), between MIN_LINES and MAX_LINES.
        line = QFontMetricsF(self.text_box.font()).lineSpacing()
        lines = self.text_box.document().size().height()  # a plain text document counts in lines
        height = line * max(MIN_LINES, min(MAX_LINES, lines)) + 2 * self.text_box.document().documentMargin() + 4
        self.text_box.setFixedHeight(round(height))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.text_box and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            key = event.key()
            send = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and event.modifiers() & Qt.KeyboardModifier.ControlModifier
            cancel = key == Qt.Key.Key_Escape
            if send or cancel:
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()  # ours, not the window's (Esc would stop a running reply)
                elif send:
                    self.submit()
                else:
                    self.cancelled.emit()
                return True
        elif watched is self.text_box and event.type() == QEvent.Type.Resize:
            self._changed()  # wrapped lines change with the width
        return False

