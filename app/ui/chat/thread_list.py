"""The thread list as a Qt model, updated row by row.

`sync` takes the threads as the store lists them and applies the difference as row
removals, moves, insertions and data changes, so the view keeps its selection and
scroll position and a change costs what changed, not the whole list.

Every row is a thread. The date groups (Today, Yesterday, ...) are not rows: a row
carries the name of the group it opens (GroupRole) and the delegate draws that header
above it, so keyboard moves and selection never land on a header.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app.core.records import Thread
from app.core.search_snippets import Snippet, match_spans
from app.core.thread_groups import date_group
from app.ui.plain import tip

ThreadIdRole = Qt.ItemDataRole.UserRole
GroupRole = Qt.ItemDataRole.UserRole + 1  # str: the date group this row opens, "" inside a group
SnippetRole = Qt.ItemDataRole.UserRole + 2  # Snippet | None: where a search matched the messages
TitleSpansRole = Qt.ItemDataRole.UserRole + 3  # [(start, end)]: where a search matched the title


@dataclass(frozen=True, slots=True)
class _Row:
    thread: Thread
    group: str
    snippet: Snippet | None
    spans: tuple[tuple[int, int], ...]


class ThreadListModel(QAbstractListModel):
    def __init__(self, parent=None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._clock = clock

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._rows)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        # Editable: F2 or a double-click renames in place (the delegate commits the title).
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.thread.title  # the delegate draws it as plain text
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip(row.thread.title)  # a tooltip guesses rich text: a title is never markup
        if role == ThreadIdRole:
            return row.thread.id
        if role == GroupRole:
            return row.group
        if role == SnippetRole:
            return row.snippet
        if role == TitleSpansRole:
            return list(row.spans)
        return None

    def thread_id(self, row: int) -> int | None:
        return self._rows[row].thread.id if 0 <= row < len(self._rows) else None

    def row_of(self, thread_id: int | None) -> int:
        return next((i for i, r in enumerate(self._rows) if r.thread.id == thread_id), -1)

    def _rows_for(self, threads: list[Thread], snippets: dict[int, Snippet], search: str) -> list[_Row]:
        now, rows, previous = self._clock(), [], None
        for thread in threads:
            group = date_group(thread.updated_at, now)
            spans = tuple(match_spans(thread.title, search))
            rows.append(_Row(thread, group if group != previous else "", snippets.get(thread.id), spans))
            previous = group
        return rows

    def sync(self, threads: list[Thread], snippets: dict[int, Snippet] | None = None, search: str = "") -> None:
        """Make the rows equal `threads` (in that order) with row-level changes; `search`
        and `snippets` say where a search matched (titles and messages)."""
        rows = self._rows_for(threads, snippets or {}, search)
        wanted = {r.thread.id for r in rows}
        for row in range(len(self._rows) - 1, -1, -1):  # gone (deleted, or filtered out)
            if self._rows[row].thread.id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        for target, new in enumerate(rows):
            row = self.row_of(new.thread.id)
            if row == -1:
                self.beginInsertRows(QModelIndex(), target, target)
                self._rows.insert(target, new)
                self.endInsertRows()
                continue
            if row != target:  # newer activity moves a thread up
                self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), target)
                self._rows.insert(target, self._rows.pop(row))
                self.endMoveRows()
            if self._rows[target] != new:  # a new title, a group header coming or going, a match
                self._rows[target] = new
                index = self.index(target)
                self.dataChanged.emit(index, index)
