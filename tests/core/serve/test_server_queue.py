"""The server's one worker, its line of requests, clients that leave, and its safety rules,
with a scripted engine held at a gate (so each step happens when the test says)."""

from __future__ import annotations

import http.client
import json
import threading

import openai
import pytest

from app.core.errors import AppError, GenerationError
from app.core.remote import RemoteEngine
from app.core.scripted_engine import ScriptedEngine
from app.core.serve.server import LocalServer, is_loopback, resolve_token
from app.core.types import ErrorEvent, Message, Stats, StatsEvent, TextEvent
from tests.core.serve.conftest import EchoEngine, client

WAIT = 60  # seconds a wait on an event may take before the test fails (never a measured time)


def ask(server, question: str, stream: bool, results: dict, **kwargs) -> None:
    """One client: the (thinking, answer) it got, or the error it raised, into `results`."""
    try:
        c = client(server, kwargs.pop("api_key", "unused"))
        messages = [{"role": "user", "content": question}]
        if stream:
            chunks = list(c.chat.completions.create(model="scripted", messages=messages, stream=True, **kwargs))
            results[question] = ("".join(ch.choices[0].delta.model_extra.get("reasoning_content") or ""
                                         for ch in chunks if ch.choices),
                                 "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices))
        else:
            message = c.chat.completions.create(model="scripted", messages=messages, **kwargs).choices[0].message
            results[question] = (message.model_extra.get("reasoning_content"), message.content)
    except Exception as exc:  # the test thread reads it
        results[question] = exc


def in_thread(*args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=ask, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def wait_for(server, running: bool, waiting: int) -> None:
    assert server.worker.wait_until(lambda r, w: (r, w) == (running, waiting), WAIT)


def test_four_clients_at_once_each_get_their_whole_reply_in_turn(echo_server):
    engine, start = echo_server
    server = start()
    results: dict = {}
    questions = ["q1", "q2", "q3", "q4"]
    threads = [in_thread(server, questions[0], True, results)]
    wait_for(server, True, 0)
    for i, question in enumerate(questions[1:], 1):  # each joins the line while q1 is held
        threads.append(in_thread(server, question, i % 2 == 0, results))
        wait_for(server, True, i)
    engine.gate.release(1_000_000)
    for thread in threads:
        thread.join(WAIT)
    assert [request[-1].content for request in engine.requests] == questions  # first come, first served
    for question in questions:
        assert results[question] == EchoEngine.reply_to(question), question
    assert engine.finishes == ["stop"] * 4


def test_a_client_that_leaves_mid_stream_frees_the_worker(echo_server):
    engine, start = echo_server
    server = start()
    stream = client(server).chat.completions.create(model="scripted", stream=True,
                                                    messages=[{"role": "user", "content": "first"}])
    engine.gate.release(2)
    pieces = iter(stream)
    assert next(pieces).choices[0].delta.role == "assistant"
    assert next(pieces).choices[0].delta.model_extra["reasoning_content"]
    stream.close()  # the client goes away while the engine waits at the gate
    assert engine.cancels[0].wait(WAIT)  # the engine was told to stop
    engine.gate.release(1_000_000)
    results: dict = {}
    ask(server, "second", False, results)
    assert results["second"] == EchoEngine.reply_to("second")
    assert engine.finishes == ["cancelled", "stop"]


def test_a_client_that_leaves_while_waiting_leaves_the_line(echo_server):
    engine, start = echo_server
    server = start()
    results: dict = {}
    first = in_thread(server, "first", True, results)
    wait_for(server, True, 0)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    conn.request("POST", "/v1/chat/completions", body=json.dumps({"messages": [{"role": "user", "content": "gone"}]}),
                 headers={"Content-Type": "application/json"})
    wait_for(server, True, 1)
    conn.close()
    wait_for(server, True, 0)  # withdrawn before its turn
    engine.gate.release(1_000_000)
    first.join(WAIT)
    assert results["first"] == EchoEngine.reply_to("first")
    assert [r[-1].content for r in engine.requests] == ["first"]


def test_a_full_line_is_503_with_retry_after(echo_server):
    engine, start = echo_server
    server = start(max_waiting=2)
    results: dict = {}
    threads = [in_thread(server, "running", False, results)]
    wait_for(server, True, 0)
    for i, question in enumerate(["waiting 1", "waiting 2"], 1):
        threads.append(in_thread(server, question, False, results))
        wait_for(server, True, i)
    with pytest.raises(openai.APIStatusError) as caught:
        client(server).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "one more"}])
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "10"
    assert caught.value.body["code"] == "queue_full"
    engine.gate.release(1_000_000)
    for thread in threads:
        thread.join(WAIT)
    assert all(results[q] == EchoEngine.reply_to(q) for q in ("running", "waiting 1", "waiting 2"))


def test_stopping_cuts_the_running_reply_and_answers_the_waiting_with_503(echo_server):
    engine, start = echo_server
    server = start()
    results: dict = {}
    threads = [in_thread(server, "running", True, results)]
    wait_for(server, True, 0)
    threads.append(in_thread(server, "waiting", False, results))
    wait_for(server, True, 1)
    server.stop()
    for thread in threads:
        thread.join(WAIT)
    assert isinstance(results["running"], openai.APIError) and "stopping" in str(results["running"])
    assert isinstance(results["waiting"], openai.APIStatusError) and results["waiting"].status_code == 503
    assert engine.finishes == ["cancelled"]


