"""Settings > Memory and disk > Saved conversations: the size in GB (0 = off) and Clear, which
asks first, says what it frees and empties the real store's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.saved_states import MIN_TOKENS, StateKey, StateStore
from app.settings import Settings
from app.ui.dialogs import Dialogs
from app.ui.settings.settings_dialog import SettingsDialog

KEY = StateKey("/models/m.gguf", 1000, 1, 4096, "f16", "None", "test")
STATE_BYTES = 300_000


def writer(size: int):
    def write(path: Path) -> bool:
        path.write_bytes(b"\x01" * size)
        return True
    return write


@pytest.fixture
def states(tmp_path) -> StateStore:
    """A real store holding two saved conversations of STATE_BYTES each."""
    store = StateStore(tmp_path / "context-states")
    for first in (1, 2):
        tokens = [first] + list(range(10, 10 + MIN_TOKENS))
        assert store.save(KEY, tokens, STATE_BYTES, writer(STATE_BYTES))
    assert store.usage_bytes() == 2 * STATE_BYTES
    return store


def opened(qtbot, states, settings: Settings | None = None) -> SettingsDialog:
    dialog = SettingsDialog(settings or Settings(), states=states, page="memory")
    qtbot.addWidget(dialog)
    row = dialog.saved_states
    qtbot.waitUntil(lambda: not row.busy)
    return dialog


def test_clear_asks_with_what_it_frees_then_empties_the_folder(qtbot, states, monkeypatch):
    dialog = opened(qtbot, states)
    row = dialog.saved_states
    assert dialog.pages.currentWidget() is dialog.memory_page
    assert row.clear_button.text() == "Clear (under 0.1 GB used)" and row.clear_button.isEnabled()
    asked = []
    monkeypatch.setattr(Dialogs, "confirm", staticmethod(lambda parent, title, question, action:
                                                         asked.append((title, question, action)) or True))
    row.clear_button.click()
    qtbot.waitUntil(lambda: not row.busy)
    (title, question, action), = asked
    assert title == "Clear saved conversations"
    assert action == "Clear" and "frees under 0.1 GB" in question and "Threads and their messages stay" in question
    assert states.usage_bytes() == 0 and not list(states.root.glob("*.state")) and not list(states.root.glob("*-*.json"))
    assert row.clear_button.text() == "Clear (0 GB used)" and not row.clear_button.isEnabled()
    assert row.note.text() == "Freed under 0.1 GB."


def test_saying_no_keeps_everything(qtbot, states, monkeypatch):
    dialog = opened(qtbot, states)
    monkeypatch.setattr(Dialogs, "confirm", staticmethod(lambda *a: False))
    dialog.saved_states.clear_button.click()
    assert not dialog.saved_states.busy and states.usage_bytes() == 2 * STATE_BYTES
    assert len(list(states.root.glob("*.state"))) == 2


def test_an_empty_store_has_nothing_to_clear_and_no_store_no_button(qtbot, tmp_path):
    empty = opened(qtbot, StateStore(tmp_path / "empty"))
    row = empty.saved_states
    assert row.clear_button.text() == "Clear (0 GB used)" and not row.clear_button.isEnabled()
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert dialog.saved_states.clear_button.isHidden() and not dialog.saved_states.busy


def test_clear_from_the_windows_settings_empties_the_windows_store(make_app, states, monkeypatch):
    app = make_app(states)
    app.load()
    seen = []

    def run(dialog) -> bool:
        row = dialog.saved_states
        app.qtbot.waitUntil(lambda: not row.busy)
        row.clear()
        app.qtbot.waitUntil(lambda: not row.busy)
        seen.append(row.clear_button.text())
        return True

    monkeypatch.setattr(Dialogs, "confirm", staticmethod(lambda *a: True))
    monkeypatch.setattr("app.ui.settings.settings_dialog.SettingsDialog.exec", run)
    app.window.open_settings("memory")
    assert seen == ["Clear (0 GB used)"] and states.usage_bytes() == 0
