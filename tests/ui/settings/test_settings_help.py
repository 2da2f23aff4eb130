"""Settings explain each sampling value and name the model card's defaults, and a value
reads the same in Settings as in a thread's own settings."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.core.records import Thread
from app.settings import Settings
from app.ui.settings.settings_dialog import SettingsDialog
from app.ui.settings.thread_settings_dialog import ThreadSettingsDialog


def help_under(box) -> str:
    return " ".join(label.text() for label in box.parentWidget().findChildren(QLabel) if label.objectName() == "helpText")


def test_each_sampling_value_has_a_line_of_help_with_the_card_default(qtbot):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert "0.8" in help_under(dialog.temperature) and "model card" in help_under(dialog.temperature)
    assert "0.95" in help_under(dialog.top_p)
    assert "50" in help_under(dialog.top_k) and "off" in help_under(dialog.top_k)
    assert "Random" in help_under(dialog.seed)
    assert "16,384" in help_under(dialog.context_size) and "memory" in help_under(dialog.context_size)
    assert help_under(dialog.max_tokens)


def test_a_value_shows_the_same_in_settings_and_thread_settings(qtbot):
    defaults = Settings(temperature=0.8, top_k=0, seed=None)
    settings = SettingsDialog(defaults)
    thread = ThreadSettingsDialog(Thread(1, "T", 0.0, 0.0, None, {"top_k": 0, "seed": None}), defaults)
    qtbot.addWidget(settings)
    qtbot.addWidget(thread)
    for key in ("temperature", "top_p", "top_k", "max_tokens", "seed"):
        _own, box = thread.boxes[key]
        assert box.text() == getattr(settings, key).text(), key
    assert settings.seed.text() == "random" and settings.top_k.text() == "off"
    assert thread.overrides() == {"top_k": 0, "seed": None}  # "random" stays random, not seed -1
    assert settings.result_settings().seed is None
    assert "In Settings: random" in thread.boxes["seed"][1].toolTip()
