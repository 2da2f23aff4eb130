"""The person's settings while the window runs: one holder every part reads, one signal
when they change (main.py saves them; the model session reloads when a load option
changed). Passed in, never global."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.settings import Settings


class AppSettings(QObject):
    changed = Signal(object, object)  # new Settings, previous Settings

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.value = settings or Settings()

    def apply(self, settings: Settings) -> None:
        previous, self.value = self.value, settings
        self.changed.emit(settings, previous)

    def update(self, **changes) -> None:
        self.apply(self.value.with_changes(**changes))
