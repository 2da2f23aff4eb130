"""A model that fails to load leaves the one that worked: loaded next to it when both fit,
put back automatically when it had to make room; the failure is shown in the window
with what can be done next."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import hardware
from app.core.errors import ModelLoadError
from app.core.fit import AUTO_LAYERS, auto_layers
from app.core.scripted_engine import ScriptedEngine
from app.ui.dialogs import Dialogs
from tests.core.test_fit import GIB, gpu, phi4_layout

BROKEN = "broken.gguf could not be loaded: the file uses a tensor type this version does not know."


class Engines:
    """Scripted engines named after their file; files named broken* fail to load."""

    def __init__(self, app) -> None:
        self.made: list[ScriptedEngine] = []
        self.tries: list[str] = []
        self.fixed = False
        app.models._worker._factory = self

    def __call__(self, path, load):
        self.tries.append(Path(path).name)
        if Path(path).name.startswith("broken") and not self.fixed:
            raise ModelLoadError(BROKEN)
        engine = ScriptedEngine("<think>Hm.</think>Yes.", chunk=4)
        engine.name = Path(path).stem
        self.made.append(engine)
        return engine


def settle(app, *states, action):
    with app.qtbot.waitSignal(app.models.model_changed, timeout=30000,
                              check_params_cb=lambda s, t: s in states):
        action()


def test_a_file_that_fails_leaves_the_working_model_loaded_and_says_so_in_the_window(make_app, monkeypatch):
    app = make_app()
    engines = Engines(app)
    settle(app, "ready", action=lambda: app.models.load_model("/models/good.gguf"))
    working = engines.made[-1]
    seen = []
    app.models.model_changed.connect(lambda state, text: seen.append((state, text)))
    settle(app, "ready", action=lambda: app.models.load_model("/models/broken.gguf"))

    assert seen == [("loading", "Loading broken.gguf…"), ("ready", "good")]
    assert not working.closed and app.models.model_path == "/models/good.gguf" and app.models.model_ready
    assert app.window.model_label.text() == "Model: good" and app.window.send_button.isEnabled()
    banner = app.window.banner
    assert BROKEN in banner.text() and "good is still loaded" in banner.text()
    assert banner.action_labels() == ["Try again", "Choose another model…", "Open Models…"]
    assert BROKEN not in app.window.statusBar().currentMessage()  # shown where it happened, once

    app.ask("Still there?")  # the working model answers
    assert app.store.path(app.session.thread_id)[-1].content == "Yes." and working.requests

    engines.fixed = True
    settle(app, "ready", action=banner.button("Try again").click)
    assert app.models.model_path == "/models/broken.gguf" and working.closed and banner.isHidden()


def test_choose_another_model_from_the_failure(make_app, monkeypatch):
    app = make_app()
    Engines(app)
    settle(app, "failed", action=lambda: app.models.load_model("/models/broken.gguf"))
    banner = app.window.banner
    assert BROKEN in banner.text() and "still loaded" not in banner.text()
    assert not app.window.send_button.isEnabled()
    monkeypatch.setattr(Dialogs, "open_model", staticmethod(lambda parent, start="": "/models/other.gguf"))
    settle(app, "ready", action=banner.button("Choose another model…").click)
    assert app.models.model_path == "/models/other.gguf" and banner.isHidden()


@pytest.fixture
def tight_gpu(monkeypatch):
    """An 8 GiB GPU on which an open model takes 6 GiB: two never fit at once."""
    layout = phi4_layout()
    monkeypatch.setattr("app.ui.models.generation_worker.read_layout", lambda path: layout)
    open_engines: list[ScriptedEngine] = []
    monkeypatch.setattr(hardware, "detect", lambda: gpu(8 * GIB - 6 * GIB * sum(not e.closed for e in open_engines),
                                                        8 * GIB))
    return open_engines, auto_layers(layout, 4096, gpu(8 * GIB))


def test_when_both_cannot_fit_the_working_model_makes_room_and_comes_back(make_app, tight_gpu):
    open_engines, fits = tight_gpu
    app = make_app()
    app.settings.value = app.settings.value.with_changes(n_gpu_layers=AUTO_LAYERS, context_size=4096)
    engines = Engines(app)
    loads = []
    factory = app.models._worker._factory

    def counted(path, load):
        loads.append((Path(path).name, load.n_gpu_layers))
        engine = factory(path, load)
        open_engines.append(engine)
        return engine

    app.models._worker._factory = counted
    settle(app, "ready", action=lambda: app.models.load_model("/models/good.gguf"))
    first = engines.made[-1]
    seen = []
    app.models.model_changed.connect(lambda state, text: seen.append(state) if state != "loading" else
                                     seen.append(text))
    meanwhile = []
    app.models.model_changed.connect(lambda state, text: "again" in text and meanwhile.append(app.window.banner.text()))
    settle(app, "ready", action=lambda: app.models.load_model("/models/broken.gguf"))

    # Planned as if the loaded model were gone ("Auto" is not cut down by it), so it had to go first.
    assert loads == [("good.gguf", fits), ("broken.gguf", fits), ("good.gguf", fits)]
    assert first.closed and not engines.made[-1].closed
    assert seen == ["Loading broken.gguf…", "Loading good.gguf again…", "ready"]
    assert app.models.model_path == "/models/good.gguf" and app.models.model_ready
    assert app.window.model_label.text() == "Model: good"
    banner = app.window.banner  # the failure stays in view while the old model comes back
    assert meanwhile and meanwhile[0].endswith("Loading good again, the model you had before.")
    assert BROKEN in banner.text() and "good, the model you had before, is loaded again" in banner.text()
    assert app.settings.value.model_path == "/models/good.gguf"

    engines.fixed = True
    settle(app, "ready", action=banner.button("Try again").click)
    assert app.models.model_path == "/models/broken.gguf" and banner.isHidden()


def test_a_failed_reload_with_more_layers_keeps_the_settings_that_worked(make_app, tight_gpu):
    open_engines, fits = tight_gpu
    app = make_app()
    app.settings.value = app.settings.value.with_changes(n_gpu_layers=AUTO_LAYERS, context_size=4096)
    engines = Engines(app)
    factory = app.models._worker._factory

    def runs_out_above_fit(path, load):
        if load.n_gpu_layers > fits:
            raise ModelLoadError("Not enough memory for that many layers.")
        engine = factory(path, load)
        open_engines.append(engine)
        return engine

    app.models._worker._factory = runs_out_above_fit
    settle(app, "ready", action=lambda: app.models.load_model("/models/good.gguf"))
    settle(app, "ready", action=lambda: app.models.set_gpu_layers(41))  # the slider's Apply
    assert app.models.model_ready and not engines.made[-1].closed and len(engines.made) == 2
    assert app.settings.value.n_gpu_layers == AUTO_LAYERS  # the next start loads what worked
    assert app.window.offload.slider.value() == fits  # the slider shows what is loaded
    assert "Not enough memory" in app.window.banner.text()


def test_a_file_that_is_no_model_offers_no_try_again(make_app):
    from app.core.errors import NotAGGUF

    app = make_app()

    def not_a_model(path, load):
        raise NotAGGUF(f"{Path(path).name} is not a GGUF model file.")

    app.models._worker._factory = not_a_model
    settle(app, "failed", action=lambda: app.models.load_model("/models/notes.gguf"))
    labels = app.window.banner.action_labels()
    assert "Try again" not in labels and labels == ["Choose another model…", "Open Models…"]
