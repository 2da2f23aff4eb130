"""Per-thread system prompt and sampling: each value either follows the app's
settings or is this thread's own, so changing a default later still reaches every
thread that did not choose otherwise."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QPlainTextEdit,
    QSpinBox, QVBoxLayout, QWidget,
)

from app.core.records import Thread
from app.settings import Settings

# GenParams fields a thread may override: (label, low, high, step or None for ints).
FIELDS = {
    "temperature": ("Temperature", 0.0, 2.0, 0.05),
    "top_p": ("Top p", 0.0, 1.0, 0.01),
    "top_k": ("Top k", 0, 1000, None),
    "max_tokens": ("Max new tokens", 16, 131072, None),
    "seed": ("Seed", 0, 2**31 - 1, None),
}


class ThreadSettingsDialog(QDialog):
    def __init__(self, thread: Thread, defaults: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Thread settings: {thread.title}")
        self.own_prompt = QCheckBox("Own system prompt for this thread")
        self.prompt = QPlainTextEdit(thread.system_prompt if thread.system_prompt is not None else defaults.system_prompt)
        self.own_prompt.setChecked(thread.system_prompt is not None)
        self.prompt.setEnabled(self.own_prompt.isChecked())
        self.own_prompt.toggled.connect(self.prompt.setEnabled)
        form = QFormLayout()
        self.boxes: dict[str, tuple[QCheckBox, QSpinBox | QDoubleSpinBox]] = {}
        for key, (label, low, high, step) in FIELDS.items():
            own = QCheckBox(label)
            box: QSpinBox | QDoubleSpinBox
            if step is None:
                box = QSpinBox()
            else:
                box = QDoubleSpinBox()
                box.setSingleStep(step)
                box.setDecimals(2)
            box.setRange(low, high)
            default = getattr(defaults, key)
            value = thread.settings.get(key, default if default is not None else 0)
            box.setValue(value)
            own.setChecked(key in thread.settings)
            box.setEnabled(own.isChecked())
            own.toggled.connect(box.setEnabled)
            box.setToolTip(f"Default: {default if default is not None else 'random'}")
            form.addRow(own, box)
            self.boxes[key] = (own, box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.own_prompt)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(QLabel("Sampling (ticked values are this thread's own):"))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def system_prompt(self) -> str | None:
        """None: follow the app's default prompt."""
        return self.prompt.toPlainText() if self.own_prompt.isChecked() else None

    def overrides(self) -> dict:
        return {key: box.value() for key, (own, box) in self.boxes.items() if own.isChecked()}
