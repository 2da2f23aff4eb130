"""Every way a server can fail is a RemoteError (an AppError) with a sentence people can
act on; nothing already streamed is lost; the server's own text is plain and short."""

from __future__ import annotations

import socket

import pytest

from app.core.remote import RemoteEngine
from app.core.remote.errors import (
    SERVER_TEXT_CHARS,
    AuthRejected,
    HostNotFound,
    ModelNotFound,
    NotAModelServer,
    RateLimited,
    RequestRefused,
    SecureConnectionFailed,
    ServerIdle,
    ServerUnreachable,
    StreamCut,
    StreamMalformed,
    clean,
    retry_after,
    server_text,
)
from app.core.types import Message
from tests.core.remote.standin import ANSWER, REASONING, StandIn

QUESTION = [Message("user", "What is 2+2?")]


def reply(standin: StandIn, **kwargs):
    """Open an engine on `standin`, ask, and return (events, the engine's last error)."""
    with RemoteEngine(standin.url, **kwargs) as eng:
        events = list(eng.stream(QUESTION))
        return events, eng.last_error


def text(events, kind: str) -> str:
    return "".join(e.text for e in events if e.kind == kind)


def assert_error_end(events, error_type: str) -> None:
    assert [e.kind for e in events][-2:] == ["error", "stats"]
    assert events[-2].error_type == error_type
    assert events[-1].stats.finish_reason == "error"


# -- connecting ---------------------------------------------------------------------------------


