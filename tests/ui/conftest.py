from pathlib import Path

import pytest

from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import MainWindow

SCRIPT = (
    "<think>Count them: 2, 3, 5, 7, 11, 13, 17, 19. That makes eight.</think>"
    "There are **8** primes below 20.\n\n| n | prime |\n|---|---|\n| 2 | yes |\n\n"
    "```python\nprint(8)\n```\n\nSo $n = 8$ and $$\\boxed{8}$$\n"
)


class App:
    """A real window on a real SQLite file, with a scripted engine behind the worker."""

    def __init__(self, qtbot, db: Path, engines: list, states=None) -> None:
        self.qtbot = qtbot
        self.store = Store(db)
        self.engines = engines
        self.session = ChatSession.create(self.store, Settings(), self._factory, states)
        self.models = self.session.models
        self.settings = self.session.settings
        self.window = MainWindow(self.session)
        # Not qtbot.addWidget: the fixture closes windows itself, after releasing any gate.
        self.window.show()
        self.script = SCRIPT
        self.gate = None

    def _factory(self, path, load):
        engine = ScriptedEngine(self.script, chunk=6, gate=self.gate)
        self.engines.append(engine)
        return engine

    def load(self) -> None:
        with self.qtbot.waitSignal(self.models.model_changed, check_params_cb=lambda s, t: s == "ready"):
            self.models.load_model("/models/scripted.gguf")

    def ask(self, text: str) -> None:
        with self.qtbot.waitSignal(self.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=20000):
            assert self.session.send(text)

    def close(self) -> None:
        self.window.close()
        self.store.close()


@pytest.fixture
def make_app(qtbot, tmp_path):
    apps, engines = [], []

    def make(states=None) -> App:
        """`states`: the StateStore the window's loads get (None: prompts are not kept)."""
        app = App(qtbot, tmp_path / "chat.db", engines, states)
        apps.append(app)
        return app

    yield make
    for app in apps:
        if app.gate is not None:
            app.gate.release(1_000_000)  # a held stream must be able to see its cancel
        if app.models.running:
            app.close()
