"""The model session hands the window's saved-states store to every load (the first, a retry,
a model put back after another failed) and follows the disk setting without reloading."""

from __future__ import annotations

from pathlib import Path

from app.context_states import budget_bytes
from app.core.fit import AUTO_LAYERS
from app.core.saved_states import GB, StateStore
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


def test_the_disk_setting_changes_the_budget_without_a_reload(make_app, tmp_path):
    states = StateStore(tmp_path / "states", budget_bytes(10))
    app = make_app(states)
    loads = recorded(app)
    app.load()
    app.window.apply_settings(app.settings.value.with_changes(saved_states_gb=2.5))
    assert states.budget_bytes == int(2.5 * GB)
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
