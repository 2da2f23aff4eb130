"""The threads column: New thread, search, the list (a Qt model/view, grouped by date),
each thread's menu (rename in place, thread settings, delete), and collapsing to a
narrow rail (Ctrl+B, or by itself when the window gets narrow). It talks to the chat
session's public methods; the window decides what a thread's settings dialog and an
undo look like."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.thread_list import ThreadIdRole
from app.ui.chat.thread_view import ThreadListView
from app.ui.shortcuts import shortcut_text

AUTO_COLLAPSE_WIDTH = 900  # below this window width the column folds to its rail
EXPANDED_MIN_WIDTH = 140  # with the conversation's own minimum, still inside a 600 px window
DEFAULT_WIDTH = 260
MAX_SEARCH = 200  # characters


def _icon(kind: str, colour) -> QIcon:
    """A sidebar or a plus, drawn: no icon theme or font has to provide it."""
    pixmap = QPixmap(QSize(36, 36))
    pixmap.setDevicePixelRatio(2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, 1.4)
    painter.setPen(pen)
    if kind == "sidebar":
        painter.drawRoundedRect(QRectF(2.5, 3.5, 13, 11), 2.5, 2.5)
        painter.drawLine(QPoint(7, 4), QPoint(7, 14))
    else:
        painter.drawLine(QPoint(9, 3), QPoint(9, 15))
        painter.drawLine(QPoint(3, 9), QPoint(15, 9))
    painter.end()
    return QIcon(pixmap)


class ThreadSidebar(QWidget):
    settings_requested = Signal(int)  # thread id: open its settings
    deleted = Signal(int)  # thread id: deleted, undoable until the app quits
    new_requested = Signal()
    collapsed_changed = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("threadSidebar")
        self.session = None
        self.collapsed = False
        self._auto_collapsed = False  # folded by a narrow window, so a wide one unfolds it
        self._narrow = False
        self._watching = None  # the window whose width is followed
        self._width = DEFAULT_WIDTH  # the open column's width, restored on unfolding

        self.toggle_button = self._tool_button("Hide threads", "toggle_sidebar")
        self.toggle_button.clicked.connect(self.toggle)
        self.new_button = QPushButton("New thread")
        self.new_button.setObjectName("secondaryButton")
        self.new_button.setToolTip(f"New thread ({shortcut_text('new_thread')})")
        self.new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search threads")
        self.search.setClearButtonEnabled(True)
        self.search.setMaxLength(MAX_SEARCH)
        self.search.setToolTip(f"Search titles, answers and thinking ({shortcut_text('find')})")
        self.list = ThreadListView()

        self.panel = QWidget()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.toggle_button)
        top.addWidget(self.new_button, 1)
        panel_layout = QVBoxLayout(self.panel)
        panel_layout.setContentsMargins(0, 0, 0, 0)
        panel_layout.addLayout(top)
        panel_layout.addWidget(self.search)
        panel_layout.addWidget(self.list, 1)

        # Folded: a rail with the two buttons that matter most, like the open column's top.
        self.rail = QWidget()
        self.rail_toggle = self._tool_button("Show threads", "toggle_sidebar")
        self.rail_toggle.clicked.connect(self.toggle)
        self.rail_new = self._tool_button("New thread", "new_thread")
        self.rail_new.clicked.connect(self.new_requested)
        rail_layout = QVBoxLayout(self.rail)
        rail_layout.setContentsMargins(0, 0, 0, 0)
        rail_layout.addWidget(self.rail_toggle)
        rail_layout.addWidget(self.rail_new)
        rail_layout.addStretch(1)
        self.rail.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        layout.addWidget(self.panel)
        layout.addWidget(self.rail)
        self.setMinimumWidth(EXPANDED_MIN_WIDTH)
        self._paint_icons()

    @staticmethod
    def _tool_button(name: str, shortcut: str) -> QToolButton:
        button = QToolButton()
        button.setToolTip(f"{name} ({shortcut_text(shortcut)})")
        button.setAccessibleName(name)
        button.setAutoRaise(True)
        button.setIconSize(QSize(18, 18))
        return button

    def _paint_icons(self) -> None:
        colour = self.palette().color(QPalette.ColorRole.ButtonText)
        for button in (self.toggle_button, self.rail_toggle):
            button.setIcon(_icon("sidebar", colour))
        self.rail_new.setIcon(_icon("plus", colour))

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.PaletteChange:  # light <-> dark: redraw the icons
            self._paint_icons()
        super().changeEvent(event)

    def attach(self, session) -> None:
        """Show `session`'s threads and act on them."""
        self.session = session
        model = session.thread_model
        self.list.setModel(model)
        self.list.selectionModel().currentChanged.connect(self._clicked)
        model.rowsInserted.connect(self.select_current)
        model.rowsMoved.connect(self.select_current)
        self.search.textChanged.connect(self._search)
        self.list.customContextMenuRequested.connect(self._menu_at)
        self.list.menu_requested.connect(self._menu)
        self.list.delete_requested.connect(lambda index: self.delete(index.data(ThreadIdRole)))
        self.list.delegate.renamed.connect(session.rename_thread)
        session.busy_changed.connect(lambda busy: self.rail_new.setEnabled(not busy))

    def _search(self, text: str) -> None:
        self.list.setProperty("searching", bool(text.strip()))  # what the empty list says
        self.session.refresh_threads(text)
        self.list.viewport().update()

    def select_current(self, *_args) -> None:
        """Keep the open thread's row selected as rows come and move."""
        model = self.session.thread_model
        row = model.row_of(self.session.thread_id)
        if row < 0 or self.list.currentIndex() == model.index(row):
            return
        selection = self.list.selectionModel()
        selection.blockSignals(True)
        self.list.setCurrentIndex(model.index(row))
        selection.blockSignals(False)
        self.list.viewport().update()

    def _clicked(self, current, _previous=None) -> None:
        s = self.session
        thread_id = s.thread_model.thread_id(current.row()) if current.isValid() else None
        if thread_id is not None and not s.busy and thread_id != s.thread_id:
            s.select_thread(thread_id)

    # -- a thread's menu ------------------------------------------------------------------

    def _menu_at(self, pos: QPoint) -> None:
        index = self.list.thread_index_at(pos)
        if index.isValid():
            self._menu(index, self.list.viewport().mapToGlobal(pos))

    def _menu(self, index: QModelIndex, where: QPoint) -> None:
        thread_id = index.data(ThreadIdRole)
        menu = QMenu(self)
        menu.setObjectName("threadMenu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction("Rename", lambda: self.rename(thread_id)).setShortcut("F2")
        menu.addAction("Thread settings…", lambda: self.settings_requested.emit(thread_id))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete(thread_id)).setShortcut("Del")
        menu.popup(where)  # no nested event loop: the reply streaming now keeps being drawn

    def rename(self, thread_id: int) -> None:
        """Open the title of `thread_id` for editing in place (Enter saves, Esc cancels)."""
        row = self.session.thread_model.row_of(thread_id)
        if row < 0:
            return
        if self.collapsed:
            self.set_collapsed(False)
        index = self.session.thread_model.index(row)
        self.list.scrollTo(index)
        self.list.setFocus()
        self.list.edit(index)

    def delete(self, thread_id: int) -> None:
        self.session.delete_thread(thread_id)
        self.deleted.emit(thread_id)

    def focus_search(self) -> None:
        """Ctrl+F / Ctrl+K: unfold if folded, and put the cursor in the search box."""
        if self.collapsed:
            self.set_collapsed(False)
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- folding ------------------------------------------------------------------------

    def toggle(self) -> None:
        self.set_collapsed(not self.collapsed)

    def set_collapsed(self, collapsed: bool) -> None:
        """Fold the column to its rail (True) or open it again."""
        self._auto_collapsed = False
        if collapsed == self.collapsed:
            return
        splitter = self.parentWidget() if isinstance(self.parentWidget(), QSplitter) else None
        if collapsed:
            self._width = max(self.width(), EXPANDED_MIN_WIDTH)
            focus_inside = self.isAncestorOf(self.focusWidget()) if self.focusWidget() else False
            self.panel.hide()
            self.rail.show()
            rail = self.layout().contentsMargins().left() + self.rail.sizeHint().width()
            self.setMinimumWidth(rail)
            self.setMaximumWidth(rail)
            if focus_inside:
                self.rail_toggle.setFocus()
        else:
            self.rail.hide()
            self.panel.show()
            self.setMinimumWidth(EXPANDED_MIN_WIDTH)
            self.setMaximumWidth(16777215)  # QWIDGETSIZE_MAX
        if splitter is not None:  # a splitter keeps a child's share when its limits change
            self._resize_in(splitter, self.maximumWidth() if collapsed else self._width)
        self.collapsed = collapsed
        self.collapsed_changed.emit(collapsed)

    def _resize_in(self, splitter: QSplitter, width: int) -> None:
        """Give this column `width` and the rest of the splitter to the others."""
        sizes = splitter.sizes()
        at = splitter.indexOf(self)
        total = sum(sizes)
        others = [i for i in range(len(sizes)) if i != at]
        for i in others:  # the splitter keeps each within its own limits
            sizes[i] = (total - width) // len(others)
        sizes[at] = width
        splitter.setSizes(sizes)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        window = self.window()
        if window is not self and window is not self._watching:
            self._watching = window
            window.installEventFilter(self)
            parent = self.parentWidget()
            if isinstance(parent, QSplitter):  # dragged to nothing, the column could not come back
                parent.setCollapsible(parent.indexOf(self), False)
            self._follow_width(window.width())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self._watching and event.type() == QEvent.Type.Resize:
            self._follow_width(event.size().width())
        return False

    def _follow_width(self, width: int) -> None:
        """Fold when the window gets narrower than AUTO_COLLAPSE_WIDTH; unfold when it gets
        wider again, unless the person folded it themselves."""
        narrow = width < AUTO_COLLAPSE_WIDTH
        if narrow == self._narrow:
            return
        self._narrow = narrow
        if narrow and not self.collapsed:
            self.set_collapsed(True)
            self._auto_collapsed = True
        elif not narrow and self._auto_collapsed and self.collapsed:
            self.set_collapsed(False)
