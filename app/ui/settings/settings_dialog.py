"""The settings dialog: edits a copy of Settings and hands back the new one. Each
sampling value has a line under it saying what it does and what the model card uses.
Three pages: General; Memory and disk (context size, the context cache's precision, the
disk kept for saved conversations); and Local server (app/ui/serve/server_page.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.settings import Settings
from app.ui.settings.fields import (
    CONTEXT,
    FIELDS,
    KV_CACHE,
    KV_CACHE_CHOICES,
    SAVED_STATES,
    box_value,
    spin_box,
    with_help,
)
from app.ui.settings.saved_states_row import SavedStatesRow

LAYOUTS = [("Beside the answer when the window is wide", "auto"), ("Always beside the answer", "side"),
           ("Above the answer", "stacked")]
THEMES = [("Follow the system", "system"), ("Light", "light"), ("Dark", "dark")]


def _combo(options: list[tuple[str, str]], value: str) -> QComboBox:
    box = QComboBox()
    for label, key in options:
        box.addItem(label, key)
    box.setCurrentIndex(max(0, [k for _, k in options].index(value) if value in [k for _, k in options] else 0))
    return box


MIN_WIDTH_PX = 600


class SettingsDialog(QDialog):
    """`server` (a ServeController) feeds the Local server page's live line and its new
    token; `states` (the window's StateStore) is what Clear empties; `page` "server" or
    "memory" opens on that page."""

    def __init__(self, settings: Settings, parent: QWidget | None = None, server=None,
                 page: str | None = None, states=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setMinimumHeight(120)
        self.temperature = spin_box(FIELDS["temperature"], settings.temperature)
        self.top_p = spin_box(FIELDS["top_p"], settings.top_p)
        self.top_k = spin_box(FIELDS["top_k"], settings.top_k)
        self.max_tokens = spin_box(FIELDS["max_tokens"], settings.max_tokens)
        self.seed = spin_box(FIELDS["seed"], settings.seed)
        self.think_budget = spin_box(FIELDS["think_budget"], settings.think_budget)
        self.think_budget.setSingleStep(1000)
        self.loop_auto_answer = QCheckBox("Answer when the model is caught repeating itself a second time")
        self.loop_auto_answer.setChecked(settings.loop_auto_answer)
        self.drafts = QCheckBox("Speed up replies that repeat the conversation's text (drafts, used where they pay)")
        self.drafts.setChecked(settings.drafts)
        self.context_size = spin_box(CONTEXT, settings.context_size)
        self.context_size.setSingleStep(1024)
        self.kv_cache = _combo(KV_CACHE_CHOICES, settings.kv_cache)
        self.saved_states = SavedStatesRow(states, settings.saved_states_gb)
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
        for key, box in (("temperature", self.temperature), ("top_p", self.top_p), ("top_k", self.top_k),
                         ("max_tokens", self.max_tokens), ("seed", self.seed), ("think_budget", self.think_budget)):
            form.addRow(FIELDS[key].label, with_help(box, FIELDS[key]))
        form.addRow("", self.loop_auto_answer)
        form.addRow("", self.drafts)
        form.addRow("", self.thinking_expanded)
        form.addRow("Open thinking", self.layout_mode)
        form.addRow("Theme", self.theme)
        form.addRow("Models folder", models_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._defaults)
        for button in buttons.buttons():
            button.setIcon(QIcon())  # plain text buttons, as in the rest of the window
        from app.ui.serve.server_page import ServerPage

        general = QWidget()
        general.setLayout(form)
        # Scrolls where the screen is short: Qt first shows a dialog at most 2/3 of the screen
        # tall, and its minimum ignores how tall the wrapped help lines get, so the rows overlapped.
        general_page = QScrollArea()
        general_page.setWidgetResizable(True)
        general_page.setFrameShape(QFrame.Shape.NoFrame)
        general_page.setWidget(general)
        general_page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        general_page.setMinimumWidth(general.minimumSizeHint().width() + general_page.verticalScrollBar().sizeHint().width())
        memory_form = QFormLayout()
        memory_form.addRow(CONTEXT.label, with_help(self.context_size, CONTEXT))
        memory_form.addRow(KV_CACHE.label, with_help(self.kv_cache, KV_CACHE))
        memory_form.addRow(SAVED_STATES.label, self.saved_states)
        self.memory_page = QWidget()
        self.memory_page.setLayout(memory_form)
        self.server_page = ServerPage(settings, server)
        self.pages = QTabWidget()
        self.pages.addTab(general_page, "General")
        self.pages.addTab(self.memory_page, "Memory and disk")
        self.pages.addTab(self.server_page, "Local server")
        if page in ("server", "memory"):
            self.pages.setCurrentWidget(self.server_page if page == "server" else self.memory_page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addWidget(buttons)
        self.setMinimumWidth(MIN_WIDTH_PX)  # help lines of two lines, not four
        # Tall enough for the whole General page where the screen allows (a scroll area asks for little).
        chrome = self.sizeHint().height() - general_page.sizeHint().height()
        screen = self.screen().availableGeometry().height() if self.screen() else 0
        tall = general.sizeHint().height() + chrome
        self.resize(self.sizeHint().width(), min(tall, int(screen * 0.85)) if screen else tall)

    def result_settings(self) -> Settings:
        return self._base.with_changes(
            system_prompt=self.system_prompt.toPlainText().strip(),
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            max_tokens=self.max_tokens.value(),
            seed=box_value(FIELDS["seed"], self.seed),
            think_budget=box_value(FIELDS["think_budget"], self.think_budget),
            loop_auto_answer=self.loop_auto_answer.isChecked(),
            drafts=self.drafts.isChecked(),
            context_size=self.context_size.value(),
            kv_cache=self.kv_cache.currentData(),
            saved_states_gb=self.saved_states.value(),
            thinking_expanded=self.thinking_expanded.isChecked(),
            layout=self.layout_mode.currentData(),
            theme=self.theme.currentData(),
            models_dir=self.models_dir.text().strip(),
            **self.server_page.values(),
        )

    def _defaults(self) -> None:
        defaults = Settings()
        self.system_prompt.setPlainText(defaults.system_prompt)
        self.temperature.setValue(defaults.temperature)
        self.top_p.setValue(defaults.top_p)
        self.top_k.setValue(defaults.top_k)
        self.max_tokens.setValue(defaults.max_tokens)
        self.seed.setValue(-1)
        self.think_budget.setValue(0)  # no limit
        self.loop_auto_answer.setChecked(defaults.loop_auto_answer)
        self.drafts.setChecked(defaults.drafts)
        self.context_size.setValue(defaults.context_size)
        self.kv_cache.setCurrentIndex(self.kv_cache.findData(defaults.kv_cache))
        self.saved_states.set_value(defaults.saved_states_gb)
        self.thinking_expanded.setChecked(defaults.thinking_expanded)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Models folder", self.models_dir.text())
        if path:
            self.models_dir.setText(path)
