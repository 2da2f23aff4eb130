"""In the status bar while the local server is on: 'Server on :8765', what it is doing,
and (loudly) when other computers can reach it. A click opens its settings."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton, QStatusBar

from app.ui.plain import tip
from app.ui.serve.serve_controller import ServeState

WINDOW_WAITS = "Your question waits for another app's request to finish…"


class ServerIndicator(QPushButton):
    def __init__(self, status_bar: QStatusBar) -> None:
        super().__init__()
        self.setObjectName("serverIndicator")
        self.setFlat(True)
        self._bar = status_bar
        self._waiting_shown = False
        self.hide()

    def show_state(self, state: ServeState) -> None:
        if state.error:
            text = "Server off: see Settings"
        elif state.exposed:
            text = f"Server open to the network on {state.host}:{state.port}"
        else:
            text = f"Server on :{state.port}"
        if state.on and (state.running or state.waiting):
            activity = state.activity()
            text += f" · {activity[0].lower()}{activity[1:]}"
        self.setText(text)
        self.setProperty("warn", bool(state.error or state.exposed))
        self.style().unpolish(self)
        self.style().polish(self)
        self.setToolTip(tip(state.line() + "\nClick for Settings > Local server."))
        self.setVisible(state.on or bool(state.error))
        if state.window_waits and not self._waiting_shown:
            self._bar.showMessage(WINDOW_WAITS)  # until the reply starts
        elif not state.window_waits and self._waiting_shown and self._bar.currentMessage() == WINDOW_WAITS:
            self._bar.clearMessage()
        self._waiting_shown = state.window_waits
