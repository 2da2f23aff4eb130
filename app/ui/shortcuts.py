"""The window's keyboard shortcuts in one table: the menus take their keys from it and
Help > Keyboard shortcuts lists it, so the two cannot disagree. Also the few things a
key does that are more than one call (copy the last answer, edit the last question)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QVBoxLayout, QWidget

Keys = tuple[str | QKeySequence.StandardKey, ...]  # portable text ("Ctrl" is ⌘ on macOS) or a platform's standard


@dataclass(frozen=True, slots=True)
class Shortcut:
    name: str
    what: str
    keys: Keys
    where: str = ""  # "": anywhere in the window; else the widget that handles the key itself


WINDOW = ""
COMPOSER = "In the message box"
THREADS = "In the thread list"

SHORTCUTS = (
    Shortcut("new_thread", "New thread", ("Ctrl+N",)),
    Shortcut("find", "Search threads", ("Ctrl+F", "Ctrl+K")),
    Shortcut("toggle_sidebar", "Show or hide the threads", ("Ctrl+B",)),
    Shortcut("copy_answer", "Copy the last answer", ("Ctrl+Shift+C",)),
    Shortcut("stop", "Stop the reply being written", ("Esc",)),
    Shortcut("undo_delete", "Undo deleting a thread", ("Ctrl+Z",)),
    Shortcut("settings", "Settings", ("Ctrl+,",)),
    Shortcut("open_model", "Open a model file", (QKeySequence.StandardKey.Open,)),
    Shortcut("shortcuts", "Keyboard shortcuts", ("Ctrl+/",)),
    Shortcut("quit", "Quit", (QKeySequence.StandardKey.Quit,)),
    Shortcut("send", "Send", ("Enter",), COMPOSER),
    Shortcut("new_line", "New line", ("Shift+Enter",), COMPOSER),
    Shortcut("edit_last", "Edit the last question (when the box is empty)", ("Up",), COMPOSER),
    Shortcut("rename", "Rename the thread (or double-click it)", ("F2",), THREADS),
    Shortcut("delete", "Delete the thread", ("Del",), THREADS),
    Shortcut("move", "Move between threads", ("Up", "Down"), THREADS),
)
_BY_NAME = {s.name: s for s in SHORTCUTS}


def _portable(key: str) -> QKeySequence:
    return QKeySequence(key, QKeySequence.SequenceFormat.PortableText)


def key_sequences(name: str) -> list[QKeySequence]:
    """The key sequences of the shortcut `name`, for QAction.setShortcuts."""
    sequences: list[QKeySequence] = []
    for key in _BY_NAME[name].keys:
        if isinstance(key, QKeySequence.StandardKey):
            sequences += QKeySequence.keyBindings(key)  # none on some platforms (Quit on Windows)
        else:
            sequences.append(_portable(key))
    return sequences


def key_text(shortcut: Shortcut) -> str:
    """How the keys read on this platform ("Ctrl+Shift+C", "⇧⌘C")."""
    if shortcut.where != WINDOW:
        return " or ".join(shortcut.keys)
    native = QKeySequence.SequenceFormat.NativeText
    texts = []
    for key in shortcut.keys:  # a standard key by its main binding ("Ctrl+O", not also the Open key)
        sequence = QKeySequence(key) if isinstance(key, QKeySequence.StandardKey) else _portable(key)
        texts.append(sequence.toString(native))
    return " or ".join(t for t in texts if t)


def shortcut_text(name: str) -> str:
    """The keys of the shortcut `name` as this platform writes them, for tooltips."""
    return key_text(_BY_NAME[name])


class ShortcutsDialog(QDialog):
    """Help > Keyboard shortcuts: every row of SHORTCUTS, by where it works."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        grid = QGridLayout()
        grid.setHorizontalSpacing(24)
        self.shown: list[tuple[str, str]] = []  # (what, keys) as listed
        row = 0
        for where in (WINDOW, COMPOSER, THREADS):
            heading = QLabel(where or "Anywhere in the window")
            heading.setObjectName("shortcutsHeading")
            font = heading.font()
            font.setBold(True)
            heading.setFont(font)
            grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            for shortcut in (s for s in SHORTCUTS if s.where == where):
                keys = key_text(shortcut)
                if not keys:
                    continue  # a standard key this platform does not bind
                for column, text in enumerate((shortcut.what, keys)):
                    label = QLabel(text)
                    label.setTextFormat(Qt.TextFormat.PlainText)
                    grid.addWidget(label, row, column)
                self.shown.append((shortcut.what, keys))
                row += 1
            grid.setRowMinimumHeight(row, 8)
            row += 1
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(buttons)


class WindowKeys:
    """The window's shortcuts that do more than call one method."""

    def __init__(self, window) -> None:
        self.window = window  # MainWindow: its session, chat view and status bar

    def copy_last_answer(self) -> None:
        session = self.window.session
        answer = session.last_answer() if session is not None else None
        if not answer:
            self.window.statusBar().showMessage("There is no answer in this thread to copy yet.", 4000)
            return
        QGuiApplication.clipboard().setText(answer)
        self.window.statusBar().showMessage("Copied the last answer.", 3000)

    def edit_last_question(self) -> None:
        """Open the newest question for editing, the way its Edit button does."""
        session = self.window.session
        if session is None or session.busy:
            return
        message_id = session.last_question_id()
        if message_id is not None:
            self.window.chat.edit_requested.emit(message_id)

    def stop(self) -> None:
        if self.window.session is not None:
            self.window.session.stop()

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()  # window-modal, and the window's event loop goes on
        return dialog
