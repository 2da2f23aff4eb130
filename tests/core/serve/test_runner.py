"""The HTTP side runs on any JobRunner: the model it serves can change, or be missing."""

from __future__ import annotations

import socket

import openai
import pytest

from app.core.errors import AppError
from app.core.scripted_engine import ScriptedEngine
from app.core.serve.server import LocalServer, PortInUse, bind
from app.core.serve.worker import ServedModel, Worker
from tests.core.serve.conftest import client


class SwitchingWorker(Worker):
    """A Worker whose served model can be taken away, as the window's can."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.model: ServedModel | None = None

    def served(self) -> ServedModel | None:
        return self.model


def test_without_a_model_requests_get_503_saying_so_and_the_list_is_empty():
    engine = ScriptedEngine("<think>t</think>fine.")
    runner = SwitchingWorker(engine)
    with LocalServer(runner=runner, port=0) as server:
        c = client(server)
        assert c.models.list().data == []
        with pytest.raises(openai.APIStatusError) as caught:
            c.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "model_not_loaded"
        assert "No model is loaded in Ponder" in caught.value.body["message"]
        assert engine.requests == []  # never reached the engine

        runner.model = ServedModel(("other.gguf", "other"), 2048)  # a model was loaded since
        assert [m.id for m in c.models.list().data] == ["other.gguf"]
        reply = c.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "fine." and reply.model == "other.gguf"


def test_an_engine_or_a_runner_but_not_both():
    engine = ScriptedEngine()
    with pytest.raises(ValueError):
        LocalServer(engine, port=0, runner=Worker(engine))
    with pytest.raises(ValueError):
        LocalServer(port=0)


def test_a_busy_port_is_its_own_error():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(PortInUse) as caught:
            bind("127.0.0.1", port)
        assert isinstance(caught.value, AppError) and caught.value.port == port
        assert f"Port {port} on 127.0.0.1 is already in use" in caught.value.user_message
    finally:
        taken.close()
