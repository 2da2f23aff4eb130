"""Which server is at an address: the kind from cheap probes (or the host name), the
models it lists, and addresses as people paste them."""

from __future__ import annotations

import pytest

from app.core.remote import RemoteEngine
from app.core.remote.detect import detect, kind_from_host, list_models, normalize
from app.core.remote.errors import RemoteError
from app.core.remote.http import Http
from tests.core.remote.standin import StandIn


@pytest.mark.parametrize("kind", ["llama.cpp", "vllm", "ollama"])
def test_each_server_is_told_by_its_own_probe(kind):
    with StandIn(kind=kind) as s:
        http = Http(s.url, None)
        try:
            info = detect(http)
            assert info.kind == kind and info.latency_s is not None and info.version
            assert list_models(http, info) == [s.model]
        finally:
            http.close()
        probed = [seen.path for seen in s.seen]
    # Each probe stops at the first that answers: llama.cpp is asked once, vLLM three times.
    assert probed[: {"llama.cpp": 1, "ollama": 2, "vllm": 3}[kind]] == ["/props", "/api/version", "/version"][
        : {"llama.cpp": 1, "ollama": 2, "vllm": 3}[kind]]


def test_an_openai_compatible_server_of_no_known_kind():
    with StandIn(kind="openrouter") as s:  # answers only under /api: like any other OpenAI server there
        http = Http(s.url.removesuffix("/v1"), None)
        try:
            assert detect(http).kind == "openai"
        finally:
            http.close()


def test_openrouter_is_known_by_its_host_without_a_probe():
    assert kind_from_host("https://openrouter.ai/api") == "openrouter"
    assert kind_from_host("http://127.0.0.1:8080") is None
    http = Http(normalize("https://openrouter.ai/api/v1"), None)
    try:
        info = detect(http)  # returns before any request: nothing leaves this machine
    finally:
        http.close()
    assert info.kind == "openrouter" and info.root == "https://openrouter.ai/api"


@pytest.mark.parametrize("given, root", [
    ("http://gpu-box:8080", "http://gpu-box:8080"),
    ("http://gpu-box:8080/", "http://gpu-box:8080"),
    ("http://gpu-box:8080/v1", "http://gpu-box:8080"),
    ("http://gpu-box:8080/v1/chat/completions", "http://gpu-box:8080"),
    ("gpu-box:11434", "http://gpu-box:11434"),
    ("https://openrouter.ai/api/v1/", "https://openrouter.ai/api"),
])
def test_addresses_as_people_paste_them(given, root):
    assert normalize(given) == root


@pytest.mark.parametrize("bad", ["ftp://host/", "http://", "http://user:sk-key@host:8080"])
def test_addresses_that_are_refused(bad):
    with pytest.raises(RemoteError) as err:
        normalize(bad)
    assert "sk-key" not in err.value.user_message


def test_the_first_model_is_used_when_none_is_named():
    with StandIn(kind="ollama", model="qwen3:8b") as s, RemoteEngine(s.url) as eng:
        assert eng.name == eng.model == "qwen3:8b" and eng.list_models() == ["qwen3:8b"]
        report = eng.describe()
    assert report["kind"] == "ollama" and report["server"] == "Ollama" and report["context_size"] == 16384
    assert report["counts_estimated"] and not report["supports_answer_now"]
