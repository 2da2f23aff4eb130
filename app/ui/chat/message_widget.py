"""One message in the conversation: a user prompt, or a reply with its thinking beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout

from app.core.records import StoredMessage
from app.ui.chat.answer_view import AnswerView
from app.ui.chat.reasoning_box import ReasoningBox

_NOTES = {
    "cancelled": "stopped",
    "interrupted": "interrupted: the app closed while it was writing",
    "error": "failed",
}


class MessageWidget(QFrame):
    """Actions go out as signals carrying the message id; the controller acts on them."""

    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    delete_requested = Signal(int)
    branch_requested = Signal(int, int)  # message id, step (-1 / +1)
    reasoning_toggled = Signal(int, bool)

    def __init__(self, message: StoredMessage, siblings: tuple[int, int] = (1, 1), side_by_side: bool = True,
                 thinking_expanded: bool = False, dark: bool = False) -> None:
        super().__init__()
        self.message = message
        self.message_id = message.id
        self.setObjectName("userMessage" if message.role == "user" else "assistantMessage")
        self._extras: dict = {}  # widgets other parts put under the message, by key
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 6, 10, 6)
        outer.addLayout(self._header(message, siblings))
        self.reasoning: ReasoningBox | None = None
        self.answer: AnswerView | None = None
        self.user_text: QLabel | None = None
        if message.role == "user":
            self.user_text = QLabel(message.content)
            self.user_text.setObjectName("userText")
            self.user_text.setWordWrap(True)
            self.user_text.setTextFormat(Qt.TextFormat.PlainText)
            self.user_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            outer.addWidget(self.user_text)
            return
        self.parts = QBoxLayout(QBoxLayout.Direction.LeftToRight if side_by_side else QBoxLayout.Direction.TopToBottom)
        streaming = message.state == "streaming"
        expanded = streaming or (message.reasoning_expanded if message.reasoning_expanded is not None else thinking_expanded)
        self.reasoning = ReasoningBox(expanded=expanded)
        self.reasoning.toggled.connect(lambda on: self.reasoning_toggled.emit(self.message_id, on))
        self.answer = AnswerView(dark=dark)
        self.parts.addWidget(self.reasoning, 2, Qt.AlignmentFlag.AlignTop)
        self.parts.addWidget(self.answer, 3, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(self.parts)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # an engine's or a server's words
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        outer.addWidget(self.error_label)
        self.reasoning.set_text(message.reasoning)
        self.answer.set_markdown(message.content)
        self._live_answer_started = bool(message.content)
        if not streaming:
            self.show_final(message)

    def _header(self, message: StoredMessage, siblings: tuple[int, int]) -> QHBoxLayout:
        row = QHBoxLayout()
        who = QLabel("You" if message.role == "user" else "Assistant")
        who.setObjectName("roleLabel")
        row.addWidget(who)
        index, count = siblings
        if count > 1:
            for text, step in (("‹", -1), (None, 0), ("›", 1)):
                if text is None:
                    row.addWidget(QLabel(f"{index}/{count}"))
                    continue
                button = self._tool(text, f"{'Previous' if step < 0 else 'Next'} version")
                button.clicked.connect(lambda _=False, s=step: self.branch_requested.emit(self.message_id, s))
                button.setEnabled(1 <= index + step <= count)
                row.addWidget(button)
        row.addStretch(1)
        if message.role == "user":
            actions = [("Edit", self.edit_requested), ("Delete", self.delete_requested)]
        else:
            copy_answer = self._tool("Copy answer", "Copy the answer")
            copy_answer.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.answer.markdown()))
            copy_thinking = self._tool("Copy thinking", "Copy the thinking trace")
            copy_thinking.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.reasoning.text()))
            row.addWidget(copy_answer)
            row.addWidget(copy_thinking)
            actions = [("Regenerate", self.regenerate_requested), ("Delete", self.delete_requested)]
        for text, signal in actions:
            button = self._tool(text, text)
            button.clicked.connect(lambda _=False, sig=signal: sig.emit(self.message_id))
            row.addWidget(button)
        return row

    @staticmethod
    def _tool(text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        return button

    # -- streaming -----------------------------------------------------------------------

    def apply_events(self, events: list) -> None:
        reasoning, answer = [], []
        for ev in events:
            if ev.kind == "reasoning":
                if ev.moves_answer:  # what looked like the answer was thinking
                    self.answer.set_markdown("")
                    answer.clear()
                reasoning.append(ev.text)
            elif ev.kind == "answer":
                answer.append(ev.text)
        if reasoning:
            self.reasoning.append("".join(reasoning))
        if answer:
            if not self._live_answer_started:
                self._live_answer_started = True
                self.reasoning.set_expanded(False)  # the answer has started: fold the thinking
            self.answer.append_markdown("".join(answer))

    def set_live_seconds(self, seconds: float) -> None:
        if not self._live_answer_started:
            self.reasoning.set_live(seconds)

    def show_final(self, message: StoredMessage) -> None:
        self.message = message
        note = _NOTES.get(message.state, "")
        if message.state == "complete" and message.finish_reason == "length":
            note = "stopped at the length limit"
        if message.reasoning_unfinished:
            note = note or "the thinking never finished"
        self.reasoning.set_done(message.think_seconds, message.reasoning_tokens, note if message.reasoning else "")
        self.reasoning.setVisible(bool(message.reasoning) or message.state == "streaming")
        if not self._live_answer_started and message.reasoning and message.content:
            self.reasoning.set_expanded(bool(message.reasoning_expanded))
        if message.error:
            self.error_label.setText(message.error)
            self.error_label.show()
        elif note and not message.reasoning:
            self.error_label.setText(f"({note})")
            self.error_label.show()

    def add_extra(self, key: str, widget) -> bool:
        """Put `widget` under the message (documents' chips, sources) once per `key`
        (None only records the key); False if that key is already there."""
        if key in self._extras:
            return False
        self._extras[key] = widget
        if widget is not None:
            self.layout().addWidget(widget)
        return True

    def extra(self, key: str):
        return self._extras.get(key)

    def has_extra(self, key: str) -> bool:
        return key in self._extras

    def set_side_by_side(self, on: bool) -> None:
        if self.message.role == "assistant":
            self.parts.setDirection(QBoxLayout.Direction.LeftToRight if on else QBoxLayout.Direction.TopToBottom)

