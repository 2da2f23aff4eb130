"""Saved connections: the file, names, keys in the keychain, and opening the server."""

from __future__ import annotations

import json
import logging

import pytest
from keyring.backends import fail

from app.core.errors import AppError
from app.core.remote.connections import FILE_NAME, Connection, Connections, is_loopback
from app.core.remote.errors import AuthRejected
from app.core.secrets import NoKeychain, SecretStore
from app.core.types import Message
from tests.core.remote.standin import ANSWER, StandIn
from tests.core.test_secrets import MemoryKeychain

KEY = "sk-box-5e1f0c2a9d7b"


@pytest.fixture
def chain() -> MemoryKeychain:
    return MemoryKeychain()


def saved(folder, chain) -> Connections:
    return Connections(folder, SecretStore(folder, chain))


def test_connections_are_saved_and_read_back_without_their_keys(tmp_path, chain):
    conns = saved(tmp_path, chain)
    conns.put(Connection("gpu-box", "http://10.0.0.5:8080/v1/", kind="vllm", model=" phi ", api_key_env="BOX_KEY"))
    conns.put(Connection("laptop", "localhost:11434"))
    assert conns.set_key("gpu-box", KEY) == "keychain"
    raw = (tmp_path / FILE_NAME).read_text()
    assert KEY not in raw
    again = saved(tmp_path, chain)
    assert again.problem is None and again.names() == ["gpu-box", "laptop"]
    box = again.get("gpu-box")
    assert box == Connection("gpu-box", "http://10.0.0.5:8080", "vllm", "phi", "BOX_KEY")
    assert box.host == "10.0.0.5:8080" and box.kind_label == "vLLM" and not box.loopback
    assert again.get("laptop").loopback and again.get("laptop").url == "http://localhost:11434"
    assert again.key_place("gpu-box") == "keychain" and again.api_key(box) == KEY


def test_bad_names_addresses_and_duplicates_are_refused_with_a_sentence(tmp_path, chain):
    conns = saved(tmp_path, chain)
    conns.put(Connection("box", "http://box:8080"))
    cases = [
        (Connection(" ", "http://a"), "name"),
        (Connection("x" * 61, "http://a"), "at most 60"),
        (Connection("a\nb", "http://a"), "control"),
        (Connection("box", "http://other"), "already"),
        (Connection("n", "ftp://a"), "not a server address"),
        (Connection("n", "http://user:pw@a"), "not in the address"),
        (Connection("n", "http://a", api_key_env="MY KEY"), "environment variable"),
    ]
    for conn, words in cases:
        with pytest.raises(AppError) as err:
            conns.put(conn)
        assert words in err.value.user_message
    assert saved(tmp_path, chain).names() == ["box"]


def test_rename_moves_the_key_and_a_new_address_asks_again(tmp_path, chain):
    conns = saved(tmp_path, chain)
    conns.put(Connection("box", "http://10.0.0.5:8080"))
    conns.set_key("box", KEY)
    conns.allow_sending("box")
    assert conns.get("box").sending_allowed
    conns.put(Connection("big-box", "http://10.0.0.5:8080", sending_allowed=True), replacing="box")
    assert conns.names() == ["big-box"] and conns.api_key(conns.get("big-box")) == KEY
    assert conns.secrets.get("remote:box") is None
    conns.put(Connection("big-box", "http://10.0.0.6:8080", sending_allowed=True), replacing="big-box")
    assert not conns.get("big-box").sending_allowed  # agreed for the old address only
    conns.remove("big-box")
    assert conns.names() == [] and conns.secrets.get("remote:big-box") is None
    with pytest.raises(AppError, match="no connection"):
        conns.remove("big-box")


def test_a_damaged_file_is_reported_kept_aside_and_the_readable_entries_work(tmp_path, chain):
    (tmp_path / FILE_NAME).write_text(json.dumps({"format": 1, "connections": [
        {"name": "good", "url": "http://10.0.0.5:8080"},
        {"name": "bad", "url": "ftp://x"},
        "not an entry",
    ]}))
    conns = saved(tmp_path, chain)
    assert conns.names() == ["good"]
    assert "2 saved connections" in conns.problem
    conns.put(Connection("new", "http://10.0.0.7:8000"))
    aside = list(tmp_path.glob(FILE_NAME + ".unreadable-*"))
    assert len(aside) == 1 and "ftp://x" in aside[0].read_text()  # nothing lost
    assert saved(tmp_path, chain).names() == ["good", "new"]

    (tmp_path / FILE_NAME).write_text("{not json")
    broken = saved(tmp_path, chain)
    assert broken.names() == [] and "could not be read: it is not valid JSON" in broken.problem
    (tmp_path / FILE_NAME).write_bytes(b" " * (300 * 1024))
    assert "larger than" in saved(tmp_path, chain).problem


def test_without_a_keychain_the_key_needs_consent_for_a_private_file(tmp_path):
    conns = Connections(tmp_path, SecretStore(tmp_path, fail.Keyring()))
    conns.put(Connection("box", "http://10.0.0.5:8080"))
    assert "No keychain" in conns.secrets.keychain_problem()
    with pytest.raises(NoKeychain):
        conns.set_key("box", KEY)
    assert conns.set_key("box", KEY, allow_file=True) == "file"
    assert conns.key_place("box") == "file" and KEY not in (tmp_path / FILE_NAME).read_text()


def test_loopback_addresses():
    assert is_loopback("http://127.0.0.1:8080") and is_loopback("http://localhost") and is_loopback("http://[::1]:1")
    assert not is_loopback("http://10.0.0.5:8080") and not is_loopback("https://openrouter.ai/api")


def test_resolve_takes_a_saved_name_or_an_address(tmp_path, chain):
    conns = saved(tmp_path, chain)
    conns.put(Connection("box", "http://10.0.0.5:8080"))
    assert conns.resolve("box").url == "http://10.0.0.5:8080"
    assert conns.resolve("http://gpu:8000/v1").url == "http://gpu:8000"
    with pytest.raises(AppError, match="No connection named 'nobox'; saved ones: box"):
        conns.resolve("nobox")


def test_open_engine_sends_the_kept_key_and_never_logs_it(tmp_path, chain, caplog):
    caplog.set_level(logging.DEBUG)
    conns = saved(tmp_path, chain)
    with StandIn(kind="vllm", reasoning_field="reasoning", api_key=KEY) as s:
        conns.put(Connection("box", s.url, model=s.model))
        with pytest.raises(AuthRejected):
            conns.open_engine("box").close()
        conns.set_key("box", KEY)
        with conns.open_engine("box") as engine:
            events = list(engine.stream([Message("user", "hi")]))
            assert engine.info.kind == "vllm" and engine.model == s.model
    assert "".join(e.text for e in events if e.kind == "answer") == "".join(ANSWER)
    assert KEY not in caplog.text


def test_open_engine_takes_the_key_from_the_connections_variable(tmp_path, chain, monkeypatch):
    monkeypatch.setenv("BOX_KEY", KEY)
    conns = saved(tmp_path, chain)
    with StandIn(kind="llama.cpp", api_key=KEY) as s:
        conns.put(Connection("box", s.url, api_key_env="BOX_KEY"))
        with conns.open_engine("box") as engine:
            assert engine.context_size == s.n_ctx
