"""RemoteEngine against real llama.cpp servers (tests/llama_servers.py), not stand-ins:
llama-server with SmolLM2's layers on two RPC servers on 127.0.0.1, and a llama-server
whose chat template it reads as a thinking model's. A grammar holds the small model to
the <think>...</think>answer shape, so both parts appear whatever it would have said."""

from __future__ import annotations

import re
import signal
import threading
import time
from dataclasses import replace

import httpx2
import pytest

from app.core.remote import RemoteEngine
from app.core.types import ErrorEvent, GenParams, Message, StatsEvent

GRAMMAR = 'root ::= "<think>" [a-z] [a-z ,]{10,60} "</think>" [A-Z] [a-z ,]{5,40} "."'
# Thinking that may go on (up to LONG_TOKENS): for cancel, answer now and a killed machine.
LONG_GRAMMAR = 'root ::= "<think>" [a-z] [a-z ,]{10,2000} "</think>" [A-Z] [a-z ,]{5,40} "."'
LONG_TOKENS = 160
QUESTION = [Message("system", "You are a helpful assistant."), Message("user", "What is two plus two?")]
PARAMS = GenParams(grammar=GRAMMAR, seed=1, temperature=0.0, max_tokens=96)
WAIT_SECONDS = 60


def text(events, kind: str) -> str:
    return "".join(e.text for e in events if e.kind == kind)


def bare_chat(url: str, grammar: str = GRAMMAR) -> dict:
    """The same question sent with httpx2 alone and no stream: what the server itself says."""
    body = {"messages": [{"role": m.role, "content": m.content} for m in QUESTION], "grammar": grammar,
            "seed": 1, "temperature": 0.0, "max_tokens": 96}
    return httpx2.post(url + "/v1/chat/completions", json=body, timeout=120).json()["choices"][0]["message"]


def slots(url: str) -> list[dict]:
    return httpx2.get(url + "/slots", timeout=10).json()


def wait_until(condition, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Reader:
    """Streams one reply on a thread of its own, as the window's worker does."""

    def __init__(self, engine: RemoteEngine, params: GenParams, **events: threading.Event) -> None:
        self.events: list = []
        self.first_text = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(engine, params, events), daemon=True)
        self._thread.start()

    def _run(self, engine, params, events) -> None:
        for ev in engine.stream(QUESTION, params, **events):
            self.events.append(ev)
            if ev.kind in ("reasoning", "answer"):
                self.first_text.set()
        self.first_text.set()

    def join(self) -> list:
        self._thread.join(WAIT_SECONDS * 2)
        assert not self._thread.is_alive(), "the reply did not end"
        return self.events


@pytest.fixture
def cluster_engine(llama_cluster):
    with RemoteEngine(llama_cluster.url) as engine:
        yield engine


