"""Per-thread system prompt and sampling: each value either follows the app's
settings or is this thread's own, so changing a default later still reaches every
thread that did not choose otherwise. Values show as in Settings (app/ui/settings/fields.py)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.records import Thread
from app.settings import Settings
from app.ui.settings.fields import FIELDS as ALL_FIELDS
from app.ui.settings.fields import box_value, spin_box, with_help

# GenParams fields a thread may override.
FIELDS = {key: ALL_FIELDS[key] for key in ("temperature", "top_p", "top_k", "max_tokens", "seed", "think_budget")}


def _shown(key: str, value) -> str:
    """`value` as its box shows it ("random", "off", 0.8)."""
    field = FIELDS[key]
    if field.special and (value is None or value == field.low):
        return field.special
    return f"{value:g}" if isinstance(value, float) else f"{value:,}"


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
        for key, field in FIELDS.items():
            own = QCheckBox(field.label)
            default = getattr(defaults, key)
            box = spin_box(field, thread.settings.get(key, default))
            own.setChecked(key in thread.settings)
            box.setEnabled(own.isChecked())
            own.toggled.connect(box.setEnabled)
            holder = with_help(box, field)
            box.setToolTip(f"{field.help}\nIn Settings: {_shown(key, default)}")
            form.addRow(own, holder)
            self.boxes[key] = (own, box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.own_prompt)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(QLabel("Sampling (ticked values are this thread's own; the others follow Settings):"))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(600, 640)

    def system_prompt(self) -> str | None:
        """None: follow the app's default prompt."""
        return self.prompt.toPlainText() if self.own_prompt.isChecked() else None

    def overrides(self) -> dict:
        return {key: box_value(FIELDS[key], box) for key, (own, box) in self.boxes.items() if own.isChecked()}
