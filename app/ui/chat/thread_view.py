"""The thread list's view: rows of different heights (headers, snippets), group headers
that take no clicks, the ⋯ button on a row, and the Delete key."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QStyleOptionViewItem

from app.ui.chat.thread_delegate import ThreadDelegate


class ThreadListView(QListView):
    delete_requested = Signal(QModelIndex)  # the Delete key on a thread
    menu_requested = Signal(QModelIndex, QPoint)  # the ⋯ button: the thread, where its menu opens (global)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("threadList")
        self.hover_pos: QPoint | None = None  # in the viewport; the delegate draws hover from it
        self.delegate = ThreadDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setMouseTracking(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.DoubleClicked)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._swallowed = False  # a press the view did not see: its release is not a click

    def empty_text(self) -> str:
        """What the list says when it has no rows: how to start, or that a search found nothing."""
        searching = bool(self.property("searching"))
        return ("No thread matches this search." if searching
                else "No threads yet.\nAsk a question below to start one, or press Ctrl+N.")

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            area = self.viewport().rect().adjusted(12, 24, -12, 0)
            painter.drawText(area, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                                       | Qt.TextFlag.TextWordWrap), self.empty_text())
            painter.end()

    def setModel(self, model) -> None:  # noqa: N802 (Qt's name)
        super().setModel(model)
        # A row's height follows its header and snippet, which come and go with dataChanged.
        model.dataChanged.connect(lambda *_: self.scheduleDelayedItemsLayout())

    # -- where the mouse is -------------------------------------------------------------

    def _option(self, index: QModelIndex) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        option.rect = self.visualRect(index)
        return option

    def zone(self, pos: QPoint) -> tuple[str, QModelIndex]:
        """("header" | "button" | "item" | "", index) under `pos` (viewport coordinates)."""
        index = self.indexAt(pos)
        if not index.isValid():
            return "", index
        option = self._option(index)
        if not self.delegate.item_rect(option, index).contains(pos):
            return "header", index
        if self.delegate.button_rect(option, index).contains(pos):
            return "button", index
        return "item", index

    def thread_index_at(self, pos: QPoint) -> QModelIndex:
        """The thread row under `pos`, or an invalid index over a group header or nothing."""
        zone, index = self.zone(pos)
        return index if zone in ("item", "button") else QModelIndex()

    def button_anchor(self, index: QModelIndex) -> QPoint:
        """Where the ⋯ menu of `index` opens, in global coordinates."""
        rect = self.delegate.button_rect(self._option(index), index)
        return self.viewport().mapToGlobal(rect.bottomLeft())

    # -- events ------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        zone, index = self.zone(event.position().toPoint())
        self._swallowed = zone in ("header", "button")
        if zone == "button" and event.button() == Qt.MouseButton.LeftButton:
            self.menu_requested.emit(index, self.button_anchor(index))
        if self._swallowed:
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._swallowed:
            self._swallowed = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.zone(event.position().toPoint())[0] != "item":
            event.accept()  # a header or the ⋯ button: no rename
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.hover_pos = event.position().toPoint()
        self.viewport().update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.hover_pos = None
        self.viewport().update()
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if (event.key() == Qt.Key.Key_Delete and not event.modifiers()
                and self.state() != QAbstractItemView.State.EditingState and self.currentIndex().isValid()):
            self.delete_requested.emit(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)
