"""The collapsible thinking section of an assistant message.

"Thinking… 12 s" expanded while the model thinks; "Thought for 42 s (1,830 tokens)"
collapsed once the answer starts. Text is appended, never re-set, so a 30k-token
trace costs the same per token at its end as at its start.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout

MAX_BODY_HEIGHT = 320


class ReasoningBox(QFrame):
    toggled = Signal(bool)

    def __init__(self, expanded: bool = True) -> None:
        super().__init__()
        self.setObjectName("reasoningBox")
        self.header = QToolButton()
        self.header.setObjectName("reasoningHeader")
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.clicked.connect(self._clicked)
        self.body = QPlainTextEdit()
        self.body.setObjectName("reasoningBody")
        self.body.setReadOnly(True)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.body.setMaximumHeight(MAX_BODY_HEIGHT)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 6)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.set_expanded(expanded)
        self.set_live(0)

    # -- text --------------------------------------------------------------------------

    def append(self, text: str) -> None:
        cursor = self.body.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        bar = self.body.verticalScrollBar()
        bar.setValue(bar.maximum())

    def set_text(self, text: str) -> None:
        self.body.setPlainText(text)

    def text(self) -> str:
        return self.body.toPlainText()

    # -- header ------------------------------------------------------------------------

    def set_live(self, seconds: float) -> None:
        self.header.setText(f"Thinking… {int(seconds)} s")

    def set_done(self, seconds: float | None, tokens: int | None, note: str = "") -> None:
        parts = [f"Thought for {seconds:.0f} s" if seconds is not None else "Thought"]
        if tokens:
            parts.append(f"({tokens:,} tokens)")
        if note:
            parts.append(f"— {note}")
        self.header.setText(" ".join(parts))

    # -- expand / collapse ---------------------------------------------------------------

    @property
    def expanded(self) -> bool:
        return self.body.isVisibleTo(self)

    def set_expanded(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        self.header.setChecked(expanded)
        self.header.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)

    def _clicked(self) -> None:
        self.set_expanded(not self.expanded)
        self.toggled.emit(self.expanded)
