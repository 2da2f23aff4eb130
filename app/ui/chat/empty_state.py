"""What an empty conversation shows: a greeting and a few questions that show what a
reasoning model is good at. Choosing one puts it in the message box, to send or change."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.ui import style

EXAMPLES = (
    ("A trick question", ("A bat and a ball cost $1.10 together. The bat costs $1.00 more than the ball. "
                          "How much does the ball cost?")),
    ("A proof", "Prove that there are infinitely many prime numbers."),
    ("A logic puzzle", ("Three boxes are labelled apples, oranges and mixed, and every label is wrong. "
                        "You may take one fruit from one box. How do you relabel all three?")),
    ("Code", ("Write a Python function that checks whether the brackets in a string are balanced, "
              "and explain why it works.")),
)


class ExampleCard(QFrame):
    """One example question: click it, or Tab to it and press Enter or Space."""

    chosen = Signal(str)

    def __init__(self, topic: str, question: str) -> None:
        super().__init__()
        self.setObjectName("exampleCard")
        self.question = question
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)
        self.setAccessibleName(f"{topic}: {question}")
        self.setAccessibleDescription("Puts this question in the message box")
        self.setToolTip("Put this question in the message box")
        head = QLabel(topic)
        head.setObjectName("exampleTopic")
        text = QLabel(question)
        text.setObjectName("exampleText")
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(style.M, style.M, style.M, style.M)
        layout.setSpacing(style.XS)
        layout.addWidget(head)
        layout.addWidget(text, 1, Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.chosen.emit(self.question)
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.chosen.emit(self.question)
            return
        super().keyPressEvent(event)


class EmptyState(QWidget):
    example_chosen = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("emptyState")
        title = QLabel("What shall we think through?")
        title.setObjectName("emptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("The model works a problem out step by step before it answers, and you can watch it "
                      "think. It shines on maths, logic puzzles, planning and code. Try one of these:")
        text.setObjectName("emptyText")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid = QGridLayout()
        grid.setSpacing(style.M)
        self.cards: list[ExampleCard] = []
        for n, (topic, question) in enumerate(EXAMPLES):
            card = ExampleCard(topic, question)
            card.chosen.connect(self.example_chosen)
            grid.addWidget(card, n // 2, n % 2)
            self.cards.append(card)
        layout = QVBoxLayout(self)
        layout.setSpacing(style.L)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(style.S)
        layout.addLayout(grid)
        layout.addStretch(2)

    def fit(self, available: int) -> None:
        width = min(available - 2 * style.L, style.column_width())
        side = max(style.L, (available - width) // 2)
        self.layout().setContentsMargins(side, style.XL, side, style.XL)
