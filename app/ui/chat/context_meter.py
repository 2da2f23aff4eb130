"""How full the model's context is, in words ("3.2k of 16k tokens") beside a slim bar;
the breakdown (conversation, documents, room kept for the reply) is in the tooltip.

The bar is drawn here, not by QProgressBar: its text never lies over its own fill, and
the room kept for the reply shows as a lighter part after what is used.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from app.ui import style

BAR_WIDTH, BAR_HEIGHT = 96, 6


def compact(tokens: int) -> str:
    """1,234 -> "1.2k", 16,384 -> "16k", 950 -> "950"."""
    if tokens < 1000:
        return f"{tokens:,}"
    if tokens < 10_000:
        return f"{tokens / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{round(tokens / 1000):,}k"


def meter_text(used: int, reserve: int, size: int, estimated: bool = False, size_assumed: bool = False) -> str:
    """"3.2k of 16k tokens"; "~" marks an estimate (a server with no tokenizer, or one that
    does not say its context size)."""
    text = f"{'~' if estimated else ''}{compact(used)} of {'~' if size_assumed else ''}{compact(size)} tokens"
    return text + " — full" if used + reserve > size else text


def meter_tip(reading) -> str:
    """The breakdown of a ContextReading, in sentences."""
    parts = [(f"The conversation takes {reading.conversation:,} tokens (system prompt, questions and answers "
              "without their thinking, and what you have typed).")]
    if reading.documents or reading.counting:
        parts.append(f"Attached documents take about {reading.documents:,}"
                     f"{' (still counting)' if reading.counting else ''}.")
    parts.append(f"{reading.reserve:,} are kept free for the reply; the context holds {reading.size:,}.")
    if reading.used + reading.reserve > reading.size:
        parts.append("That is more than fits: Ponder asks what to leave out of the documents before sending."
                     if reading.documents else
                     "That is more than fits: start a new thread, shorten the question, or raise the context size.")
    if reading.estimated:
        parts.append("These counts are estimates (about four characters a token): the server has no tokenizer "
                     "Ponder can ask.")
    if reading.size_assumed:
        parts.append(f"The server does not say how large its context is; {reading.size:,} tokens is assumed.")
    return " ".join(parts)


class _Bar(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.reserve, self.size = 0, 0, 0
        self.over = False
        self.setFixedSize(BAR_WIDTH, BAR_HEIGHT)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt's name)
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        c = style.colours(dark)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        rect = QRectF(self.rect())
        radius = rect.height() / 2
        painter.setBrush(QColor(c.track))
        painter.drawRoundedRect(rect, radius, radius)
        if self.size > 0:
            fill = QColor(c.error if self.over else c.accent)
            used = min(1.0, self.used / self.size) * rect.width()
            both = min(1.0, (self.used + self.reserve) / self.size) * rect.width()
            faint = QColor(fill)
            faint.setAlphaF(0.35)
            painter.setBrush(faint)
            painter.drawRoundedRect(QRectF(0, 0, both, rect.height()), radius, radius)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(0, 0, max(used, rect.height() if self.used else 0), rect.height()),
                                    radius, radius)
        painter.end()


class ContextMeter(QWidget):
    """The meter in the model bar. `value()` is what is used plus the reply's room, at
    most the context's size (the length the bar fills)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("contextMeter")
        self.label = QLabel("")
        self.label.setObjectName("contextText")
        self.bar = _Bar()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(style.S)
        row.addWidget(self.label)
        row.addWidget(self.bar, 0, Qt.AlignmentFlag.AlignVCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Context used")
        self.setProperty("over", False)
        self.setVisible(False)  # until there is a model to measure against
        self._value = 0

    def show_reading(self, reading) -> None:
        used, reserve, size = reading.used, reading.reserve, reading.size
        over = used + reserve > size
        self._value = min(used + reserve, size)
        self.bar.used, self.bar.reserve, self.bar.size, self.bar.over = used, reserve, size, over
        self.bar.update()
        self.label.setText(meter_text(used, reserve, size, reading.estimated,
                                      reading.size_assumed))
        self.setToolTip(meter_tip(reading))
        self.setAccessibleDescription(self.label.text())
        if self.property("over") != over:
            self.setProperty("over", over)
            self.label.setProperty("over", over)
            self.label.style().unpolish(self.label)
            self.label.style().polish(self.label)
        self.show()

    def value(self) -> int:
        return self._value

    def text(self) -> str:
        return self.label.text()
