"""A small download readout for the status bar, so a download stays visible with the dialog closed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from app.ui.models.download_text import percent, progress_text
from app.ui.models.model_manager import ModelManager


class DownloadIndicator(QWidget):
    clicked = Signal()  # open the models dialog

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.label = QToolButton()
        self.label.setAutoRaise(True)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(120)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self.label.clicked.connect(self.clicked)
        manager.download_started.connect(self._update)
        manager.download_progressed.connect(self._update)
        for signal in (manager.download_finished, manager.download_stopped, manager.download_failed):
            signal.connect(self._update)
        self.hide()

    def _update(self, *_) -> None:
        active = self.manager.active
        self.setVisible(active is not None)
        if active is None:
            return
        p = active.progress
        self.bar.setValue(percent(p))
        self.label.setText(f"Downloading {active.file.model_name} {active.file.quant}: {percent(p)}%")
        self.label.setToolTip(progress_text(p) if p is not None else "starting…")
