"""The threads column: New thread, search, the list (a Qt model/view), and each
thread's menu (rename, thread settings, delete). It talks to the chat session's public
methods; the window decides what a thread's settings dialog and an undo look like."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QListView, QMenu, QPushButton, QVBoxLayout, QWidget

from app.ui.dialogs import Dialogs


class ThreadSidebar(QWidget):
    settings_requested = Signal(int)  # thread id: open its settings
    deleted = Signal(int)  # thread id: deleted, undoable until the app quits
    new_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search threads")
        self.search.setClearButtonEnabled(True)
        self.new_button = QPushButton("New thread")
        self.list = QListView()
        self.list.setObjectName("threadList")
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setUniformItemSizes(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list)

    def attach(self, session) -> None:
        """Show `session`'s threads and act on them."""
        self.session = session
        model = session.thread_model
        self.list.setModel(model)
        self.list.selectionModel().currentChanged.connect(self._clicked)
        model.rowsInserted.connect(self.select_current)
        model.rowsMoved.connect(self.select_current)
        self.new_button.clicked.connect(self.new_requested)
        self.search.textChanged.connect(lambda text: session.refresh_threads(text))
        self.list.customContextMenuRequested.connect(self._menu)

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

    def _menu(self, pos) -> None:
        index = self.list.indexAt(pos)
        if not index.isValid():
            return
        thread_id = self.session.thread_model.thread_id(index.row())
        title = index.data()
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(thread_id, title))
        menu.addAction("Thread settings…", lambda: self.settings_requested.emit(thread_id))
        menu.addAction("Delete", lambda: self.delete(thread_id))
        menu.exec(self.list.mapToGlobal(pos))

    def rename(self, thread_id: int, title: str) -> None:
        new = Dialogs.text(self, "Rename thread", "Title:", title)
        if new:
            self.session.rename_thread(thread_id, new)

    def delete(self, thread_id: int) -> None:
        self.session.delete_thread(thread_id)
        self.deleted.emit(thread_id)
