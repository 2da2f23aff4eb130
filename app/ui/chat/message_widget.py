"""One message in the conversation: a question in a bubble at the right, or a reply
across the column with its thinking above it (or beside it, while open on a wide window).

Messages sit in a reading column centred in the view (app/ui/style.py: about 76
characters of answer text); `fit` is told the width there is and sets the margins.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetricsF, QGuiApplication
from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.core.records import StoredMessage
from app.core.thinking import end_text
from app.ui import style
from app.ui.chat.answer_view import AnswerView
from app.ui.chat.inline_editor import InlineEditor
from app.ui.chat.message_actions import ActionBar, BranchSwitch
from app.ui.chat.reasoning_box import ReasoningBox

_NOTES = {
    "cancelled": "stopped",
    "interrupted": "interrupted: the app closed while it was writing",
    "error": "failed",
}
# A question's natural width is measured on at most this much of it: anything longer
# fills the bubble's widest anyway.
_MEASURE_LINES, _MEASURE_CHARS = 200, 400


class MessageWidget(QFrame):
    """Actions go out as signals carrying the message id; the controller acts on them."""

    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    edit_submitted = Signal(int, str)  # message id, the edited question
    delete_requested = Signal(int)
    branch_requested = Signal(int, int)  # message id, step (-1 / +1)
    reasoning_toggled = Signal(int, bool)

    def __init__(self, message: StoredMessage, siblings: tuple[int, int] = (1, 1), side_by_side: bool = True,
                 thinking_expanded: bool = False, dark: bool = False) -> None:
        super().__init__()
        self.message = message
        self.message_id = message.id
        self.setObjectName("userMessage" if message.role == "user" else "assistantMessage")
        self.setAccessibleName("Your question" if message.role == "user" else "Reply")
        self._extras: dict = {}  # widgets other parts put under the message, by key
        self._dark = dark
        self._side_by_side = side_by_side
        self._available = 0  # the view's width, from fit()
        self.reasoning: ReasoningBox | None = None
        self.answer: AnswerView | None = None
        self.user_text: QLabel | None = None
        self.editor: InlineEditor | None = None
        self.thinking_live = False  # streaming, and the last text was thinking
        self._live_answer_started = False
        outer = QVBoxLayout(self)
        outer.setSpacing(style.S)
        self.actions = ActionBar(dark)
        self.branch: BranchSwitch | None = None
        if siblings[1] > 1:
            self.branch = BranchSwitch(*siblings, dark=dark)
            self.branch.stepped.connect(lambda step: self.branch_requested.emit(self.message_id, step))
        self.footer = QWidget()
        self.footer.setObjectName("messageFooter")
        footer = QHBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(style.XS)
        if message.role == "user":
            self._build_question(message, outer, footer)
        else:
            self._build_reply(message, outer, footer, thinking_expanded)

    # -- building ------------------------------------------------------------------------

    def _build_question(self, message: StoredMessage, outer: QVBoxLayout, footer: QHBoxLayout) -> None:
        self.bubble = QFrame()
        self.bubble.setObjectName("userBubble")
        self.user_text = QLabel(message.content)
        self.user_text.setObjectName("userText")
        self.user_text.setFont(style.reading_font())
        self.user_text.setWordWrap(True)
        self.user_text.setTextFormat(Qt.TextFormat.PlainText)
        self.user_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        inner = QVBoxLayout(self.bubble)
        inner.setContentsMargins(style.L, style.M - 2, style.L, style.M - 2)
        inner.addWidget(self.user_text)
        outer.setSpacing(style.XS)
        self.bubble_row = QWidget()
        row = QHBoxLayout(self.bubble_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.bubble)
        outer.addWidget(self.bubble_row)
        copy = self.actions.add("copy", "copy", "Copy question")
        copy.clicked.connect(lambda: self._copy("copy", self.message.content))
        self.actions.add("edit", "edit", "Edit question").clicked.connect(lambda: self.edit_requested.emit(self.message_id))
        self.actions.add("delete", "delete", "Delete question").clicked.connect(
            lambda: self.delete_requested.emit(self.message_id))
        footer.addStretch(1)
        footer.addWidget(self.actions)
        if self.branch is not None:
            footer.addWidget(self.branch)
        outer.addWidget(self.footer)

    def _build_reply(self, message: StoredMessage, outer: QVBoxLayout, footer: QHBoxLayout,
                     thinking_expanded: bool) -> None:
        streaming = message.state == "streaming"
        # Before the first word: something to show that the model is at work (reading a
        # long prompt can take a while); no "Thinking" until it really thinks.
        self.status = QLabel()
        self.status.setObjectName("statusLine")
        self.status.setVisible(streaming and not message.reasoning and not message.content)
        outer.addWidget(self.status)
        self.parts = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.parts.setSpacing(style.M)
        expanded = streaming or (message.reasoning_expanded if message.reasoning_expanded is not None else thinking_expanded)
        self.reasoning = ReasoningBox(expanded=expanded, dark=self._dark)
        self.reasoning.toggled.connect(self._reasoning_toggled)
        self.reasoning.setVisible(bool(message.reasoning))
        self.answer = AnswerView(dark=self._dark)
        self.parts.addWidget(self.reasoning, 2, Qt.AlignmentFlag.AlignTop)
        self.parts.addWidget(self.answer, 3, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(self.parts)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # an engine's or a server's words
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        outer.addWidget(self.error_label)
        copy = self.actions.add("copy", "copy", "Copy answer")
        copy.clicked.connect(lambda: self._copy("copy", self.message.content))  # as saved
        thinking = self.actions.add("copy_thinking", "thinking", "Copy thinking")
        thinking.clicked.connect(lambda: self._copy("copy_thinking", self.reasoning.text()))
        self.actions.add("regenerate", "regenerate", "Regenerate answer").clicked.connect(
            lambda: self.regenerate_requested.emit(self.message_id))
        self.actions.add("delete", "delete", "Delete answer").clicked.connect(
            lambda: self.delete_requested.emit(self.message_id))
        if self.branch is not None:
            footer.addWidget(self.branch)
        footer.addWidget(self.actions)
        footer.addStretch(1)
        outer.addWidget(self.footer)
        self.reasoning.set_text(message.reasoning)
        self.answer.set_markdown(message.content)
        self._live_answer_started = bool(message.content)
        self._set_thinking_actions()
        if streaming:
            self.footer.hide()  # nothing to act on until the reply is written
            self.set_live_seconds(0)
        else:
            self.show_final(message)
        self._arrange()

    def _copy(self, key: str, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.actions.show_copied(key)

    def _set_thinking_actions(self) -> None:
        has = self.reasoning is not None and self.reasoning.has_text
        button = self.actions.buttons["copy_thinking"]
        button.setEnabled(has)
        button.setVisible(has)

    # -- streaming -----------------------------------------------------------------------

    def apply_events(self, events: list) -> None:
        reasoning, answer = [], []
        for ev in events:
            if ev.kind == "reasoning":
                if ev.moves_answer:  # what looked like the answer was thinking
                    self.answer.set_markdown("")
                    answer.clear()
                    self._live_answer_started = False
                reasoning.append(ev.text)
                self.thinking_live = True
            elif ev.kind == "answer":
                answer.append(ev.text)
                self.thinking_live = False
            elif ev.kind == "rate" and self.thinking_live and not answer:
                self.reasoning.set_live_tokens(ev.tokens, ev.think_budget)
        if (reasoning or answer) and not self.status.isHidden():
            self.status.hide()
        if reasoning:
            if self.reasoning.isHidden():
                self.reasoning.show()
                self.set_live_seconds(0)
                self._arrange()
            self.reasoning.append("".join(reasoning))
        if answer:
            if not self._live_answer_started:
                self._live_answer_started = True
                if self.reasoning.expanded:
                    self.reasoning.set_expanded(False)  # the answer has started: fold the thinking
                self._arrange()
            self.answer.append_markdown("".join(answer))

    def set_live_seconds(self, seconds: float) -> None:
        if not self.status.isHidden():
            self.status.setText(f"Reading your question… {int(seconds)} s" if seconds >= 1 else "Reading your question…")
        elif not self._live_answer_started:
            self.reasoning.set_live(seconds)

    def show_final(self, message: StoredMessage) -> None:
        self.message = message
        self.thinking_live = False
        self.status.hide()
        note = _NOTES.get(message.state, "")
        if message.state == "complete" and message.finish_reason == "length":
            note = "stopped at the length limit"
        if message.reasoning_unfinished:
            note = note or "the thinking never finished"
        ended = end_text(message.thinking_end, message.think_budget)
        if ended and message.thinking_end != "length":
            note = f"{note}; {ended}" if note else ended
        self.reasoning.set_done(message.think_seconds, message.reasoning_tokens, note if message.reasoning else "")
        self.reasoning.setVisible(bool(message.reasoning))
        if not self._live_answer_started and message.reasoning and message.content:
            self.reasoning.set_expanded(bool(message.reasoning_expanded))
        if message.error:
            self.error_label.setText(message.error)
            self.error_label.show()
        elif note and not message.reasoning:
            self.error_label.setText(f"({note})")
            self.error_label.show()
        self._set_thinking_actions()
        self.footer.show()
        self._arrange()

    # -- editing a question in place ---------------------------------------------------------

    @property
    def editing(self) -> bool:
        return self.editor is not None

    def begin_edit(self) -> None:
        if self.message.role != "user":
            return
        if self.editor is None:
            self.editor = InlineEditor(self.message.content)
            self.editor.submitted.connect(lambda text: self.edit_submitted.emit(self.message_id, text))
            self.editor.cancelled.connect(self.end_edit)
            layout = self.layout()
            layout.insertWidget(layout.indexOf(self.bubble_row), self.editor)
            self.bubble_row.hide()
            self.footer.hide()
            self.editor.show()  # now, not on the next turn: it takes the focus
        self.editor.text_box.setFocus()

    def end_edit(self) -> None:
        if self.editor is None:
            return
        self.editor.hide()
        self.editor.deleteLater()
        self.editor = None
        self.bubble_row.show()
        self.footer.show()

    # -- extras from other parts -------------------------------------------------------------

    def add_extra(self, key: str, widget) -> bool:
        """Put `widget` under the message (documents' chips, sources) once per `key`
        (None only records the key); False if that key is already there."""
        if key in self._extras:
            return False
        self._extras[key] = widget
        if widget is not None:
            layout = self.layout()
            layout.insertWidget(layout.indexOf(self.footer), widget)
        return True

    def extra(self, key: str):
        return self._extras.get(key)

    def has_extra(self, key: str) -> bool:
        return key in self._extras

    # -- look and layout -----------------------------------------------------------------------

    def set_dark(self, dark: bool) -> None:
        """Colours for a light or dark background; the answer is rendered again in them."""
        if dark == self._dark:
            return
        self._dark = dark
        self.actions.set_dark(dark)
        if self.branch is not None:
            self.branch.set_dark(dark)
        if self.reasoning is not None:
            self.reasoning.set_dark(dark)
        if self.answer is not None:
            self.answer.set_dark(dark)

    def set_pinned(self, on: bool) -> None:
        """Show the actions without a pointer over the message (the newest reply)."""
        self.actions.set_pinned(on)

    def enterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.actions.set_hover(True)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.actions.set_hover(False)
        super().leaveEvent(event)

    def set_side_by_side(self, on: bool) -> None:
        if on != self._side_by_side:
            self._side_by_side = on
            self._arrange()

    @property
    def beside(self) -> bool:
        """The thinking is open beside the answer (wide windows), not above it."""
        # Not while it still thinks: beside an empty answer the trace would get a third of the room.
        return bool(self._side_by_side and self.reasoning is not None and self.reasoning.isVisibleTo(self)
                    and self.reasoning.expanded and self._live_answer_started)

    def _reasoning_toggled(self, on: bool) -> None:
        self._arrange()
        self.reasoning_toggled.emit(self.message_id, on)

    def _arrange(self) -> None:
        if self.reasoning is not None:
            beside = self.beside
            self.parts.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)
            # Folded, the thinking is one header line above the answer; open, a box beside or above it.
            self.parts.setStretch(0, 0)
            self.parts.setStretch(1, 1 if beside else 0)
        if self._available:
            self.fit(self._available)

    def fit(self, available: int) -> None:
        """Centre the message in a reading column of the view's `available` width; open
        thinking beside the answer goes to the left of that column."""
        self._available = available
        width = max(120, min(style.column_width(), available - 2 * style.L))
        side = max(style.L, (available - width) // 2)
        left = right = side
        if self.reasoning is not None:
            if self.beside:
                think = style.beside_room(available)
                if think < style.THINKING_MIN:  # "always beside" on a narrow window: share the column
                    think = round(width * style.THINKING_SHARE / (1 + style.THINKING_SHARE))
                else:
                    left = side - think - style.M
                self.reasoning.setFixedWidth(think)
            else:
                self.reasoning.setMinimumWidth(0)
                self.reasoning.setMaximumWidth(16777215)
        question = self.user_text is not None  # its actions sit close under it
        self.layout().setContentsMargins(left, style.S, right, 0 if question else style.S)
        if question:
            self.bubble.setFixedWidth(min(self._natural_width(), round(width * style.BUBBLE_SHARE)))

    def _natural_width(self) -> int:
        metrics = QFontMetricsF(self.user_text.font())
        lines = self.message.content.split("\n", _MEASURE_LINES)[:_MEASURE_LINES]
        text = max((metrics.horizontalAdvance(line[:_MEASURE_CHARS]) for line in lines), default=0.0)
        margins = self.bubble.layout().contentsMargins()
        return int(text) + margins.left() + margins.right() + 4
