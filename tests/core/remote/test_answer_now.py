"""Answer now on a remote model: llama.cpp's server ends the thinking through
POST /v1/chat/completions/control; servers without it say so up front."""

from __future__ import annotations

import threading

import pytest

from app.core.remote import RemoteEngine
from app.core.types import Message
from tests.core.remote.standin import ANSWER, StandIn

QUESTION = [Message("user", "Think about it at length.")]
LONG_THINKING = [f"step {i}. " for i in range(1500)]


@pytest.mark.parametrize("field", ["reasoning_content", "tags"])
def test_answer_now_ends_the_thinking_through_the_control_endpoint(field):
    with StandIn(reasoning_field=field, reasoning=list(LONG_THINKING), pace=0.002) as s:
        with RemoteEngine(s.url) as eng:
            assert eng.supports_answer_now
            answer_now = threading.Event()
            events = []
            for ev in eng.stream(QUESTION, answer_now=answer_now):
                events.append(ev)
                if ev.kind == "reasoning":
                    answer_now.set()
        chat = s.chat_requests()[-1]
        calls = [c for c in s.control_calls if c.get("id") != "ponder-probe"]
    assert chat.body["reasoning_control"] is True  # armed when sent
    # Once, for the completion being streamed (the id its chunks carry), as documented.
    assert calls == [{"id": s.last_completion_id, "action": "reasoning_end", "model": s.model}]
    reasoning = "".join(e.text for e in events if e.kind == "reasoning")
    assert reasoning and len(reasoning) < len("".join(LONG_THINKING)) // 2  # cut short, not thought through
    assert "".join(e.text for e in events if e.kind == "answer") == "".join(ANSWER)
    stats = events[-1].stats
    assert stats.finish_reason == "stop" and not stats.reasoning_unfinished


def test_an_older_llama_server_without_control_has_no_answer_now():
    with StandIn(control=False) as s, RemoteEngine(s.url) as eng:
        assert not eng.supports_answer_now
        answer_now = threading.Event()
        answer_now.set()
        events = list(eng.stream(QUESTION, answer_now=answer_now))
        assert "reasoning_control" not in s.chat_requests()[-1].body
    assert events[-1].stats.finish_reason == "stop" and "error" not in [e.kind for e in events]


@pytest.mark.parametrize("kind", ["vllm", "ollama"])
def test_other_servers_offer_no_answer_now(kind):
    with StandIn(kind=kind) as s, RemoteEngine(s.url) as eng:
        assert not eng.supports_answer_now
        assert not [seen for seen in s.seen if seen.path.endswith("/control")]
