"""Where a question is written: the attachments tray above the message box, Send (and
Answer now while the model thinks) beside it, all in the same centred column as the
conversation, as chat apps lay it out."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from app.ui.style import column_width

BUTTONS_PX = 130  # room for the buttons beside the box


class ComposerArea(QWidget):
    def __init__(self, tray: QWidget, composer: QWidget, buttons: list[QWidget]) -> None:
        super().__init__()
        self.setObjectName("composerArea")
        inner = QWidget()
        inner.setMaximumWidth(column_width() + BUTTONS_PX)
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(tray)
        row = QHBoxLayout()
        row.addWidget(composer, 1)
        side = QVBoxLayout()
        side.addStretch(1)
        for button in buttons:
            side.addWidget(button)
        row.addLayout(side)
        column.addLayout(row)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addStretch(1)
        outer.addWidget(inner, 100)
        outer.addStretch(1)
