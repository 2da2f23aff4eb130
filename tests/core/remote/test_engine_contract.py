"""The engine contract, run against a stand-in of each server (tests/core/remote/standin.py):
the same events in the same order as the local engine, reasoning beside the answer
whichever way the server sends it, stats from the server, counts, context, cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.core.errors import ContextOverflow
from app.core.remote import RemoteEngine
from app.core.remote.counting import estimate_prompt
from app.core.types import GenParams, Message, StatsEvent
from tests.core.remote.standin import ANSWER, REASONING, StandIn, prompt_tokens

QUESTION = [Message("system", "Think first."), Message("user", "What is 2+2?")]

# (kind, where the thinking travels): every way a server sends reasoning.
SERVERS = [
    ("llama.cpp", "reasoning_content"),  # --reasoning-format deepseek
    ("llama.cpp", "tags"),  # --reasoning-format none: <think> inside content
    ("vllm", "reasoning"),  # vLLM >= 0.11 with --reasoning-parser
    ("vllm", "reasoning_content"),  # older vLLM
    ("ollama", "thinking"),  # /api/chat with think: true
    ("openrouter", "reasoning"),
]
OPENROUTER_KEY = "sk-or-v1-standin-key"


def open_engine(standin: StandIn, **kwargs) -> RemoteEngine:
    if standin.kind == "openrouter":  # found by host name in use; named here (127.0.0.1)
        kwargs.setdefault("kind", "openrouter")
        kwargs.setdefault("model", standin.model)
    return RemoteEngine(standin.url, **kwargs)


@contextmanager
def serving(kind: str, field: str, monkeypatch) -> Iterator[StandIn]:
    """A stand-in of `kind` sending its thinking in `field`; OpenRouter's wants its key."""
    if kind == "openrouter":
        monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_KEY)
    with StandIn(kind=kind, reasoning_field=field, api_key=OPENROUTER_KEY if kind == "openrouter" else None) as s:
        yield s


@pytest.fixture(params=SERVERS, ids=[f"{k}-{f}" for k, f in SERVERS])
def server(request, monkeypatch):
    with serving(*request.param, monkeypatch) as s:
        yield s


@pytest.fixture
def engine(server):
    eng = open_engine(server)
    yield eng
    eng.close()


def text(events, kind: str) -> str:
    return "".join(e.text for e in events if e.kind == kind)