def test_with_a_token_a_request_without_it_is_401(echo_server):
    engine, start = echo_server
    server = start(token="s3cret-token")
    with pytest.raises(openai.AuthenticationError) as caught:
        client(server, "wrong").models.list()
    assert caught.value.body["code"] == "invalid_api_key"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    conn.request("GET", "/v1/models")
    assert conn.getresponse().status == 401
    conn.close()
    engine.gate.release(1_000_000)
    results: dict = {}
    ask(server, "hi", False, results, api_key="s3cret-token")
    assert results["hi"] == EchoEngine.reply_to("hi")
    assert [r[-1].content for r in engine.requests] == ["hi"]  # the refused ones never reached the engine


def test_a_non_loopback_address_without_a_token_is_refused():
    with pytest.raises(AppError, match="PONDER_TEST_NO_TOKEN"):
        resolve_token("0.0.0.0", "PONDER_TEST_NO_TOKEN", environ={})
    with pytest.raises(AppError, match="token"):
        resolve_token("192.168.1.20", None, announce=None)
    with pytest.raises(AppError, match="token"):
        LocalServer(ScriptedEngine(), "0.0.0.0", 0)  # refused before anything listens
    shown: list[str] = []
    token = resolve_token("0.0.0.0", None, announce=shown.append)
    assert shown == [token] and len(token) >= 40
    assert resolve_token("0.0.0.0", "T", environ={"T": " abc "}) == "abc"
    assert resolve_token("127.0.0.1", None, announce=None) is None


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.2", False), ("my-laptop.local", False), ("", False),
])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def get(server, path: str, headers: dict) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_without_a_token_only_loopback_host_names_are_served(echo_server):
    _, start = echo_server
    server = start()
    # A web page whose own name was pointed at 127.0.0.1 (DNS rebinding) sends its name as Host.
    assert get(server, "/v1/models", {"Host": "attacker.example"}).status == 400
    assert get(server, "/v1/models", {"Host": f"localhost:{server.port}"}).status == 200


def test_cors_headers_only_for_the_origins_given(echo_server):
    _, start = echo_server
    closed, open_ = start(), start(cors_origins=["http://localhost:3000"])
    origin = {"Origin": "http://localhost:3000"}
    assert get(closed, "/v1/models", origin).getheader("access-control-allow-origin") is None
    assert get(open_, "/v1/models", origin).getheader("access-control-allow-origin") == "http://localhost:3000"
    other = {"Origin": "http://elsewhere.example"}
    assert get(open_, "/v1/models", other).getheader("access-control-allow-origin") is None


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_past_the_cap_is_413(echo_server, chunked):
    _, start = echo_server
    server = start(max_body=64 << 10)
    body = json.dumps({"messages": [{"role": "user", "content": "x" * (200 << 10)}]}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT)
    parts = [body[i:i + 8192] for i in range(0, len(body), 8192)] if chunked else body
    conn.request("POST", "/v1/chat/completions", body=parts, headers={"Content-Type": "application/json"},
                 encode_chunked=chunked)
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "request_too_large"
    conn.close()


class FailingEngine(ScriptedEngine):
    """Fails the way LlamaEngine reports a llama.cpp failure: an error event, then stats."""

    def __init__(self, before_stream: bool = False) -> None:
        super().__init__()
        self.before_stream = before_stream

    def stream(self, messages, params=None, cancel=None, answer_now=None):
        if self.before_stream:
            raise RuntimeError("a bug")
        return iter([TextEvent("answer", "Part"), ErrorEvent("llama.cpp failed while generating (code 1).",
                                                              GenerationError.__name__),
                     StatsEvent(Stats(5, 5, 1, 0, 0.0, 0.0, 0.0, 0.0, "error"))])


@pytest.mark.parametrize("before_stream", [False, True])
def test_an_engine_failure_is_500(before_stream):
    with LocalServer(FailingEngine(before_stream), "127.0.0.1", 0) as server:
        c = client(server)
        messages = [{"role": "user", "content": "hi"}]
        with pytest.raises(openai.InternalServerError) as caught:
            c.chat.completions.create(model="scripted", messages=messages)
        assert caught.value.body["type"] == "server_error"
        assert ("code 1" if not before_stream else "a bug") in caught.value.body["message"]
        if not before_stream:  # a stream already begun ends with an error event, which the client raises
            with pytest.raises(openai.APIError, match="code 1"):
                list(c.chat.completions.create(model="scripted", messages=messages, stream=True))
        # The worker is still there for the next request.
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="scripted", messages=messages)


def test_ponder_s_own_remote_engine_reads_the_server(echo_server):
    engine, start = echo_server
    server = start()
    engine.gate.release(1_000_000)
    with RemoteEngine(server.url) as remote:
        assert remote.info.kind == "openai" and remote.model == "scripted"
        assert remote.context_size == engine.context_size
        events = list(remote.stream([Message("user", "via remote")]))
    thinking, answer = EchoEngine.reply_to("via remote")
    assert "".join(e.text for e in events if e.kind == "reasoning") == thinking
    assert "".join(e.text for e in events if e.kind == "answer") == answer
    assert events[-1].kind == "stats" and events[-1].stats.finish_reason == "stop"
