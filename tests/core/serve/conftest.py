"""The local server, started in-process on 127.0.0.1 with a free port, for the tests here."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import openai
import pytest

from app.core.scripted_engine import ScriptedEngine
from app.core.serve.server import LocalServer
from app.core.types import GenParams, Message

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ]{4,30} "</think>" [A-Z] [a-z ]{2,20} "."'


class EchoEngine(ScriptedEngine):
    """A scripted engine whose reply names the question, so replies can be told apart;
    it keeps each request's cancel event and how each reply finished."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cancels: list[threading.Event] = []
        self.finishes: list[str] = []

    @staticmethod
    def reply_to(question: str) -> tuple[str, str]:
        """(thinking, answer) for `question`."""
        return f"Thinking about {question} step by step.", f"The answer to {question} is " + "long " * 40 + "done."

    def stream(self, messages: Sequence[Message], params: GenParams = GenParams(),
               cancel: threading.Event | None = None, answer_now: threading.Event | None = None):
        thinking, answer = self.reply_to(messages[-1].content)
        self.script = f"<think>{thinking}</think>{answer}"
        cancel = cancel or threading.Event()
        self.cancels.append(cancel)
        return self._recorded(super().stream(messages, params, cancel, answer_now))

    def _recorded(self, events) -> Iterator:
        for ev in events:
            if ev.kind == "stats":
                self.finishes.append(ev.stats.finish_reason)
            yield ev


_clients: list[openai.OpenAI] = []


def client(server: LocalServer, api_key: str = "unused") -> openai.OpenAI:
    """An openai client for `server`, closed when the test ends (no retries: a 503 or a 500
    must reach the test as it came)."""
    c = openai.OpenAI(base_url=server.url, api_key=api_key, max_retries=0, timeout=120)
    _clients.append(c)
    return c


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _clients:
        _clients.pop().close()


@pytest.fixture
def echo_server():
    """A server on an EchoEngine held at its gate: each release lets one piece out."""
    engine = EchoEngine(chunk=8, gate=threading.Semaphore(0))
    servers = []

    def start(**kwargs) -> LocalServer:
        server = LocalServer(engine, "127.0.0.1", 0, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield engine, start
    engine.gate.release(1_000_000)
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def llama_server(smollm2):
    """The real SmolLM2 model behind a server, for the module."""
    from app.core.engine import LlamaEngine, LoadParams

    engine = LlamaEngine(smollm2, LoadParams(n_ctx=1024))
    server = LocalServer(engine, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop()
    engine.close()
