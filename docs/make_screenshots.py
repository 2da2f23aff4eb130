"""Screenshots for the README: the real window, light and dark, with a scripted reply.

    xvfb-run -a -s "-screen 0 1400x900x24" python docs/make_screenshots.py

writes docs/screenshot-light.png (a finished reply, its thinking folded) and
docs/screenshot-dark.png (a folded reply, then a second question being thought about).
With --all DIR it also writes every scene (empty thread, streaming, folded, editing a
question) light and dark at 1200 and 800 px wide into DIR, to look the window over.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.scripted_engine import ScriptedEngine  # noqa: E402
from app.core.store import Store  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.ui.chat.chat_session import ChatSession  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.settings.theme import apply_theme  # noqa: E402

QUESTION = "What is the sum of the first n odd numbers? Prove it."
FOLLOW_UP = "Does the same trick work for the first n even numbers?"
# Thinking as Phi-4-reasoning writes it: paragraphs that try cases, doubt, and check
# (no hard line breaks: a model's lines are as long as its thoughts).
THINKING = (
    "Okay, the question asks for the sum of the first n odd numbers, and a proof. Let me try small cases first: "
    "1 = 1, 1 + 3 = 4, 1 + 3 + 5 = 9, 1 + 3 + 5 + 7 = 16. These are all perfect squares, so the pattern "
    "suggests n^2.\n\n"
    "To prove it, induction looks natural. The base case n = 1 holds, since 1 = 1^2. Suppose the sum of the "
    "first k odd numbers is k^2. The next odd number is 2k + 1, so the sum becomes k^2 + 2k + 1 = (k + 1)^2. "
    "That closes the step.\n\n"
    "Wait, let me double-check the k-th odd number: it is 2k - 1, so the (k + 1)-th is 2(k + 1) - 1 = 2k + 1. "
    "Yes.\n\n"
    "I could also check with the arithmetic series formula: n/2 * (first + last) = n/2 * (1 + 2n - 1) = n^2. "
    "Both agree. A small table and a one-line check in Python would make the answer easy to trust.")
ANSWER = r"""## The sum of the first $n$ odd numbers

The sum is a perfect square:

$$\sum_{k=1}^{n} (2k - 1) = n^2$$

| n | sum | $n^2$ |
|---|-----|-------|
| 1 | 1 | 1 |
| 2 | 4 | 4 |
| 3 | 9 | 9 |

**Proof by induction.** If the first $k$ odd numbers add up to $k^2$, the next one, $2k + 1$, gives $(k+1)^2$.

```python
assert all(sum(range(1, 2 * n, 2)) == n * n for n in range(1, 100))
```

So the answer is $\boxed{n^2}$.
"""
REPLY = f"<think>{THINKING}</think>{ANSWER}"
SCENES = ("empty", "streaming", "folded", "editing", "open")


def wait(app: QApplication, done, limit: float = 20.0) -> None:
    """Run the event loop until `done()` (or `limit` seconds)."""
    end = time.monotonic() + limit
    while not done() and time.monotonic() < end:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def settle(app: QApplication) -> None:
    from app.render.math import wait_idle

    wait_idle()  # formulas are typeset on a helper thread; let their images land
    wait(app, lambda: False, 0.3)


class Stage:
    """A real window on a fresh history file in a temporary folder: what every scene starts
    from. `scripted`: engines replay REPLY, as Phi-4-reasoning writes (False: llama.cpp, for a
    real model); `manager` is the models' manager (None: the app's default); `seed(path)`
    writes a history into the new file first."""

    def __init__(self, app: QApplication, dark: bool, width: int, height: int = 800,
                 scripted: bool = True, manager=None, seed=None) -> None:
        self.app = app
        self.dark = apply_theme(app, "dark" if dark else "light")
        self.engines: list[ScriptedEngine] = []
        self.script = REPLY  # what the next reply replays
        self.gate: threading.Semaphore | None = None
        self._tmp = tempfile.TemporaryDirectory()
        self.folder = Path(self._tmp.name)
        if seed is not None:
            seed(self.folder / "chat.db")
        self.store = Store(self.folder / "chat.db")
        self.session = ChatSession.create(self.store, Settings(), self._scripted if scripted else None)
        self.window = MainWindow(self.session, dark=self.dark, manager=manager)
        self.window.resize(width, height)
        self.window.show()
        wait(app, lambda: False, 0.1)

    def _scripted(self, path, load) -> ScriptedEngine:
        engine = ScriptedEngine(self.script, chunk=8, delay=0.002)
        engine.name = Path(path).name  # the model bar names the file, as for a real model
        self.engines.append(engine)
        return engine

    def load(self, path: str = "/models/Phi-4-reasoning-Q4_K_M.gguf", limit: float = 60.0) -> list[str]:
        """Load `path` and wait for its outcome; the states seen, in order."""
        states: list[str] = []
        self.session.models.model_changed.connect(lambda s, t: states.append(s))
        self.session.models.load_model(str(path))
        wait(self.app, lambda: "ready" in states or "failed" in states, limit)
        return states

    def play(self, scene: str) -> None:
        """Put the window in `scene` (one of SCENES) with the scripted reply."""
        app, session, window, store = self.app, self.session, self.window, self.store
        if scene == "empty":
            return
        session.send(QUESTION)
        wait(app, lambda: not session.busy)
        first = store.path(session.thread_id)
        if scene == "open":
            window.chat.widgets[first[-1].id].reasoning.header.click()
        elif scene == "editing":
            window.chat.edit_requested.emit(first[0].id)
        elif scene == "streaming":
            self.gate = self.engines[-1].gate = threading.Semaphore(0)
            session.send(FOLLOW_UP)
            self.gate.release(45)  # part way through the thinking
            reply = store.path(session.thread_id)[-1]
            wait(app, lambda: len(window.chat.widgets[reply.id].reasoning.text()) > 300)
            wait(app, lambda: False, 1.2)  # the live "Thinking… 1 s"
        settle(app)
        if scene in ("open", "editing", "folded"):
            window.chat.verticalScrollBar().setValue(0)
            wait(app, lambda: False, 0.1)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.release(1_000_000)
            wait(self.app, lambda: not self.session.busy)
        self.window.close()
        self.window.deleteLater()
        self.session.deleteLater()
        self.app.processEvents()
        self.store.close()
        self._tmp.cleanup()


def shoot(app: QApplication, dark: bool, width: int, scene: str, out: Path) -> None:
    stage = Stage(app, dark, width)
    try:
        stage.load()
        stage.play(scene)
        stage.window.grab().save(str(out))
    finally:
        stage.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--all", metavar="DIR", help="also write every scene, light and dark, 1200 and 800 px wide")
    args = ap.parse_args()
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    shoot(app, False, 1200, "folded", ROOT / "docs" / "screenshot-light.png")
    shoot(app, True, 1200, "streaming", ROOT / "docs" / "screenshot-dark.png")
    if args.all:
        folder = Path(args.all)
        folder.mkdir(parents=True, exist_ok=True)
        for dark in (False, True):
            for width in (1200, 800):
                for scene in SCENES:
                    shoot(app, dark, width, scene, folder / f"{scene}-{'dark' if dark else 'light'}-{width}.png")


if __name__ == "__main__":
    main()
