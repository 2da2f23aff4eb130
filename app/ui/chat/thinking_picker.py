"""The composer's thinking choice: how long the next replies may think (Quick, Normal,
Long, No limit), or an answer without thinking. "Default thinking" follows the thread's
own setting (Thread settings), else the app's."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

from app.core.thinking import LABELS, LEVELS

DIRECT = "direct"
CHOICES: list[tuple[str, str | None, str]] = [
    ("Default thinking", None,
     "Think as long as this thread's settings allow (Thread settings), else as Settings say."),
    *[(f"{LABELS[k]} ({v // 1000}k)" if v else LABELS[k], k,
       f"Think at most {v:,} tokens, then answer." if v else "Think as long as the model likes.")
      for k, v in LEVELS.items()],
    ("Answer directly", DIRECT, "Skip the thinking: the reply starts with its answer."),
]


class ThinkingPicker(QComboBox):
    choice_changed = Signal(object)  # dict of GenParams changes for the messages sent, or None

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("thinkingPicker")
        self.setAccessibleName("Thinking for the next message")
        self.setToolTip("How long the reply may think")
        for i, (label, key, tip) in enumerate(CHOICES):
            self.addItem(label, key)
            self.setItemData(i, tip, 3)  # Qt.ToolTipRole
        self.currentIndexChanged.connect(lambda _i: self.choice_changed.emit(self.choice()))

    def choice(self) -> dict | None:
        """What the choice changes for a message: a budget, Answer directly, or nothing."""
        key = self.currentData()
        if key is None:
            return None
        if key == DIRECT:
            return {"answer_directly": True}
        return {"think_budget": LEVELS[key], "answer_directly": False}

    def choose(self, key: str | None) -> None:
        self.setCurrentIndex(max(0, self.findData(key)))
