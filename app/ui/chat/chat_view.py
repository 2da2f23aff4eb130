"""The conversation: a scrolling reading column of message widgets, centred in the view,
or a greeting with example questions while the thread is empty."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from app.core.records import StoredMessage
from app.ui import style
from app.ui.chat.empty_state import EmptyState
from app.ui.chat.message_widget import MessageWidget


class ChatView(QScrollArea):
    regenerate_requested = Signal(int)
    edit_requested = Signal(int)
    edit_submitted = Signal(int, str)  # a question edited in place: message id, new text
    delete_requested = Signal(int)
    branch_requested = Signal(int, int)
    reasoning_toggled = Signal(int, bool)
    example_chosen = Signal(str)  # an example question from the empty thread's greeting
    thinking_changed = Signal(bool)  # the streaming reply entered (True) or left its thinking

    def __init__(self, layout_mode: str = "auto", thinking_expanded: bool = False, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        self._inner.setObjectName("chatColumn")
        self._inner.installEventFilter(self)  # its width decides the column's margins
        self._column = QVBoxLayout(self._inner)
        self._column.setContentsMargins(0, style.L, 0, style.L)
        self._column.setSpacing(style.S)
        self.empty = EmptyState()
        self.empty.example_chosen.connect(self.example_chosen)
        self._column.addWidget(self.empty, 1)
        self._column.addStretch(0)
        self.setWidget(self._inner)
        self.layout_mode = layout_mode
        self.thinking_expanded = thinking_expanded
        self.dark = dark
        self.widgets: dict[int, MessageWidget] = {}
        self._live: tuple[int, float] | None = None  # streaming message id, start time
        self._thinking = False
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
        self._show_empty(not self.widgets)
        self._pin_newest()
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
        widget.edit_submitted.connect(self.edit_submitted)
        widget.delete_requested.connect(self.delete_requested)
        widget.branch_requested.connect(self.branch_requested)
        widget.reasoning_toggled.connect(self.reasoning_toggled)
        self._column.insertWidget(self._column.count() - 1, widget)
        self.widgets[message.id] = widget
        widget.fit(self._inner.width())
        return widget

    def _show_empty(self, empty: bool) -> None:
        self.empty.setVisible(empty)
        # The greeting sits in the middle of an empty view; messages start at the top.
        self._column.setStretch(self._column.count() - 1, 0 if empty else 1)

    def _pin_newest(self) -> None:
        """The newest reply keeps its actions in view, as chat apps do; the rest show on hover."""
        ids = list(self.widgets)
        for n, message_id in enumerate(ids):
            widget = self.widgets[message_id]
            widget.set_pinned(n == len(ids) - 1 and widget.message.role == "assistant")

    def apply_events(self, message_id: int, events: list) -> None:
        widget = self.widgets.get(message_id)
        if widget is not None:
            widget.apply_events(events)
            self._set_thinking(widget.thinking_live)

    def finish(self, message: StoredMessage) -> None:
        widget = self.widgets.get(message.id)
        if widget is not None:
            widget.show_final(message)
        if self._live and self._live[0] == message.id:
            self._stop_live()

    @property
    def thinking_now(self) -> bool:
        """A reply is streaming and is in its thinking part (Answer now applies)."""
        return self._thinking

    def _set_thinking(self, on: bool) -> None:
        if on != self._thinking:
            self._thinking = on
            self.thinking_changed.emit(on)

    # -- editing a question in place -------------------------------------------------------

    def begin_edit(self, message_id: int) -> bool:
        """Turn the question's bubble into an editor; False if it is not shown."""
        widget = self.widgets.get(message_id)
        if widget is None or widget.message.role != "user":
            return False
        widget.begin_edit()
        self.ensureWidgetVisible(widget.editor)
        return True

    def end_edit(self, message_id: int) -> None:
        widget = self.widgets.get(message_id)
        if widget is not None:
            widget.end_edit()

    # -- live "Thinking… N s" ----------------------------------------------------------------

    def _start_live(self, message_id: int) -> None:
        self._live = (message_id, time.monotonic())
        self._tick.start()

    def _stop_live(self) -> None:
        self._live = None
        self._tick.stop()
        self._set_thinking(False)

    def _update_live(self) -> None:
        if self._live:
            widget = self.widgets.get(self._live[0])
            if widget is not None:
                widget.set_live_seconds(time.monotonic() - self._live[1])

    # -- look and layout -----------------------------------------------------------------------

    def set_dark(self, dark: bool) -> None:
        """Colours for a light or a dark background: every message is drawn again in them."""
        if dark == self.dark:
            return
        self.dark = dark
        for widget in self.widgets.values():
            widget.set_dark(dark)

    @property
    def side_by_side(self) -> bool:
        if self.layout_mode == "side":
            return True
        if self.layout_mode == "stacked":
            return False
        # Beside the answer where the view has room for it left of the reading column, so
        # opening the thinking never moves or narrows the answer.
        return style.beside_room(self.viewport().width()) >= style.THINKING_MIN

    def set_layout_mode(self, mode: str) -> None:
        self.layout_mode = mode
        self._relayout()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._relayout()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._inner and event.type() == QEvent.Type.Resize:
            self._fit(event.size().width())
        return False

    def _relayout(self) -> None:
        side = self.side_by_side
        for widget in self.widgets.values():
            widget.set_side_by_side(side)

    def _fit(self, width: int) -> None:
        self.empty.fit(width)
        for widget in self.widgets.values():
            widget.fit(width)

    # -- scrolling: follow the stream unless the person scrolled up -----------------------------

    def _track_follow(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4

    def _keep_at_bottom(self, _min: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def shutdown(self) -> None:
        self._stop_live()
