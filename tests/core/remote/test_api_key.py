"""API keys: from the argument or the environment, sent only as a Bearer header to the
server named, and never written to the log or shown in a message."""

from __future__ import annotations

import logging

import pytest

from app.core.remote import RemoteEngine
from app.core.remote.errors import AuthRejected
from app.core.remote.http import resolve_key
from app.core.types import Message
from tests.core.remote.standin import StandIn

KEY = "sk-test-7f3a9c1e5b2d4086"


def test_the_key_comes_from_the_argument_then_the_named_variable_then_the_usual_ones(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    monkeypatch.setenv("PONDER_API_KEY", "ponder-key")
    monkeypatch.setenv("MY_BOX_KEY", "box-key")
    assert resolve_key("given", "MY_BOX_KEY", "openrouter") == "given"
    assert resolve_key(None, "MY_BOX_KEY", "openrouter") == "box-key"
    assert resolve_key(None, None, "openrouter") == "or-key"
    assert resolve_key(None, None, "vllm") == "ponder-key"
    monkeypatch.delenv("PONDER_API_KEY")
    assert resolve_key(None, None, "vllm") is None
    assert resolve_key(None, "UNSET_VARIABLE", "openrouter") is None  # a named variable is the only one asked


def test_a_key_in_the_environment_opens_a_server_that_wants_one(monkeypatch):
    monkeypatch.setenv("MY_BOX_KEY", KEY)
    with StandIn(kind="vllm", api_key=KEY) as s:
        with RemoteEngine(s.url, api_key_env="MY_BOX_KEY") as eng:
            events = list(eng.stream([Message("user", "hi")]))
        assert events[-1].stats.finish_reason == "stop"
        assert {seen.headers.get("Authorization") for seen in s.seen} == {f"Bearer {KEY}"}


def test_the_key_is_never_logged_nor_shown(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, httpx2's and httpcore2's included
    with StandIn(api_key=KEY) as s, RemoteEngine(s.url, api_key=KEY) as eng:
        list(eng.stream([Message("user", "hi")]))
        s.api_key = "sk-rotated"  # the server now refuses the key, and echoes it back
        events = list(eng.stream([Message("user", "hi")]))
    assert events[-2].error_type == "AuthRejected"
    assert "HTTP Request: POST" in caplog.text  # the log did record the requests
    assert KEY not in caplog.text
    assert KEY not in events[-2].message and KEY not in repr(eng.__dict__.get("info"))
    with pytest.raises(AuthRejected) as err, StandIn(api_key="sk-other") as s:
        RemoteEngine(s.url, api_key=KEY)
    assert KEY not in err.value.user_message and KEY not in caplog.text
