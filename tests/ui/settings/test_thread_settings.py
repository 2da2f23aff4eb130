"""A thread's own system prompt and sampling values reach the engine, survive a
restart, and leave other threads on the defaults."""

from app.ui.dialogs import Dialogs
from app.ui.settings.thread_settings_dialog import ThreadSettingsDialog


def test_own_prompt_and_sampling_reach_the_engine(make_app, monkeypatch):
    app = make_app()
    app.load()
    app.ask("First thread")
    first = app.session.thread_id

    def fill(dialog: ThreadSettingsDialog) -> bool:
        assert not dialog.own_prompt.isChecked()  # follows the default until chosen
        dialog.own_prompt.setChecked(True)
        dialog.prompt.setPlainText("You are terse.")
        own, box = dialog.boxes["temperature"]
        own.setChecked(True)
        box.setValue(0.3)
        own, box = dialog.boxes["seed"]
        own.setChecked(True)
        box.setValue(42)
        return True

    monkeypatch.setattr(Dialogs, "run", staticmethod(fill))
    app.window.edit_thread_settings(first)
    app.ask("Again")
    engine = app.engines[-1]
    assert engine.requests[-1][0].role == "system" and engine.requests[-1][0].content == "You are terse."
    assert (engine.params[-1].temperature, engine.params[-1].seed) == (0.3, 42)
    assert engine.params[-1].top_p == app.settings.value.top_p  # not overridden

    app.session.new_thread()
    app.ask("Other thread")
    assert engine.requests[-1][0].content == app.settings.value.system_prompt
    assert engine.params[-1].temperature == app.settings.value.temperature

    # A new window on the same file sees the thread's own values in its dialog.
    app.close()
    again = make_app()
    thread = again.store.get_thread(first)
    dialog = ThreadSettingsDialog(thread, again.settings.value)
    again.qtbot.addWidget(dialog)
    assert dialog.system_prompt() == "You are terse."
    assert dialog.overrides() == {"temperature": 0.3, "seed": 42}


def test_cancelled_dialog_changes_nothing(make_app, monkeypatch):
    app = make_app()
    app.load()
    app.ask("Hello")
    before = app.store.get_thread(app.session.thread_id).settings  # what answered ("engine"), nothing else
    monkeypatch.setattr(Dialogs, "run", staticmethod(lambda dialog: dialog.own_prompt.setChecked(True) or False))
    app.window.edit_thread_settings(app.session.thread_id)
    thread = app.store.get_thread(app.session.thread_id)
    assert thread.system_prompt is None and thread.settings == before == {"engine": ""}