def test_nothing_listening_is_unreachable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    with pytest.raises(ServerUnreachable) as err:
        RemoteEngine(f"http://127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in err.value.user_message and "running" in err.value.user_message


def test_a_host_that_does_not_resolve(monkeypatch):
    def no_such_host(*args, **kwargs):  # no lookup leaves this machine
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(HostNotFound) as err:
        RemoteEngine("http://gpu-box.invalid:8080")
    assert "could not be found" in err.value.user_message and "gpu-box.invalid" in err.value.user_message


def test_https_to_a_plain_http_server_is_a_tls_failure():
    with StandIn() as s, pytest.raises(SecureConnectionFailed) as err:
        RemoteEngine(s.url.replace("http://", "https://"))
    assert "secure (https) connection" in err.value.user_message and "http://" in err.value.user_message


def test_something_that_is_no_model_server():
    with StandIn(kind="teapot") as s, pytest.raises(NotAModelServer) as err:
        RemoteEngine(s.url)
    assert "does not answer as a model server" in err.value.user_message


# -- HTTP statuses -------------------------------------------------------------------------------


def test_a_wrong_key_is_refused_in_words():
    with StandIn(api_key="sk-right") as s, pytest.raises(AuthRejected) as err:
        RemoteEngine(s.url, api_key="sk-wrong")
    assert "API key" in err.value.user_message and "HTTP 401" in err.value.user_message
    assert "sk-wrong" not in err.value.user_message  # the stand-in echoes it; the message blanks it
    assert "***" in err.value.user_message


def test_a_model_the_server_does_not_have():
    with StandIn(kind="vllm") as s, pytest.raises(ModelNotFound) as err:
        RemoteEngine(s.url, model="no-such-model")
    assert "no-such-model" in err.value.user_message
    with StandIn(kind="ollama") as s, pytest.raises(ModelNotFound) as err:
        RemoteEngine(s.url, model="llama9:70b")
    assert "llama9:70b" in err.value.user_message and "HTTP 404" in err.value.user_message


def test_404_for_the_chat_names_the_model():
    with StandIn(fault="status", status=(404, '{"error": {"message": "model not found"}}', {})) as s:
        events, error = reply(s)
    assert_error_end(events, "ModelNotFound")
    assert isinstance(error, ModelNotFound) and "phi-4-reasoning" in error.user_message
    assert "model not found" in error.user_message


def test_429_says_when_to_try_again():
    status = (429, '{"error": {"message": "Rate limit exceeded: free-models-per-min"}}', {"Retry-After": "7"})
    with StandIn(fault="status", status=status) as s:
        events, error = reply(s)
    assert_error_end(events, "RateLimited")
    assert isinstance(error, RateLimited) and error.retry_after == 7
    assert "try again in 7 seconds" in error.user_message and "free-models-per-min" in error.user_message


@pytest.mark.parametrize("code", [500, 502, 503])
def test_server_errors(code):
    with StandIn(fault="status", status=(code, '{"error": {"message": "Loading model"}}', {})) as s:
        events, error = reply(s)
    assert_error_end(events, "ServerFailed")
    assert f"HTTP {code}" in error.user_message and "Loading model" in error.user_message


def test_another_refusal_shows_the_servers_reason():
    body = '{"object": "error", "message": "This model\'s maximum context length is 4096 tokens.", "code": 400}'
    with StandIn(kind="vllm", fault="status", status=(400, body, {})) as s:
        _, error = reply(s)
    assert isinstance(error, RequestRefused) and "maximum context length is 4096" in error.user_message


def test_a_servers_html_error_page_is_plain_short_text():
    page = "<html><body><h1>502 Bad Gateway</h1>" + "<p>nginx</p>\x1b[31m" * 500 + "</body></html>"
    with StandIn(fault="status", status=(502, page, {"Content-Type": "text/html"})) as s:
        _, error = reply(s)
    said = error.user_message.split("The server said: ", 1)[1]
    assert said.startswith("<html><body><h1>502 Bad Gateway</h1>")  # as written, to be shown as text
    assert len(said) <= SERVER_TEXT_CHARS and said.endswith("…") and "\x1b" not in said


# -- in the middle of a reply ----------------------------------------------------------------------


def test_an_error_inside_the_stream_keeps_what_came_before():
    with StandIn(fault="stream_error", after=2) as s:
        events, error = reply(s)
    assert_error_end(events, "ServerFailed")
    assert "CUDA error: out of memory" in error.user_message
    assert text(events, "reasoning") == "".join(REASONING[:2])


def test_a_body_that_ends_without_the_end_mark_is_a_cut():
    with StandIn(kind="ollama", fault="eof", after=99) as s:
        events, error = reply(s)
    assert isinstance(error, StreamCut) and "without finishing" in error.user_message
    assert text(events, "answer") == "".join(ANSWER)  # all of it was kept


def test_a_dropped_ollama_stream_keeps_the_partial_text():
    with StandIn(kind="ollama", fault="cut", after=4) as s:
        events, _ = reply(s)
    assert_error_end(events, "StreamCut")
    assert text(events, "reasoning") == "".join(REASONING) and text(events, "answer") == ANSWER[0]


def test_a_server_that_stops_sending_is_given_up():
    with StandIn(fault="hang", after=1) as s:
        events, error = reply(s, idle_seconds=1.0)
        assert s.disconnected.wait(30)  # and the connection was closed, not left open
    assert_error_end(events, "ServerIdle")
    assert isinstance(error, ServerIdle) and "stopped sending for 1 seconds" in error.user_message
    assert text(events, "reasoning") == REASONING[0]


def test_a_server_that_ignores_stream_still_gives_the_whole_reply():
    with StandIn(fault="whole") as s:
        events, error = reply(s)
    assert error is None and events[-1].stats.finish_reason == "stop"
    assert text(events, "reasoning") == "".join(REASONING) and text(events, "answer") == "".join(ANSWER)
    assert events[-1].stats.generated_tokens == 9


def test_a_few_unreadable_lines_are_skipped():
    with StandIn(bad_lines=5) as s:
        events, error = reply(s)
    assert error is None and text(events, "answer") == "".join(ANSWER)


@pytest.mark.parametrize("kind", ["llama.cpp", "ollama"])
def test_many_unreadable_lines_end_the_reply(kind):
    with StandIn(kind=kind, bad_lines=40) as s:
        events, error = reply(s)
    assert_error_end(events, "StreamMalformed")
    assert isinstance(error, StreamMalformed) and "more than 20 lines" in error.user_message


def test_a_line_over_a_megabyte_ends_the_reply():
    with StandIn(fault="huge", after=2) as s:
        events, error = reply(s)
    assert_error_end(events, "StreamMalformed")
    assert "longer than 1 MB" in error.user_message
    assert text(events, "reasoning") == "".join(REASONING[:2])


# -- pieces --------------------------------------------------------------------------------------


def test_retry_after_as_seconds_or_a_date():
    assert retry_after("30") == 30
    assert retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("-5") == 0 and retry_after("1e12") == 86400


def test_server_text_takes_the_message_of_each_servers_error_shape():
    assert server_text(b'{"error": {"message": "bad key", "type": "auth"}}') == "bad key"  # OpenAI, llama.cpp
    assert server_text(b'{"error": "model \\"x\\" not found"}') == 'model "x" not found'  # Ollama
    assert server_text(b'{"object": "error", "message": "too long"}') == "too long"  # vLLM
    assert server_text(b'{"detail": "Not Found"}') == "Not Found"  # FastAPI
    assert server_text("plain\ntext\t here") == "plain text here"


def test_clean_blanks_the_key_and_controls():
    assert clean("key sk-abc is bad\x07\u202e", secret="sk-abc") == "key *** is bad"