class TestRemoteEngineContract:
    def test_reasoning_then_answer_then_stats(self, engine):
        events = list(engine.stream(QUESTION))
        kinds = [e.kind for e in events]
        assert kinds[-1] == "stats" and "error" not in kinds
        text_kinds = [k for k in kinds if k in ("reasoning", "answer")]
        assert text_kinds == sorted(text_kinds, key=lambda k: k == "answer")  # all thinking, then all answer
        assert text(events, "reasoning") == "".join(REASONING)
        assert text(events, "answer") == "".join(ANSWER)
        assert not any(getattr(e, "moves_answer", False) for e in events)

    def test_prompt_reading_progress_where_the_server_reports_it(self, engine, server):
        events = list(engine.stream(QUESTION))
        progress = [(e.done, e.total) for e in events if e.kind == "progress"]
        if server.kind == "llama.cpp":  # return_progress: prompt_progress chunks before the first token
            total = prompt_tokens([{"role": m.role, "content": m.content} for m in QUESTION])
            assert progress == [(total // 2, total), (total, total)]
            assert [e.kind for e in events].index("progress") < [e.kind for e in events].index("reasoning")
        else:
            assert progress == []

    def test_stats_come_from_the_server(self, engine, server):
        stats = list(engine.stream(QUESTION))[-1].stats
        assert stats.finish_reason == "stop" and not stats.reasoning_unfinished
        assert stats.template == "server" and not stats.counts_estimated
        # The stand-in's own counts (words and symbols), not anything counted here.
        assert stats.prompt_tokens == prompt_tokens([{"role": m.role, "content": m.content} for m in QUESTION])
        assert stats.generated_tokens == server.pieces_sent
        assert 0 < stats.reasoning_tokens < stats.generated_tokens
        assert stats.context_size == engine.context_size
        if server.kind in ("llama.cpp", "ollama"):  # they report their own decode speed
            assert stats.tokens_per_second == pytest.approx(server.predicted_per_second, rel=0.01)

    def test_the_request_carries_the_conversation_and_sampling(self, engine, server):
        list(engine.stream(QUESTION, GenParams(temperature=0.3, top_p=0.9, top_k=20, seed=7, max_tokens=100)))
        body = server.chat_requests()[-1].body
        assert body["model"] == server.model and body["stream"] is True
        assert body["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
        options = body["options"] if server.kind == "ollama" else body
        assert options["temperature"] == 0.3 and options["top_p"] == 0.9 and options["seed"] == 7
        assert options["top_k"] == 20
        assert options.get("max_tokens", options.get("num_predict")) == 100
        if server.kind == "ollama":
            assert body["think"] is True and options["num_ctx"] == engine.context_size
        else:
            assert body["stream_options"] == {"include_usage": True}

    def test_context_size_from_the_server(self, engine, server):
        # llama.cpp: /props n_ctx; vLLM: max_model_len; OpenRouter: context_length; Ollama:
        # the trained 32k from /api/show, capped at the local default and asked for as num_ctx.
        expected = {"llama.cpp": server.n_ctx, "vllm": server.n_ctx, "openrouter": server.n_ctx, "ollama": 16384}
        assert engine.context_size == expected[server.kind] and engine.context_known

    def test_token_counts_from_the_server_or_labelled_estimates(self, engine, server):
        chat = [{"role": m.role, "content": m.content} for m in QUESTION]
        if server.kind in ("llama.cpp", "vllm"):  # /tokenize (and llama.cpp's /apply-template)
            assert not engine.counts_estimated
            assert engine.count_prompt_tokens(QUESTION) == prompt_tokens(chat)
            assert engine.count_tokens("Hello, world!") == 4
        else:
            assert engine.counts_estimated
            assert engine.count_prompt_tokens(QUESTION) == estimate_prompt(QUESTION)
            assert engine.count_tokens("Hello, world!") == 4  # 13 characters / 4, rounded up

    def test_a_prompt_too_long_for_the_context_is_refused_before_sending(self, engine, server):
        sent = len(server.chat_requests())
        with pytest.raises(ContextOverflow):
            engine.stream([Message("user", "word " * 20000)])
        assert len(server.chat_requests()) == sent

    def test_cancel_closes_the_connection_while_the_server_is_silent(self, server):
        # The stand-in sends two pieces and then nothing: only a cancel that closes the
        # socket under the blocked read can end this stream (the idle limit is minutes).
        server.fault, server.after = "hang", 2
        eng = open_engine(server, idle_seconds=300)
        sent = "".join(REASONING[:1] if server.reasoning_field == "tags" else REASONING[:2])  # "<think>" is one
        cancel, first = threading.Event(), threading.Event()
        events = []

        def consume():
            for ev in eng.stream(QUESTION, cancel=cancel):
                events.append(ev)
                if text(events, "reasoning") == sent:
                    first.set()  # all that was sent has arrived: the read now waits

        reader = threading.Thread(target=consume)
        reader.start()
        try:
            assert first.wait(30)
            cancel.set()
            assert server.disconnected.wait(30)  # the stand-in saw the client hang up
        finally:
            cancel.set()
            reader.join(60)
            eng.close()
        assert not reader.is_alive()
        assert isinstance(events[-1], StatsEvent) and events[-1].stats.finish_reason == "cancelled"
        assert text(events, "reasoning") == sent  # what came before is kept
        assert events[-1].stats.reasoning_unfinished

    def test_a_cut_stream_keeps_the_partial_text_and_ends_in_an_error(self, server):
        server.fault, server.after = "cut", 3
        with open_engine(server) as eng:
            events = list(eng.stream(QUESTION))
        assert [e.kind for e in events][-2:] == ["error", "stats"]
        assert events[-2].error_type == "StreamCut" and "lost in the middle of the reply" in events[-2].message
        assert events[-1].stats.finish_reason == "error"
        sent = REASONING[:2] if server.reasoning_field == "tags" else REASONING  # three pieces, "<think>" one
        assert text(events, "reasoning") == "".join(sent)
        assert events[-1].stats.counts_estimated  # no usage came: counted here
