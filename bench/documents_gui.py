"""GUI event-loop stalls while a long PDF is read through the window's document path.

A real MainWindow (offscreen unless a display is set) with a model loaded: the PDF is
attached as a drop would attach it, read on the documents thread, and counted with
the model's tokenizer on the generation worker. A 1 ms timer on the GUI thread
records when the event loop gets to it; a gap longer than the interval is a stall.
Run from bench/documents.py --gui.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

INTERVAL_MS = 1


def _wait(app, condition, signal, limit_s: float = 300.0) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = lambda *_: loop.quit() if condition() else None  # noqa: E731
    signal.connect(check)
    QTimer.singleShot(int(limit_s * 1000), loop.quit)
    if not condition():
        loop.exec()
    signal.disconnect(check)
    if not condition():
        raise TimeoutError("the document was not read in time")


def gui_stalls(folder: Path, pdf: Path, model: Path | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from app.core.scripted_engine import ScriptedEngine
    from app.core.store import Store
    from app.settings import Settings
    from app.ui.chat.chat_session import ChatSession
    from app.ui.main_window import MainWindow
    from app.ui.models.generation_worker import llama_factory

    app = QApplication.instance() or QApplication([])
    store = Store(folder / "gui-bench.db")
    factory = llama_factory if model is not None else (lambda path, load: ScriptedEngine())
    session = ChatSession.create(store, Settings(n_gpu_layers=0, context_size=4096), factory)
    window = MainWindow(session)
    window.show()
    try:
        session.models.load_model(str(model or "/models/scripted.gguf"))
        _wait(app, lambda: session.models.model_ready, session.models.model_changed)
        panel = window.documents
        ticks: list[float] = []
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(INTERVAL_MS)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        start = time.perf_counter()
        panel.add_paths([str(pdf)])
        _wait(app, lambda: panel.pending[0].state == "failed" or panel.pending[0].tokens is not None,
              panel.pending_changed)
        seconds = time.perf_counter() - start
        timer.stop()
        chip = panel.pending[0]
        gaps = sorted((b - a) * 1000 for a, b in zip(ticks, ticks[1:]))
        return {
            "pages": chip.doc.pages if chip.doc else 0,
            "error": chip.error or None,
            "tokens": chip.tokens,
            "tokenizer": model.name if model else "scripted (words)",
            "read_and_count_s": round(seconds, 3),
            "loop_gaps": len(gaps),
            "gap_ms_p50": round(statistics.median(gaps), 2),
            "gap_ms_p99": round(gaps[int(len(gaps) * 0.99)], 2),
            "gap_ms_max": round(gaps[-1], 2),
        }
    finally:
        window.close()
        store.close()
