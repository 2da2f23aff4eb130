"""The model session hands the window's saved-states store to every load (the first, a retry,
a model put back after another failed) and follows the disk setting without reloading."""

from __future__ import annotations

from pathlib import Path

from app.context_states import budget_bytes
from app.core.fit import AUTO_LAYERS
from app.core.saved_states import GB, MIN_TOKENS, StateKey, StateStore
from tests.ui.models.test_load_failure import Engines, settle, tight_gpu  # noqa: F401 - tight_gpu is a fixture


def recorded(app) -> list:
    """(file name, LoadParams) of each load the worker makes, in order."""
    loads = []
    factory = app.models._worker._factory
    app.models._worker._factory = lambda path, load: (loads.append((Path(path).name, load)), factory(path, load))[1]
    return loads


def test_every_load_gets_the_store(make_app, tmp_path):
    states = StateStore(tmp_path / "states", budget_bytes(10))
    app = make_app(states)
    engines = Engines(app)
    loads = recorded(app)
    settle(app, "ready", action=lambda: app.models.load_model("/models/good.gguf"))
    settle(app, "ready", action=lambda: app.models.load_model("/models/broken.gguf"))
    engines.fixed = True
    settle(app, "ready", action=app.window.banner.button("Try again").click)
    app.window.apply_settings(app.settings.value.with_changes(context_size=2048))  # a load setting: reloads
    app.qtbot.waitUntil(lambda: len(loads) == 4 and app.models.model_ready, timeout=30000)
    assert [name for name, _ in loads] == ["good.gguf", "broken.gguf", "broken.gguf", "broken.gguf"]
    assert all(load.states is states for _, load in loads)


def test_a_model_put_back_after_a_failure_gets_the_store(make_app, tight_gpu, tmp_path):  # noqa: F811
    open_engines, _fits = tight_gpu
    states = StateStore(tmp_path / "states")
    app = make_app(states)
    app.settings.value = app.settings.value.with_changes(n_gpu_layers=AUTO_LAYERS, context_size=4096)
    Engines(app)
    factory = app.models._worker._factory
    app.models._worker._factory = lambda path, load: open_engines.append(factory(path, load)) or open_engines[-1]
    loads = recorded(app)
    settle(app, "ready", action=lambda: app.models.load_model("/models/good.gguf"))
    settle(app, "ready", action=lambda: app.models.load_model("/models/broken.gguf"))
    assert [name for name, _ in loads] == ["good.gguf", "broken.gguf", "good.gguf"]  # the last: put back
    assert all(load.states is states for _, load in loads)


def test_the_disk_setting_changes_the_budget_without_a_reload(make_app, tmp_path, qtbot):
    states = StateStore(tmp_path / "states", budget_bytes(10))
    app = make_app(states)
    loads = recorded(app)
    app.load()
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=2.5))
    assert states.budget_bytes == int(2.5 * GB)
    # A state larger than the next budget goes as soon as the budget is lowered.
    key = StateKey("/models/good.gguf", 1, 1, 4096, "f16", "None", "test")
    assert states.save(key, list(range(MIN_TOKENS)), 2000, lambda path: path.write_bytes(b"s" * 2000) > 0)
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=1e-6))
    qtbot.waitUntil(lambda: states.usage_bytes() == 0, timeout=10000)
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=0))
    assert states.budget_bytes == 0  # off: nothing saved, nothing found
    app.ask("Still answering?")
    assert len(loads) == 1 and app.models.model_ready


def test_without_a_store_loads_keep_nothing(make_app):
    app = make_app()
    loads = recorded(app)
    app.load()
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=3))  # nothing to follow: no error
    assert [load.states for _, load in loads] == [None]


QUESTION = ("Here is a short note from a garden diary. The roses by the gate opened on Monday, two weeks late because "
            "of the cold spring. The tomatoes in the greenhouse have their first green fruit, and the beans along the "
            "fence are climbing fast. Slugs ate most of the lettuce again, so next year the lettuce goes in raised "
            "beds. Which plant had trouble?")


def test_a_thread_reopened_in_a_new_window_restores_its_prompt_with_the_real_model(smollm2, qtbot, tmp_path):
    from app.context_states import open_store
    from app.core.store import Store
    from app.settings import Settings
    from app.ui.chat.chat_session import ChatSession
    from app.ui.main_window import MainWindow

    settings = Settings(max_tokens=24, temperature=0.0, seed=7, context_size=2048, n_gpu_layers=0)

    def window_on_the_same_home():
        store = Store(tmp_path / "chat.db")
        states = open_store(settings.saved_states_gb)  # as the app makes it, under PONDER_HOME
        session = ChatSession.create(store, settings, states=states)
        window = MainWindow(session)
        window.show()
        with qtbot.waitSignal(session.models.model_changed, check_params_cb=lambda s, t: s == "ready", timeout=120000):
            session.models.load_model(str(smollm2))
        return store, states, session, window

    def ask(session, text: str):
        with qtbot.waitSignal(session.stats_updated, timeout=120000) as stats, \
                qtbot.waitSignal(session.busy_changed, check_params_cb=lambda busy: not busy, timeout=120000):
            assert session.send(text)
        return stats.args[0]

    store, states, session, window = window_on_the_same_home()
    try:
        first = ask(session, QUESTION)
        thread_id = session.thread_id
    finally:
        window.close()
        store.close()
    assert first.restored_prompt_tokens == 0 and first.prompt_tokens >= MIN_TOKENS
    assert states.usage_bytes() > 0  # kept after the reply

    store, states, session, window = window_on_the_same_home()
    try:
        session.select_thread(thread_id)
        follow_up = ask(session, "And what will change next year?")
        shown = window.stats_label.text()
    finally:
        window.close()
        store.close()
    assert follow_up.restored_prompt_tokens >= MIN_TOKENS and follow_up.restore_seconds > 0
    assert follow_up.evaluated_prompt_tokens < follow_up.prompt_tokens - MIN_TOKENS  # only the new part was read
    assert shown.startswith(f"restored {follow_up.restored_prompt_tokens:,} tokens in ")
