"""The collapsible thinking section of an assistant message.

"Thinking… 12 s" open while the model thinks; "Thought for 42 s · 1,830 tokens" folded
once the answer starts. Text is appended, never re-set, so a 30k-token trace costs the
same per token at its end as at its start. The text area is as tall as its text, up to
MAX_BODY_LINES lines (then it scrolls): a short trace gets no mostly empty box.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetricsF, QTextCursor
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout

from app.ui import style
from app.ui.icons import icon

MAX_BODY_LINES = 18


class ReasoningBox(QFrame):
    toggled = Signal(bool)

    def __init__(self, expanded: bool = True, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("reasoningBox")
        self._dark = dark
        self.header = QToolButton()
        self.header.setObjectName("reasoningHeader")
        self.header.setCheckable(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setAutoRaise(True)
        self.header.setIconSize(QSize(14, 14))
        self.header.setCursor(Qt.CursorShape.PointingHandCursor)
        self.header.clicked.connect(self._clicked)
        self.body = QPlainTextEdit()
        self.body.setObjectName("reasoningBody")
        self.body.setReadOnly(True)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.body.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.body.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.body.viewport().installEventFilter(self)  # a new width wraps the text anew: fit again
        self.body.installEventFilter(self)  # and so does a new font (the style sheet sets it)
        self._fit_width = -1
        # After a resize or a new font the text editor lays its text out again once the
        # event is through: measure then, not before.
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(0)
        self._refit.timeout.connect(self._fit_again)
        self._at_max = False  # the text only grows: once as tall as allowed, no more measuring
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.XS, style.XS, style.XS, style.XS)
        layout.setSpacing(style.XS)
        layout.addWidget(self.header, 0, Qt.AlignmentFlag.AlignLeft)
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
        if not self._at_max:
            self._fit()

    def set_text(self, text: str) -> None:
        self.body.setPlainText(text)
        self._at_max = False
        self._fit()

    def text(self) -> str:
        return self.body.toPlainText()

    @property
    def has_text(self) -> bool:
        return not self.body.document().isEmpty()

    @property
    def max_body_height(self) -> int:
        return round(QFontMetricsF(self.body.font()).lineSpacing() * MAX_BODY_LINES)

    def _fit(self) -> None:
        """Height to the text, measured block by block only up to the maximum (bounded
        work whatever the trace's length)."""
        doc = self.body.document()
        cap = self.max_body_height
        layout = doc.documentLayout()
        height, block = 0.0, doc.begin()
        while block.isValid() and height <= cap:
            height += layout.blockBoundingRect(block).height()
            block = block.next()
        frame = 2 * doc.documentMargin() + 2 * self.body.frameWidth() + 2
        self._at_max = height + frame >= cap
        self.body.setFixedHeight(round(min(cap, height + frame)))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Resize and watched is self.body.viewport():
            width = self.body.viewport().width()
            if width != self._fit_width:
                self._fit_width = width
                self._refit.start()
        elif event.type() in (QEvent.Type.FontChange, QEvent.Type.Show) and watched is self.body:
            self._refit.start()
        return False

    def _fit_again(self) -> None:
        self._at_max = False
        self._fit()

    # -- header ------------------------------------------------------------------------

    def set_live(self, seconds: float) -> None:
        self._live_seconds = seconds
        text = f"Thinking… {int(seconds)} s" if seconds >= 1 else "Thinking…"
        tokens, budget = getattr(self, "_live_tokens", (None, None))
        if tokens is not None:
            text += f" · {tokens:,} of {budget:,} tokens" if budget else f" · {tokens:,} tokens"
        self.header.setText(text)

    def set_live_tokens(self, tokens: int, budget: int | None) -> None:
        """Tokens thought so far, of the budget ("1,234 of 4,000 tokens")."""
        self._live_tokens = (tokens, budget)
        self.set_live(getattr(self, "_live_seconds", 0))

    def set_done(self, seconds: float | None, tokens: int | None, note: str = "") -> None:
        parts = [f"Thought for {_duration(seconds)}" if seconds is not None else "Thought"]
        if tokens:
            parts.append(f"{tokens:,} tokens")
        text = " · ".join(parts)
        if note:
            text += f" — {note}"
        self.header.setText(text)

    # -- expand / collapse ---------------------------------------------------------------

    @property
    def expanded(self) -> bool:
        return self.body.isVisibleTo(self)

    def set_expanded(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        self.header.setChecked(expanded)
        self.header.setToolTip("Hide the thinking" if expanded else "Show the thinking")
        self.header.setAccessibleName("Hide the thinking" if expanded else "Show the thinking")
        self.setProperty("open", expanded)
        self._paint_icon()
        self.style().unpolish(self)
        self.style().polish(self)

    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        self._paint_icon()

    def _paint_icon(self) -> None:
        name = "chevron-down" if self.header.isChecked() else "chevron-right"
        self.header.setIcon(icon(name, style.colours(self._dark).muted, 14))

    def _clicked(self) -> None:
        self.set_expanded(not self.expanded)
        self.toggled.emit(self.expanded)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