class TestDistributedLlamaServer:
    def test_the_model_lives_on_both_rpc_servers(self, llama_cluster, cluster_engine):
        log = llama_cluster.server.log_tail(1_000_000)
        assert "offloaded 31/31 layers" in log
        for rpc in llama_cluster.rpcs:  # each "machine" holds a share of the weights
            assert re.search(rf"load_tensors: RPC\d\[127\.0\.0\.1:{rpc.port}\] model buffer size = +[1-9]", log)
        info = cluster_engine.describe()
        assert info["kind"] == "llama.cpp" and info["version"]
        assert info["context_size"] == 2048 and info["context_known"]  # -c 2048, from /props
        assert not info["counts_estimated"]  # /apply-template + /tokenize
        assert cluster_engine.model in cluster_engine.list_models()
        # llama-server names the model by its path; the window shows the file's name.
        assert cluster_engine.model.endswith("/SmolLM2-135M-Instruct.Q4_1.gguf")
        assert cluster_engine.name == "SmolLM2-135M-Instruct.Q4_1.gguf"

    def test_thinking_lands_beside_the_answer(self, llama_cluster, cluster_engine):
        # SmolLM2's own template is not a thinking model's to llama-server: the tags stay
        # in the text (checked with a bare request), and Ponder's parser splits them.
        bare = bare_chat(llama_cluster.url)
        assert bare["content"].startswith("<think>") and not bare.get("reasoning_content")

        events = list(cluster_engine.stream(QUESTION, PARAMS))
        kinds = [e.kind for e in events]
        assert kinds[-1] == "stats" and "error" not in kinds
        reasoning, answer = text(events, "reasoning"), text(events, "answer")
        assert reasoning and answer and "<think>" not in reasoning + answer and "</think>" not in answer
        assert bare["content"] == f"<think>{reasoning}</think>{answer}"  # same seed, same reply
        text_kinds = [k for k in kinds if k in ("reasoning", "answer")]
        assert text_kinds == sorted(text_kinds, key=lambda k: k == "answer")

    def test_stats_are_the_servers_own(self, cluster_engine):
        events = list(cluster_engine.stream(QUESTION, PARAMS))
        stats, timings = events[-1].stats, cluster_engine.last_server_timings
        assert stats.finish_reason == "stop" and not stats.counts_estimated and stats.template == "server"
        assert stats.prompt_tokens == cluster_engine.count_prompt_tokens(QUESTION)  # the server's usage agrees
        assert stats.generated_tokens == timings["predicted_n"]
        assert stats.tokens_per_second == round(timings["predicted_per_second"], 2)
        assert 0 < stats.reasoning_tokens < stats.generated_tokens
        assert stats.context_size == 2048

    def test_answer_now_where_the_template_is_not_a_thinking_models(self, cluster_engine, monkeypatch):
        # The control endpoint exists, so Answer now is offered; but llama-server has no
        # reasoning-end sampler for a template it does not read as a thinking model's
        # (SmolLM2's), and this build still answers success. The reply goes on unchanged.
        assert cluster_engine.supports_answer_now
        plain = list(cluster_engine.stream(QUESTION, PARAMS))
        calls = []
        post_json = cluster_engine._http.post_json

        def recording(path, body, *args, **kwargs):
            answer = post_json(path, body, *args, **kwargs)
            calls.append((path, body, answer))
            return answer

        monkeypatch.setattr(cluster_engine._http, "post_json", recording)
        answer_now = threading.Event()
        events = []
        for ev in cluster_engine.stream(QUESTION, PARAMS, answer_now=answer_now):
            events.append(ev)
            if ev.kind == "reasoning":
                answer_now.set()
        control = [(body, answer) for path, body, answer in calls if path.endswith("/control")]
        assert len(control) == 1 and control[0][0]["id"].startswith("chatcmpl-")
        assert control[0][1] == {"success": True}
        assert events[-1].stats.finish_reason == "stop" and "error" not in [e.kind for e in events]
        assert text(events, "reasoning") == text(plain, "reasoning") and text(events, "answer") == text(plain, "answer")

    def test_cancel_leaves_the_slot_idle(self, llama_cluster, cluster_engine):
        cancel = threading.Event()
        reader = Reader(cluster_engine, GenParams(grammar=LONG_GRAMMAR, seed=1, temperature=0.0,
                                                  max_tokens=LONG_TOKENS), cancel=cancel)
        assert reader.first_text.wait(WAIT_SECONDS)
        cancel.set()
        events = reader.join()
        stats = events[-1].stats
        assert stats.finish_reason == "cancelled" and "error" not in [e.kind for e in events]
        assert text(events, "reasoning")  # what came before the cancel is kept
        # The server noticed the client leave and stopped generating.
        assert wait_until(lambda: not any(s.get("is_processing") for s in slots(llama_cluster.url)))
        again = list(cluster_engine.stream(QUESTION, PARAMS))
        assert again[-1].stats.finish_reason == "stop"

    def test_an_rpc_server_killed_mid_reply(self, llama_cluster, cluster_engine):
        reader = Reader(cluster_engine, GenParams(grammar=LONG_GRAMMAR, seed=1, temperature=0.0,
                                                  max_tokens=LONG_TOKENS))
        assert reader.first_text.wait(WAIT_SECONDS)
        llama_cluster.rpcs[1].stop(signal.SIGKILL)  # one "machine" goes away
        events = reader.join()
        assert [e.kind for e in events][-2:] == ["error", "stats"]
        error: ErrorEvent = events[-2]
        # llama-server cannot go on without a machine holding layers: it stops (aborts),
        # and the reply is cut where it was.
        assert error.error_type == "StreamCut", error
        assert error.message == (f"The connection to {llama_cluster.url} was lost in the middle of the reply; "
                                 f"the text so far is kept. Try again.")
        assert wait_until(lambda: not llama_cluster.server.alive())
        assert events[-1].stats.finish_reason == "error"
        assert text(events, "reasoning")  # the partial reply is kept
        assert cluster_engine.last_error is not None

        # Both machines and the server started again: the same engine's next send works.
        llama_cluster.ensure_up()
        again = list(cluster_engine.stream(QUESTION, PARAMS))
        assert again[-1].stats.finish_reason == "stop" and text(again, "answer")

    def test_a_server_that_went_away_and_came_back(self, llama_cluster, cluster_engine):
        llama_cluster.server.stop()
        events = list(cluster_engine.stream(QUESTION, PARAMS))
        assert [e.kind for e in events] == ["error", "stats"] and events[-1].stats.finish_reason == "error"
        assert events[0].error_type == "ServerUnreachable" and "Check that the server is running" in events[0].message
        llama_cluster.ensure_up()
        events = list(cluster_engine.stream(QUESTION, PARAMS))
        assert isinstance(events[-1], StatsEvent) and events[-1].stats.finish_reason == "stop"
        assert text(events, "reasoning") and text(events, "answer")


