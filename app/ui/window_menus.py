"""The window's menu bar: File, Edit, View, Help, each entry with its shortcut from the one
table in app/ui/shortcuts.py. The window keeps the actions whose state changes later."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from app import APP_NAME
from app.ui.shortcuts import key_sequences as keys


def _action(window: QMainWindow, menu: QMenu, text: str, shortcuts, slot: Callable[[], object]) -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts(shortcuts)
    action.triggered.connect(lambda _=False: slot())
    menu.addAction(action)
    return action


class WindowMenus:
    """Builds the menu bar of `window` (a MainWindow) and holds the actions others enable,
    check or trigger: new_thread, undo_delete, stop, sidebar."""

    def __init__(self, window) -> None:
        w = window
        menu = w.menuBar().addMenu("&File")
        self.new_thread = _action(w, menu, "New thread", keys("new_thread"), w.new_thread)
        _action(w, menu, "Open model…", keys("open_model"), w.open_model_file)
        _action(w, menu, "Models…", None, w.open_models)
        _action(w, menu, "Connections…", None, lambda: w.engines and w.engines.open_dialog())
        _action(w, menu, "Import .gguf…", None, lambda: w.models and w.models.import_from_file_dialog())
        _action(w, menu, "Export thread as Markdown…", None, w.export_thread)
        _action(w, menu, "Thread settings…", None, lambda: w.edit_thread_settings(w.session.thread_id))
        _action(w, menu, "Settings…", keys("settings"), w.open_settings)
        menu.addSeparator()
        _action(w, menu, "Quit", keys("quit"), w.close)
        edit = w.menuBar().addMenu("&Edit")
        # Text boxes keep Ctrl+Z for their own undo; elsewhere it brings back the last deleted thread.
        self.undo_delete = _action(w, edit, "Undo delete thread", keys("undo_delete"), w.undo_delete)
        edit.addSeparator()
        _action(w, edit, "Copy last answer", keys("copy_answer"), w.keys.copy_last_answer)
        self.stop = _action(w, edit, "Stop reply", keys("stop"), w.keys.stop)
        self.stop.setEnabled(False)  # Esc belongs to dialogs and editors unless a reply is running
        edit.addSeparator()
        _action(w, edit, "Find threads", keys("find"), w.sidebar.focus_search)
        view = w.menuBar().addMenu("&View")
        self.sidebar = _action(w, view, "Threads column", keys("toggle_sidebar"), w.sidebar.toggle)
        self.sidebar.setCheckable(True)
        self.sidebar.setChecked(not w.sidebar.collapsed)
        w.sidebar.collapsed_changed.connect(lambda collapsed: self.sidebar.setChecked(not collapsed))
        help_menu = w.menuBar().addMenu("&Help")
        _action(w, help_menu, "Keyboard shortcuts", keys("shortcuts"), w.keys.show_shortcuts)
        _action(w, help_menu, f"About {APP_NAME}", None, w.show_about)
