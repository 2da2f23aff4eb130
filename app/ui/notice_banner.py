"""Notices: a banner above the conversation for what needs the person's choice (a model
that failed to load, no model to send to), and the status bar's passing messages.

A failure is shown where it happened, with the buttons that deal with it; the status
bar only carries short news ("Added …", "Thread deleted.") that goes away by itself, so
it never hides the speed readout for long.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton, QWidget

from app.ui.plain import button_text, plain_label, tip

NOTICE_MS = 5000  # how long a status-bar notice stays (longer ones stay longer, see notice_ms)
# An error from outside may hold megabytes; the banner shows the start and the tooltip more.
MAX_BANNER_CHARS = 600

# Tinted, not solid: the same colours read well on the light and the dark palette.
_STYLE = """
#noticeBanner[kind="error"] {{ background: rgba(192, 57, 43, 0.10); border: 1px solid rgba(192, 57, 43, 0.55);
                               border-radius: 6px; }}
#noticeBanner[kind="info"] {{ background: rgba(61, 111, 180, 0.10); border: 1px solid rgba(61, 111, 180, 0.50);
                              border-radius: 6px; }}
#noticeText {{ background: transparent; border: none; }}
#noticeClose {{ border: none; background: transparent; font-size: {close}px; padding: 0 4px; }}
"""

Action = tuple[str, Callable[[], object]]


def notice_ms(text: str) -> int:
    """How long a passing notice stays: NOTICE_MS, more for a long one (read at ~15 chars a second)."""
    return max(NOTICE_MS, min(3 * NOTICE_MS, len(text) * 1000 // 15))


class NoticeBanner(QFrame):
    """One notice at a time: an icon, the text (always plain), action buttons, and ×.

    An action hides the banner before it runs, so an action that leads to another
    notice (a retry that fails again) shows that one. `key` names what the notice is
    about, so the code that showed it can take it back (`clear(key)`) once it is moot."""

    dismissed = Signal()  # closed with ×

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.setProperty("kind", "error")
        self.setStyleSheet(_STYLE.format(close=self.font().pointSize() + 8 if self.font().pointSize() > 0 else 18))
        self.key: str | None = None
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.label = plain_label()  # an exception's or a model file's words
        self.label.setObjectName("noticeText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setObjectName("noticeClose")
        self.close_button.setText("×")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self._close_clicked)
        self.actions_row = QHBoxLayout()
        self.actions_row.setContentsMargins(0, 0, 0, 0)
        self.actions_row.setSpacing(8)
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 6, 8)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(6)
        grid.addWidget(self.icon, 0, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.label, 0, 1)
        grid.addWidget(self.close_button, 0, 2, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(self.actions_row, 1, 1)
        grid.setColumnStretch(1, 1)
        self._buttons: list[QPushButton] = []
        self.hide()

    def show_notice(self, text: str, actions: Sequence[Action] = (), kind: str = "error",
                    key: str | None = None) -> None:
        """Show `text` (plain) with a button per (label, callback) in `actions`."""
        self.key = key
        shown = text if len(text) <= MAX_BANNER_CHARS else text[: MAX_BANNER_CHARS - 1] + "…"
        self.label.setText(shown)
        self.label.setToolTip(tip(text) if shown != text else "")
        if self.property("kind") != kind:
            self.setProperty("kind", kind)
            self.style().unpolish(self)
            self.style().polish(self)
        icon = QStyle.StandardPixmap.SP_MessageBoxWarning if kind == "error" else \
            QStyle.StandardPixmap.SP_MessageBoxInformation
        self.icon.setPixmap(self.style().standardIcon(icon).pixmap(20, 20))
        for button in self._buttons:
            self.actions_row.removeWidget(button)
            button.deleteLater()
        self._buttons = []
        while self.actions_row.count():  # the stretch after the buttons
            self.actions_row.takeAt(0)
        for i, (label, callback) in enumerate(actions):
            button = QPushButton(button_text(label))
            button.setAutoDefault(False)
            button.setDefault(i == 0)
            button.clicked.connect(lambda _=False, run=callback: self._act(run))
            self.actions_row.addWidget(button)
            self._buttons.append(button)
        self.actions_row.addStretch(1)
        self.show()

    def clear(self, key: str | None = None) -> None:
        """Hide the notice (only if it is about `key`, when given)."""
        if key is None or key == self.key:
            self.key = None
            self.hide()

    # -- what tests and callers read ------------------------------------------------------

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()

    def action_labels(self) -> list[str]:
        return [b.text().replace("&&", "&") for b in self._buttons]

    def button(self, label: str) -> QPushButton | None:
        """The action button whose label is `label` (as passed to show_notice)."""
        return next((b for b in self._buttons if b.text() == button_text(label)), None)

    # -- reactions ----------------------------------------------------------------------

    def _act(self, callback: Callable[[], object]) -> None:
        self.clear()
        callback()

    def _close_clicked(self) -> None:
        self.clear()
        self.dismissed.emit()
