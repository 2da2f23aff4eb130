"""The window's local server on the real SmolLM2 model, read by the official openai client:
other apps and the window's own chats share the one model on the window's one model thread."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from PySide6.QtCore import QTimer

from app.core.engine import LlamaEngine
from app.core.types import GenParams
from tests.ui.serve.conftest import WAIT, in_thread

SAMPLING = {"temperature": 0, "seed": 7, "max_tokens": 40}  # a seed reads the prompt afresh: replies repeat


class WatchedEngine(LlamaEngine):
    """The real engine, noting each request's question, cancel event and how it ended; with
    `hold` set, a reply stops after its first event until `hold` is released."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions: list[str] = []
        self.cancels: list[threading.Event] = []
        self.finishes: list[str] = []
        self.hold: threading.Event | None = None

    def stream(self, messages, params=None, cancel=None, answer_now=None):
        cancel = cancel or threading.Event()
        events = super().stream(messages, params or GenParams(), cancel, answer_now)
        self.questions.append(messages[-1].content)
        self.cancels.append(cancel)
        return self._watched(events, self.hold)

    def _watched(self, events, hold):
        for i, ev in enumerate(events):
            if ev.kind == "stats":
                self.finishes.append(ev.stats.finish_reason)
            yield ev
            if i == 0 and hold is not None:
                assert hold.wait(WAIT)


@pytest.fixture
def real_app(make_app, smollm2):
    engines: list[WatchedEngine] = []

    def factory(path, load):
        # One CPU thread: the model's threads wait for each other at every step, so on a busy
        # machine two of them crawl.
        engines.append(WatchedEngine(path, replace(load, n_threads=1)))
        return engines[-1]

    app = make_app()
    app.models._worker._factory = factory
    app.settings.update(context_size=2048, max_tokens=40)  # the window's own replies stay short too
    app.session.new_thread()  # a thread started with those settings
    with app.qtbot.waitSignal(app.models.model_changed, timeout=WAIT * 1000,
                              check_params_cb=lambda state, text: state == "ready"):
        app.models.load_model(str(smollm2))
    return app, engines


def model(c) -> str:
    return c.models.list().data[0].id  # the loaded file's name


def streamed(c, question: str, **kwargs) -> tuple[str, str]:
    chunks = list(c.chat.completions.create(model=model(c), messages=[{"role": "user", "content": question}],
                                            stream=True, **SAMPLING, **kwargs))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    return text, finish[-1]


def whole(c, question: str) -> tuple[str, str]:
    choice = c.chat.completions.create(model=model(c), messages=[{"role": "user", "content": question}],
                                       **SAMPLING).choices[0]
    return choice.message.content, choice.finish_reason


def test_four_clients_at_once_get_their_whole_replies_in_turn(real_app, serving):
    app, engines = real_app
    serve, client = serving
    server = serve(app)
    runner = server.server.worker
    questions = ["What is 2+2?", "Name a colour.", "Say hello.", "What is the capital of France?"]
    ask = [streamed, whole, streamed, whole]
    alone = {q: ask[i](client(server), q) for i, q in enumerate(questions)}  # one at a time, nothing else
    assert all(text for text, _ in alone.values())

    model_free = threading.Event()  # keeps the model's thread busy until all four wait in line
    app.models.run_on_model_thread(lambda engine: model_free.wait(WAIT))
    results: dict = {}
    threads = []
    for i, q in enumerate(questions):
        threads.append(in_thread(lambda q=q, i=i: results.__setitem__(q, ask[i](client(server), q))))
        assert runner.wait_until(lambda running, waiting, n=i + 1: waiting == n, WAIT)
    model_free.set()
    for t in threads:
        t.join(WAIT)
    assert results == alone  # each whole, none mixed with another
    assert engines[0].questions[-4:] == questions  # first come, first served
    assert len(engines) == 1


def test_a_client_that_drops_mid_stream_frees_the_worker_for_the_next(real_app, serving):
    app, engines = real_app
    engine = engines[0]
    serve, client = serving
    server = serve(app)
    runner = server.server.worker
    engine.hold = threading.Event()
    stream = client(server).chat.completions.create(
        model=model(client(server)), messages=[{"role": "user", "content": "Count to a thousand."}], stream=True,
        max_tokens=1500, extra_body={"ignore_eos": True})
    pieces = iter(stream)
    assert next(pieces).choices[0].delta.role == "assistant"
    results: dict = {}
    nxt = in_thread(lambda: results.__setitem__("next", whole(client(server), "Say hello.")))
    assert runner.wait_until(lambda running, waiting: (running, waiting) == (True, 1), WAIT)
    stream.close()  # the client goes away mid-reply
    assert engine.cancels[0].wait(WAIT)  # its generation was told to stop
    engine.hold.set()
    nxt.join(WAIT)
    text, finish = results["next"]
    assert text and finish in ("stop", "length")
    assert engine.finishes[0] == "cancelled"  # the 1,500-token reply was cut, not finished
    assert engine.questions == ["Count to a thousand.", "Say hello."]


def test_the_window_keeps_working_and_its_send_waits_its_turn(real_app, serving, qtbot):
    app, engines = real_app
    engine = engines[0]
    serve, client = serving
    server = serve(app)
    engine.hold = threading.Event()
    results: dict = {}
    other = in_thread(lambda: results.__setitem__("other", streamed(client(server), "Name a colour.")))
    qtbot.waitUntil(lambda: server.state.running == 1, timeout=WAIT * 1000)

    ticks = []  # the window's event loop runs while the model serves another app
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    qtbot.waitUntil(lambda: len(ticks) >= 3, timeout=WAIT * 1000)
    timer.stop()
    app.window.composer.setPlainText("What is 2+2?")
    assert app.window.send_button.isEnabled()
    app.window.send_button.click()
    assert app.session.busy and server.state.window_waits
    engine.hold.set()
    with qtbot.waitSignal(app.session.busy_changed, check_params_cb=lambda busy: not busy, timeout=WAIT * 1000):
        pass
    other.join(WAIT)
    assert results["other"][0]
    reply = app.store.path(app.session.thread_id)[-1]
    assert reply.state not in ("error", "cancelled") and (reply.content or reply.reasoning)
    assert engine.questions == ["Name a colour.", "What is 2+2?"]
    assert not server.state.window_waits
