"""Screenshots for the README: the real window, light and dark, with a scripted reply.

    xvfb-run -a python docs/make_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.core.scripted_engine import ScriptedEngine  # noqa: E402
from app.core.store import Store  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.ui.chat.chat_session import ChatSession  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.settings.theme import apply_theme  # noqa: E402

REPLY = r"""<think>The question asks for the sum of the first n odd numbers. Let me try small cases:
1 = 1, 1 + 3 = 4, 1 + 3 + 5 = 9, 1 + 3 + 5 + 7 = 16. These are perfect squares, so the
pattern suggests n^2. To prove it, use induction: the base case n = 1 holds. If the sum of
the first k odd numbers is k^2, adding the next odd number 2k + 1 gives k^2 + 2k + 1 = (k + 1)^2.
I should also check with the arithmetic series formula: n/2 * (first + last) = n/2 * (1 + 2n - 1) = n^2.
Both agree.</think>## The sum of the first $n$ odd numbers

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


def shoot(app: QApplication, dark: bool, out: Path) -> None:
    is_dark = apply_theme(app, "dark" if dark else "light")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "chat.db")
        session = ChatSession.create(store, Settings(), lambda p, l: ScriptedEngine(REPLY, chunk=8, delay=0.01))
        window = MainWindow(session, dark=is_dark)
        window.resize(1280, 800)
        window.show()
        loop = QEventLoop()
        session.models.model_changed.connect(lambda s, t: loop.quit())
        session.models.load_model("/models/Phi-4-reasoning-Q4_K_M.gguf")
        loop.exec()
        done = QEventLoop()
        session.busy_changed.connect(lambda busy: None if busy else done.quit())
        session.send("What is the sum of the first n odd numbers? Prove it.")
        done.exec()
        reply = store.path(session.thread_id)[-1]
        window.chat.widgets[reply.id].reasoning.set_expanded(True)
        from app.render.math import wait_idle

        wait_idle()  # formulas are typeset on a helper thread; let their images land
        for _ in range(5):
            app.processEvents()
        window.grab().save(str(out))
        window.close()
        window.deleteLater()
        session.deleteLater()
        app.processEvents()
        store.close()


def main() -> None:
    app = QApplication(sys.argv)
    app.setStyle("Fusion")
    shoot(app, False, ROOT / "docs" / "screenshot-light.png")
    shoot(app, True, ROOT / "docs" / "screenshot-dark.png")


if __name__ == "__main__":
    main()
