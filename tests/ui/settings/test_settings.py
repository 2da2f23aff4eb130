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


def test_memory_page_round_trip_and_defaults(qtbot):
    from app.ui.settings.fields import KV_CACHE

    dialog = SettingsDialog(Settings(kv_cache="q8_0", saved_states_gb=2.5, context_size=4096))
    qtbot.addWidget(dialog)
    assert dialog.pages.tabText(1) == "Memory and disk"
    assert dialog.context_size.window() is dialog and dialog.memory_page.isAncestorOf(dialog.context_size)
    assert [dialog.kv_cache.itemText(i) for i in range(dialog.kv_cache.count())] == [
        "Automatic", "f16 (full precision)", "q8_0 (half the memory)"]
    assert dialog.kv_cache.currentText() == "q8_0 (half the memory)" and dialog.saved_states.size.text() == "2.5 GB"
    assert "lets every layer fit on the GPU" in KV_CACHE.help and KV_CACHE.help in dialog.kv_cache.toolTip()
    unchanged = dialog.result_settings()
    assert (unchanged.kv_cache, unchanged.saved_states_gb, unchanged.context_size) == ("q8_0", 2.5, 4096)
    dialog.kv_cache.setCurrentIndex(1)
    dialog.saved_states.size.setValue(0)
    assert dialog.saved_states.size.text() == "off"
    new = dialog.result_settings()
    assert (new.kv_cache, new.saved_states_gb) == ("f16", 0.0)
    dialog._defaults()
    reset = dialog.result_settings()
    assert (reset.kv_cache, reset.saved_states_gb, reset.context_size) == ("auto", 10.0, 0)


def test_the_cache_setting_reloads_and_the_disk_setting_does_not(make_app):
    app = make_app()
    loads = []
    factory = app.models._worker._factory
    app.models._worker._factory = lambda path, load: (loads.append(load.kv_cache_type), factory(path, load))[1]
    app.load()
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=1.0))
    app.window.apply_settings(app.settings.value.with_changes(kv_cache="q8_0"))
    app.qtbot.waitUntil(lambda: len(loads) == 2 and app.models.model_ready, timeout=30000)
    assert loads[-1] == "q8_0" and app.settings.value.saved_states_gb == 1.0
