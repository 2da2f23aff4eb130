"""The icon buttons under a message (copy, edit, regenerate, delete) and the ‹ n/m ›
switch between its versions.

The buttons show while the pointer is over the message or one of them has keyboard
focus, and always under the newest reply (as chat apps do): a long thread is not a
wall of buttons. Hidden ones are only transparent, so Tab still reaches them and the
text does not jump when they appear.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsOpacityEffect, QHBoxLayout, QLabel, QToolButton, QWidget

from app.ui import style
from app.ui.icons import icon

COPIED_MS = 1500  # how long a copy button shows its tick


class ActionBar(QWidget):
    def __init__(self, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("messageActions")
        self._dark = dark
        self._hover = False
        self._focus = False
        self._pinned = False
        self._effect = QGraphicsOpacityEffect(self)
        self.setGraphicsEffect(self._effect)
        self.buttons: dict[str, QToolButton] = {}
        self._icons: dict[str, str] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self._update()

    def add(self, key: str, icon_name: str, name: str) -> QToolButton:
        """A button with the icon `icon_name`; `name` is its tooltip and accessible name."""
        button = QToolButton()
        button.setObjectName(f"{key}Button")
        button.setAutoRaise(True)
        button.setIconSize(QSize(16, 16))
        button.setToolTip(name)
        button.setAccessibleName(name)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves no focus ring behind
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.installEventFilter(self)
        self.buttons[key] = button
        self._icons[key] = icon_name
        self._paint(key)
        self.layout().addWidget(button)
        return button

    def show_copied(self, key: str) -> None:
        """A tick in place of the button's icon for a moment: the copy happened."""
        button = self.buttons[key]
        button.setIcon(icon("check", style.colours(self._dark).muted))
        QTimer.singleShot(COPIED_MS, button, lambda: self._paint(key))

    def set_dark(self, dark: bool) -> None:
        self._dark = dark
        for key in self.buttons:
            self._paint(key)

    def _paint(self, key: str) -> None:
        self.buttons[key].setIcon(icon(self._icons[key], style.colours(self._dark).muted))

    # -- showing -----------------------------------------------------------------------

    @property
    def revealed(self) -> bool:
        return self._effect.opacity() > 0

    def set_hover(self, on: bool) -> None:
        self._hover = on
        self._update()

    def set_pinned(self, on: bool) -> None:
        self._pinned = on
        self._update()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            self._focus = any(b.hasFocus() for b in self.buttons.values()) or event.type() == QEvent.Type.FocusIn
            self._update()
        return False

    def _update(self) -> None:
        self._effect.setOpacity(1.0 if self._hover or self._focus or self._pinned else 0.0)


class BranchSwitch(QWidget):
    """‹ 2/3 ›: always shown when a message has other versions."""

    stepped = Signal(int)  # -1 or +1

    def __init__(self, index: int, count: int, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("branchSwitch")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        self.previous = self._button("chevron-left", "Previous version", dark)
        self.label = QLabel(f"{index}/{count}")
        self.label.setObjectName("branchLabel")
        self.label.setAccessibleName(f"Version {index} of {count}")
        self.next = self._button("chevron-right", "Next version", dark)
        self.previous.setEnabled(index > 1)
        self.next.setEnabled(index < count)
        self.previous.clicked.connect(lambda: self.stepped.emit(-1))
        self.next.clicked.connect(lambda: self.stepped.emit(1))
        for w in (self.previous, self.label, self.next):
            row.addWidget(w)

    @staticmethod
    def _button(icon_name: str, name: str, dark: bool) -> QToolButton:
        button = QToolButton()
        button.setAutoRaise(True)
        button.setIconSize(QSize(14, 14))
        button.setToolTip(name)
        button.setAccessibleName(name)
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.setProperty("icon_name", icon_name)
        button.setIcon(icon(icon_name, style.colours(dark).muted, 14))
        return button

    def set_dark(self, dark: bool) -> None:
        for button in (self.previous, self.next):
            button.setIcon(icon(button.property("icon_name"), style.colours(dark).muted, 14))
