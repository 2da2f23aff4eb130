from app.settings import Settings, load_settings, save_settings, settings_path
from app.ui.settings.settings_dialog import SettingsDialog


def test_dialog_round_trip(qtbot):
    dialog = SettingsDialog(Settings(seed=None))
    qtbot.addWidget(dialog)
    dialog.temperature.setValue(0.3)
    dialog.seed.setValue(42)
    dialog.context_size.setValue(8192)
    dialog.layout_mode.setCurrentIndex(2)
    dialog.system_prompt.setPlainText("Be brief.")
    new = dialog.result_settings()
    assert (new.temperature, new.seed, new.context_size, new.layout, new.system_prompt) == (0.3, 42, 8192, "stacked", "Be brief.")
    dialog.seed.setValue(-1)
    assert dialog.result_settings().seed is None  # "random"
    dialog._defaults()
    assert dialog.result_settings().system_prompt == Settings().system_prompt


def test_settings_file_round_trip_and_damage(tmp_path):
    save_settings(tmp_path, Settings(temperature=0.5, theme="dark"))
    loaded = load_settings(tmp_path)
    assert loaded.temperature == 0.5 and loaded.theme == "dark"
    settings_path(tmp_path).write_text("{not json", encoding="utf-8")
    assert load_settings(tmp_path) == Settings()  # damaged: defaults, no crash
    assert load_settings(tmp_path / "missing") == Settings()


def test_applied_settings_change_the_view_and_are_saved(make_app):
    app = make_app()
    saved = []
    app.settings.changed.connect(lambda new, _old: saved.append(new))
    app.window.apply_settings(app.settings.value.with_changes(layout="stacked", temperature=0.1))
    assert app.window.chat.layout_mode == "stacked" and not app.window.chat.side_by_side
    assert saved[-1].temperature == 0.1
    app.load()
    assert saved[-1].model_path == "/models/scripted.gguf"  # reopened at the next start
    app.ask("Hi")
    assert app.engines[-1].requests  # the new settings reached a request


def test_drafts_switch_reaches_the_engine(make_app, qtbot):
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert dialog.drafts.isChecked()  # on by default: it switches itself off where it does not pay
    dialog.drafts.setChecked(False)
    assert dialog.result_settings().drafts is False
    dialog._defaults()
    assert dialog.result_settings().drafts is True
    app = make_app()
    app.window.apply_settings(app.settings.value.with_changes(drafts=False))
    app.load()
    app.session.new_thread()  # a thread takes the settings' sampling values when opened
    app.ask("Hi")
    assert app.engines[-1].params[-1].drafts is False
