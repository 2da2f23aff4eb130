"""The thread list as a Qt model, updated row by row.

`sync` takes the threads as the store lists them and applies the difference as row
removals, moves, insertions and data changes, so the view keeps its selection and
scroll position and a change costs what changed, not the whole list.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.records import Thread
from app.ui.plain import tip

ThreadIdRole = Qt.ItemDataRole.UserRole


class ThreadListModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._threads: list[Thread] = []

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._threads)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._threads):
            return None
        thread = self._threads[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return thread.title  # a QListView item draws plain text
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip(thread.title)  # a tooltip guesses rich text: a title is never markup
        if role == ThreadIdRole:
            return thread.id
        return None

    def thread_id(self, row: int) -> int | None:
        return self._threads[row].id if 0 <= row < len(self._threads) else None

    def row_of(self, thread_id: int | None) -> int:
        return next((i for i, t in enumerate(self._threads) if t.id == thread_id), -1)

    def sync(self, threads: list[Thread]) -> None:
        """Make the rows equal `threads` (in that order) with row-level changes."""
        wanted = {t.id for t in threads}
        for row in range(len(self._threads) - 1, -1, -1):  # gone (deleted, or filtered out)
            if self._threads[row].id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._threads[row]
                self.endRemoveRows()
        for target, thread in enumerate(threads):
            row = self.row_of(thread.id)
            if row == -1:
                self.beginInsertRows(QModelIndex(), target, target)
                self._threads.insert(target, thread)
                self.endInsertRows()
                continue
            if row != target:  # newer activity moves a thread up
                self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), target)
                self._threads.insert(target, self._threads.pop(row))
                self.endMoveRows()
            if self._threads[target] != thread:
                self._threads[target] = thread
                index = self.index(target)
                self.dataChanged.emit(index, index)
