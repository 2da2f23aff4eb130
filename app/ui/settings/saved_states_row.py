"""Settings' "Saved conversations": the disk kept for threads' read prompts (GB, 0 = off) and a
button that empties the store, saying how much it holds.

Reading the folder's size and deleting it run off the GUI thread: the store holds its lock
while it writes a state after a reply (gigabytes for a long context), and the dialog must
not freeze until that write ends. The result is picked up by a short poll on the GUI thread,
so nothing from the worker touches a widget, and a dialog closed meanwhile just drops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.context_states import gb_text
from app.ui.dialogs import Dialogs
from app.ui.settings.fields import SAVED_STATES, help_label, spin_box

log = logging.getLogger(__name__)
POLL_MS = 50


class SavedStatesRow(QWidget):
    """`states`: the window's StateStore (None: no button, only the size)."""

    def __init__(self, states, gigabytes: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.states = states
        self.size = spin_box(SAVED_STATES, gigabytes)
        self.size.setDecimals(1)
        self.size.setSuffix(" GB")
        self.size.setToolTip(SAVED_STATES.help)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setEnabled(False)  # until the folder's size is known
        self.clear_button.clicked.connect(self.clear)
        self.clear_button.setVisible(states is not None)
        self.note = QLabel("")  # what the last clear freed
        self.note.setObjectName("helpText")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.size)
        row.addWidget(self.clear_button)
        row.addWidget(self.note, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(help_label(SAVED_STATES))
        self.used: int | None = None  # bytes in the store, once read
        self._job: tuple[threading.Thread, dict, Callable] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check)
        if states is not None:
            self._run(states.usage_bytes, self._show_used)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def value(self) -> float:
        return round(self.size.value(), 1)

    def set_value(self, gigabytes: float) -> None:
        self.size.setValue(gigabytes)

    def clear(self) -> None:
        """Ask, then empty the store (a reply streaming meanwhile is fine: the store locks)."""
        if self.states is None or self.busy:
            return
        held = f" ({gb_text(self.used)})" if self.used else ""
        question = (f"Delete the saved conversations{held}? This frees {gb_text(self.used or 0)} of disk. "
                    "Threads and their messages stay; a thread opened again reads its prompt in full once more.")
        if not Dialogs.confirm(self, "Clear saved conversations", question, "Clear"):
            return
        self.clear_button.setEnabled(False)
        self.clear_button.setText("Clearing…")
        self._run(self.states.clear, self._cleared)

    def _cleared(self, freed: int | None) -> None:
        self.note.setText(f"Freed {gb_text(freed)}." if freed else "")
        self._run(self.states.usage_bytes, self._show_used)  # a reply may have saved one meanwhile

    def _show_used(self, used: int | None) -> None:
        self.used = used
        if used is None:
            self.clear_button.setText("Clear")
            self.clear_button.setEnabled(True)
            return
        self.clear_button.setText(f"Clear ({gb_text(used)} used)")
        self.clear_button.setEnabled(used > 0)

    # -- off the GUI thread ----------------------------------------------------------------------

    def _run(self, work: Callable[[], int], then: Callable[[int | None], None]) -> None:
        box: dict = {}

        def task() -> None:
            try:
                box["result"] = work()
            except Exception:  # a cache's folder must never break the dialog
                log.exception("saved conversations: %s failed", getattr(work, "__name__", "work"))

        thread = threading.Thread(target=task, name="saved-states", daemon=True)
        self._job = (thread, box, then)
        thread.start()
        self._poll.start()

    def _check(self) -> None:
        if self._job is None or self._job[0].is_alive():
            return
        _, box, then = self._job
        self._job = None
        self._poll.stop()
        then(box.get("result"))
