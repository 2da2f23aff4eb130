"""`python -m app --self-test --model PATH [--screenshot FILE]`: one real question in the
real window. The reply is held by a grammar to the <think>...</think>answer shape, so
both parts must appear whatever the model; exit 0 when each landed in its own part."""

from __future__ import annotations

import sys

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.ui.chat.chat_session import ChatSession
from app.ui.main_window import MainWindow

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ,]{10,60} "</think>" [A-Z] [a-z ,]{5,40} "."'
QUESTION = "What is two plus two?"
TIMEOUT_MS = 300_000


class SelfTest:
    def __init__(self, app: QApplication, window: MainWindow, session: ChatSession,
                 model: str | None, screenshot: str | None) -> None:
        self.app, self.window, self.session = app, window, session
        self.model, self.screenshot = model, screenshot
        self.placement = "layers: not planned"

    def _planned(self, plan) -> None:
        """Say where the layers went: which backend and device, or why on the CPU."""
        hw = plan.hardware
        total = plan.layout.layer_count if plan.layout else "?"
        if plan.n_gpu_layers and hw.gpus:
            gpu = hw.gpus[0]
            self.placement = f"layers: {plan.n_gpu_layers}/{total} on {gpu.name} ({gpu.description})"
        else:
            self.placement = f"layers: all on the CPU ({hw.offload_unavailable_reason or 'none chosen for the GPU'})"

    def _wait(self, signal, done) -> bool:
        """Run the event loop until `done(*args)` is true for an emission of `signal`."""
        loop = QEventLoop()
        ok = [False]

        def check(*args) -> None:
            if done(*args):
                ok[0] = True
                loop.quit()

        watchdog = QTimer()
        watchdog.setSingleShot(True)
        watchdog.timeout.connect(loop.quit)
        signal.connect(check)
        watchdog.start(TIMEOUT_MS)
        loop.exec()
        watchdog.stop()
        signal.disconnect(check)
        return ok[0]

    def run(self) -> int:
        try:
            reason = self._run()
        finally:
            self.window.close()
        if reason:
            print(f"self-test failed: {reason}", file=sys.stderr)
            return 1
        print("self-test passed: thinking and answer rendered in their own parts")
        print(self.placement)
        return 0

    def _run(self) -> str | None:
        c, m = self.session, self.session.models
        if not self.model:
            return "no model given (use --model PATH)"
        states: list[tuple[str, str]] = []
        m.model_changed.connect(lambda s, t: states.append((s, t)))
        m.load_planned.connect(self._planned)
        m.load_model(self.model)
        if not self._wait(m.model_changed, lambda s, t: s in ("ready", "failed")) or states[-1][0] != "ready":
            return f"the model did not load: {states[-1][1] if states else 'timed out'}"
        c.set_session_params({"grammar": GRAMMAR, "seed": 1, "max_tokens": 200})
        c.new_thread()
        if not c.send(QUESTION):
            return "the question could not be sent"
        if not self._wait(c.busy_changed, lambda busy: not busy):
            return "no answer within the time limit"
        self.app.processEvents()
        reply = c.conversation.path()[-1]
        widget = self.window.chat.widgets.get(reply.id)
        if reply.state != "complete":
            return f"the reply ended as {reply.state}: {reply.error or ''}"
        if widget is None or widget.reasoning is None:
            return "the reply was not shown"
        thinking, answer = widget.reasoning.text().strip(), widget.answer.toPlainText().strip()
        if not thinking or not answer:
            return f"a part is empty (thinking {len(thinking)} chars, answer {len(answer)} chars)"
        if thinking in answer or answer in thinking or "<think>" in thinking + answer:
            return "thinking and answer were not split"
        if self.screenshot and not self.window.grab().save(self.screenshot):
            return f"could not save the screenshot to {self.screenshot}"
        return None
