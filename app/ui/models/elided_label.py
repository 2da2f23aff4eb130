"""A one-line label that gives up width instead of taking it: short of room, its text ends
in "…" (and the whole of it is in the tooltip), but it never shrinks below its first few
characters, so what it names stays recognisable.

QLabel either asks for its whole text (and widens the window) or, with an Ignored size
policy, gets cut mid-letter with nothing to say so and vanishes when room runs out.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget

from app.ui.plain import tip


class ElidedLabel(QLabel):
    """Plain text only (a file name or a driver's words come from outside); `text()` is
    always the whole text, whatever is drawn. `min_chars` is how much of it stays in view."""

    def __init__(self, text: str = "", min_chars: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)
        self.min_chars = min_chars
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def shown_text(self) -> str:
        """What is drawn at the current width."""
        width = self.contentsRect().width()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, max(width, 0))

    def elided(self) -> bool:
        return self.shown_text() != self.text()

    def minimumSizeHint(self) -> QSize:
        text = self.text()
        head = text if len(text) <= self.min_chars else text[: self.min_chars] + "…"
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(head) + margins.left() + margins.right() + 2
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        align = int(self.alignment()) or int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.style().drawItemText(painter, self.contentsRect(), align, self.palette(), self.isEnabled(),
                                  self.shown_text(), self.foregroundRole())
        painter.end()

    def event(self, event) -> bool:
        # Cut short, the whole text comes first in the tooltip, before the label's own.
        if event.type() == QEvent.Type.ToolTip and self.elided():
            own = self.toolTip()
            if own and not GuiQt.mightBeRichText(own):
                own = tip(own)
            QToolTip.showText(event.globalPos(), tip(self.text()) + own, self)
            return True
        return super().event(event)