class TestThinkingTemplate:
    """A template llama-server reads as a thinking model's (tests/core/remote/data/
    thinking-chatml.jinja, which starts the reply inside <think>): the thinking arrives in
    reasoning_content, and Answer now works through the control endpoint."""

    GRAMMAR = 'root ::= [a-z] [a-z ,]{10,60} "</think>" [A-Z] [a-z ,]{5,40} "."'  # <think> is the prompt's

    @pytest.fixture
    def url(self, thinking_llama_server):
        return f"http://127.0.0.1:{thinking_llama_server.port}"

    @pytest.fixture
    def engine(self, url):
        with RemoteEngine(url) as engine:
            yield engine

    def test_the_server_sends_the_thinking_in_its_own_field(self, url, engine):
        bare = bare_chat(url, self.GRAMMAR)
        assert bare.get("reasoning_content") and bare["content"] and "think>" not in bare["content"]

        events = list(engine.stream(QUESTION, replace(PARAMS, grammar=self.GRAMMAR)))
        assert [e.kind for e in events][-1] == "stats" and "error" not in [e.kind for e in events]
        assert text(events, "reasoning") == bare["reasoning_content"]
        assert text(events, "answer") == bare["content"]
        stats = events[-1].stats
        assert stats.finish_reason == "stop" and not stats.reasoning_unfinished
        assert 0 < stats.reasoning_tokens < stats.generated_tokens

    def test_answer_now_ends_the_thinking(self, engine):
        # No grammar: the model thinks freely (the template opened <think>) until it is
        # told to answer. llama-server refuses a grammar that the forced end breaks.
        assert engine.supports_answer_now
        params = GenParams(seed=1, temperature=0.0, max_tokens=LONG_TOKENS, ignore_eos=True)
        thought_through = list(engine.stream(QUESTION, params))
        assert thought_through[-1].stats.reasoning_unfinished and not text(thought_through, "answer")

        answer_now = threading.Event()
        events = []
        for ev in engine.stream(QUESTION, params, answer_now=answer_now):
            events.append(ev)
            if ev.kind == "reasoning":
                answer_now.set()
        kinds = [e.kind for e in events]
        assert kinds[-1] == "stats" and "error" not in kinds
        reasoning = text(events, "reasoning")
        assert reasoning and len(reasoning) < len(text(thought_through, "reasoning")) // 2  # cut short
        assert text(events, "answer").strip()  # and then it answered (until max_tokens: ignore_eos)
        assert not events[-1].stats.reasoning_unfinished and events[-1].stats.reasoning_tokens < LONG_TOKENS // 2
