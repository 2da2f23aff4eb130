"""The thinking budget and Answer directly on a server: each kind gets them in the field
its API reads, and a server that cannot keep them says so as the reply's first event."""

from __future__ import annotations

import pytest

from app.core.remote import protocols
from app.core.types import GenParams, Message
from tests.core.remote.standin import StandIn
from tests.core.remote.test_engine_contract import SERVERS, open_engine, serving

QUESTION = [Message("user", "What is 2+2?")]
BUDGET = GenParams(think_budget=1000)
DIRECT = GenParams(answer_directly=True)


@pytest.fixture(params=SERVERS[::2] + [SERVERS[-1]], ids=lambda p: p[0])
def server(request, monkeypatch):
    with serving(*request.param, monkeypatch) as s:
        yield s


def sent(server: StandIn, params: GenParams) -> tuple[dict, list]:
    with open_engine(server) as eng:
        events = list(eng.stream(QUESTION, params))
    return server.chat_requests()[-1].body, events


def notices(events) -> list[str]:
    return [e.text for e in events if e.kind == "notice"]


def test_the_budget_goes_in_the_servers_own_field(server):
    body, events = sent(server, BUDGET)
    stats = events[-1].stats
    assert stats.think_budget == 1000 and stats.thinking_end == "model"
    if server.kind == "llama.cpp":
        assert body["thinking_budget_tokens"] == 1000
        assert body["reasoning_budget_message"].strip() == BUDGET.budget_bridge
        assert notices(events) == []
    elif server.kind == "openrouter":
        assert body["reasoning"] == {"max_tokens": 1000}
        assert notices(events) == []
    elif server.kind == "vllm":
        assert body["thinking_token_budget"] == 1000
        assert "--reasoning-config" in notices(events)[0]
    else:  # Ollama has none: the reply says so before anything else
        assert "think" in body and "budget" not in str(body)
        assert events[0].kind == "notice" and "Ollama has no thinking budget" in events[0].text
        assert "1,000" in events[0].text


def test_answer_directly_turns_the_thinking_off_where_the_server_can(server):
    body, events = sent(server, DIRECT)
    assert events[-1].stats.thinking_end == "skipped"
    if server.kind == "llama.cpp":
        assert body["thinking_budget_tokens"] == 0
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
    elif server.kind == "openrouter":
        assert body["reasoning"] == {"enabled": False}
    elif server.kind == "ollama":
        assert body["think"] is False
    else:
        assert body["chat_template_kwargs"] == {"enable_thinking": False}
        assert "may think anyway" in notices(events)[0]


def test_no_budget_sends_no_budget(server):
    body, events = sent(server, GenParams())
    assert not {"thinking_budget_tokens", "thinking_token_budget", "chat_template_kwargs"} & body.keys()
    assert notices(events) == [] and events[-1].stats.think_budget is None
    if server.kind == "openrouter":
        assert body["reasoning"] == {"enabled": True}


def test_a_server_of_unknown_kind_says_it_has_no_budget():
    assert protocols.thinking_fields("openai", BUDGET) == {}
    note = protocols.thinking_limits("openai", "The server", BUDGET, can_think_off=False)
    assert note == "The server offers no thinking budget, so the model may think past 1,000 tokens."
    assert "no way to skip" in protocols.thinking_limits("openai", "The server", DIRECT, can_think_off=False)
