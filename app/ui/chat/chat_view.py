"""The conversation: a scrolling column of message widgets."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from app.core.records import StoredMessage
from app.ui.chat.message_widget import MessageWidget

WIDE_PX = 900  # side-by-side thinking and answer from this width on ("auto" layout)


class ChatView(QScrollArea):
    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    delete_requested = Signal(int)
    branch_requested = Signal(int, int)
    reasoning_toggled = Signal(int, bool)

    def __init__(self, layout_mode: str = "auto", thinking_expanded: bool = False, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        self._column = QVBoxLayout(self._inner)
        self._column.setContentsMargins(8, 8, 8, 8)
        self._column.addStretch(1)
        self.setWidget(self._inner)
        self.layout_mode = layout_mode
        self.thinking_expanded = thinking_expanded
        self.dark = dark
        self.widgets: dict[int, MessageWidget] = {}
        self._live: tuple[int, float] | None = None  # streaming message id, start time
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._update_live)
        self._follow = True
        self.verticalScrollBar().rangeChanged.connect(self._keep_at_bottom)
        self.verticalScrollBar().valueChanged.connect(self._track_follow)

    # -- content -------------------------------------------------------------------------

    def set_messages(self, messages: list[StoredMessage], siblings: dict[int, tuple[int, int]] | None = None) -> None:
        """Show `messages`. Widgets for a shared leading run are kept as they are: sending
        a message only adds two widgets instead of rebuilding (and re-rendering) the thread."""
        siblings = siblings or {}
        shown = list(self.widgets)
        keep = 0
        while keep < min(len(shown), len(messages)) and shown[keep] == messages[keep].id \
                and messages[keep].state != "streaming":
            keep += 1
        for message_id in shown[keep:]:
            widget = self.widgets.pop(message_id)
            widget.setParent(None)
            widget.deleteLater()
        for message in messages[keep:]:
            self._add(message, siblings.get(message.id, (1, 1)))
        streaming = [m for m in messages if m.state == "streaming"]
        if streaming:
            self._start_live(streaming[-1].id)
        else:
            self._stop_live()
        self._follow = True

    def _add(self, message: StoredMessage, siblings: tuple[int, int]) -> MessageWidget:
        widget = MessageWidget(message, siblings, self.side_by_side, self.thinking_expanded, self.dark)
        widget.regenerate_requested.connect(self.regenerate_requested)
        widget.edit_requested.connect(self.edit_requested)
        widget.delete_requested.connect(self.delete_requested)
        widget.branch_requested.connect(self.branch_requested)
        widget.reasoning_toggled.connect(self.reasoning_toggled)
        self._column.insertWidget(self._column.count() - 1, widget)
        self.widgets[message.id] = widget
        return widget

    def apply_events(self, message_id: int, events: list) -> None:
        widget = self.widgets.get(message_id)
        if widget is not None:
            widget.apply_events(events)

    def finish(self, message: StoredMessage) -> None:
        widget = self.widgets.get(message.id)
        if widget is not None:
            widget.show_final(message)
        if self._live and self._live[0] == message.id:
            self._stop_live()

    # -- live "Thinking… N s" ----------------------------------------------------------------

    def _start_live(self, message_id: int) -> None:
        self._live = (message_id, time.monotonic())
        self._tick.start()

    def _stop_live(self) -> None:
        self._live = None
        self._tick.stop()

    def _update_live(self) -> None:
        if self._live:
            widget = self.widgets.get(self._live[0])
            if widget is not None:
                widget.set_live_seconds(time.monotonic() - self._live[1])

    # -- layout ------------------------------------------------------------------------------

    @property
    def side_by_side(self) -> bool:
        if self.layout_mode == "side":
            return True
        if self.layout_mode == "stacked":
            return False
        return self.width() >= WIDE_PX

    def set_layout_mode(self, mode: str) -> None:
        self.layout_mode = mode
        self._relayout()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        for widget in self.widgets.values():
            widget.set_side_by_side(self.side_by_side)

    # -- scrolling: follow the stream unless the person scrolled up -----------------------------

    def _track_follow(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4

    def _keep_at_bottom(self, _min: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def shutdown(self) -> None:
        self._stop_live()
