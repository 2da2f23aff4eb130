"""The settings dialog: edits a copy of Settings and hands back the new one."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
    QHBoxLayout, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from app.settings import Settings

LAYOUTS = [("Side by side when wide", "auto"), ("Always side by side", "side"), ("Thinking above the answer", "stacked")]
THEMES = [("Follow the system", "system"), ("Light", "light"), ("Dark", "dark")]


def _spin(low: int, high: int, value: int, special: str | None = None) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)  # shown at the minimum
    return box


def _dspin(low: float, high: float, step: float, value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    return box


def _combo(options: list[tuple[str, str]], value: str) -> QComboBox:
    box = QComboBox()
    for label, key in options:
        box.addItem(label, key)
    box.setCurrentIndex(max(0, [k for _, k in options].index(value) if value in [k for _, k in options] else 0))
    return box


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setMinimumHeight(120)
        self.temperature = _dspin(0.0, 2.0, 0.05, settings.temperature)
        self.top_p = _dspin(0.0, 1.0, 0.01, settings.top_p)
        self.top_k = _spin(0, 1000, settings.top_k, "off")
        self.max_tokens = _spin(16, 131072, settings.max_tokens)
        self.seed = _spin(-1, 2**31 - 1, -1 if settings.seed is None else settings.seed, "random")
        self.context_size = _spin(0, 131072, settings.context_size, "model's own (at most 16,384)")
        self.context_size.setSingleStep(1024)
        self.thinking_expanded = QCheckBox("Keep finished thinking expanded")
        self.thinking_expanded.setChecked(settings.thinking_expanded)
        self.layout_mode = _combo(LAYOUTS, settings.layout)
        self.theme = _combo(THEMES, settings.theme)
        self.models_dir = QLineEdit(settings.models_dir)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        models_row = QHBoxLayout()
        models_row.addWidget(self.models_dir, 1)
        models_row.addWidget(browse)

        form = QFormLayout()
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Max new tokens", self.max_tokens)
        form.addRow("Seed", self.seed)
        form.addRow("Context size", self.context_size)
        form.addRow("", self.thinking_expanded)
        form.addRow("Layout", self.layout_mode)
        form.addRow("Theme", self.theme)
        form.addRow("Models folder", models_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def result_settings(self) -> Settings:
        return self._base.with_changes(
            system_prompt=self.system_prompt.toPlainText().strip(),
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            max_tokens=self.max_tokens.value(),
            seed=None if self.seed.value() < 0 else self.seed.value(),
            context_size=self.context_size.value(),
            thinking_expanded=self.thinking_expanded.isChecked(),
            layout=self.layout_mode.currentData(),
            theme=self.theme.currentData(),
            models_dir=self.models_dir.text().strip(),
        )

    def _defaults(self) -> None:
        defaults = Settings()
        self.system_prompt.setPlainText(defaults.system_prompt)
        self.temperature.setValue(defaults.temperature)
        self.top_p.setValue(defaults.top_p)
        self.top_k.setValue(defaults.top_k)
        self.max_tokens.setValue(defaults.max_tokens)
        self.seed.setValue(-1)
        self.context_size.setValue(defaults.context_size)
        self.thinking_expanded.setChecked(defaults.thinking_expanded)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Models folder", self.models_dir.text())
        if path:
            self.models_dir.setText(path)
