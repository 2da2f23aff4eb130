"""Which kind of model server is at an address, what it serves, and how big its context is.

Kinds are told apart by cheap GET probes, each answered only by its own server:
llama.cpp's `/props`, Ollama's `/api/version`, vLLM's `/version`; OpenRouter by its host
name (no probe leaves for it); anything else that lists `/v1/models` is "openai", a
generic OpenAI-compatible server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.core.context_rules import default_context
from app.core.remote.errors import (
    AuthRejected,
    ModelNotFound,
    NotAModelServer,
    RemoteError,
    SecureConnectionFailed,
    ServerIdle,
    ServerUnreachable,
    clean,
)
from app.core.remote.http import Http

# Failures that say nothing about the path probed: the server is not usable at all.
_FATAL = (ServerUnreachable, SecureConnectionFailed, AuthRejected, ServerIdle)
KINDS = {
    "llama.cpp": "llama.cpp server",
    "vllm": "vLLM",
    "ollama": "Ollama",
    "openrouter": "OpenRouter",
    "openai": "OpenAI-compatible server",
}
MAX_MODELS = 2000  # OpenRouter lists a few hundred
MODEL_NAME_CHARS = 200
_SUFFIXES = ("/chat/completions", "/v1", "/")


@dataclass(frozen=True, slots=True)
class ServerInfo:
    kind: str  # a key of KINDS
    root: str  # the server's address without the OpenAI "/v1" (https://openrouter.ai/api)
    version: str | None = None
    latency_s: float | None = None  # the first probe's round trip
    props: dict | None = None  # llama.cpp's /props, kept for its context size

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)


def normalize(base_url: str) -> str:
    """The server's root from an address as people paste it: http(s) only, no query, no
    trailing '/v1' or '/v1/chat/completions'. Raises RemoteError for anything else."""
    text = (base_url or "").strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"{clean(base_url)!r} is not a server address; give one like http://host:8080.")
    if parts.username or parts.password:
        raise RemoteError("Put the API key in an environment variable, not in the address.")
    path = parts.path
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if path.endswith(suffix):
                path, changed = path[: -len(suffix)], True
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def kind_from_host(root: str) -> str | None:
    host = (urlsplit(root).hostname or "").lower()
    if host == "openrouter.ai" or host.endswith(".openrouter.ai"):
        return "openrouter"
    return None


def detect(http: Http, kind: str | None = None) -> ServerInfo:
    """Probe the server behind `http` (or take `kind` as given)."""
    if kind is not None and kind not in KINDS:
        raise RemoteError(f"Unknown server kind {kind!r}; one of: {', '.join(KINDS)}.")
    kind = kind or kind_from_host(http.root)
    t0 = time.perf_counter()
    if kind == "openrouter":
        return ServerInfo(kind, http.root)
    if kind in (None, "llama.cpp"):
        props = _probe(http, "/props")
        if props is not None and any(k in props for k in ("default_generation_settings", "total_slots", "build_info")):
            return ServerInfo("llama.cpp", http.root, _version(props.get("build_info")), time.perf_counter() - t0,
                              props)
    if kind in (None, "ollama"):
        data = _probe(http, "/api/version")
        if data is not None and "version" in data:
            return ServerInfo("ollama", http.root, _version(data.get("version")), time.perf_counter() - t0)
    if kind in (None, "vllm"):
        data = _probe(http, "/version")
        if data is not None and "version" in data:
            return ServerInfo("vllm", http.root, _version(data.get("version")), time.perf_counter() - t0)
    if kind is not None:  # named by the caller: trust it
        return ServerInfo(kind, http.root, None, time.perf_counter() - t0)
    try:
        http.get_json("/v1/models")
    except _FATAL:
        raise
    except RemoteError as exc:
        raise NotAModelServer(f"{http.where} does not answer as a model server (no llama.cpp /props, Ollama "
                              f"/api/version, vLLM /version or OpenAI /v1/models). Check the address and port.",
                              reason=exc.user_message) from exc
    return ServerInfo("openai", http.root, None, time.perf_counter() - t0)


def _probe(http: Http, path: str) -> dict | None:
    """A probe's JSON, or None when this path is not the server's; a server that cannot
    be reached (or refuses the key) is an error at once, not a wrong guess."""
    try:
        return http.get_json(path, timeout=10.0)
    except _FATAL:
        raise
    except RemoteError:
        return None


def _version(value: object) -> str | None:
    return clean(value)[:60] if isinstance(value, str) and value else None


def list_models(http: Http, info: ServerInfo) -> list[str]:
    """The names the server serves (Ollama's pulled models; /v1/models elsewhere)."""
    if info.kind == "ollama":
        data = http.get_json("/api/tags")
        items = data.get("models")
        key = "name"
    else:
        data = http.get_json("/v1/models")
        items = data.get("data")
        key = "id"
    names = []
    for item in items[:MAX_MODELS] if isinstance(items, list) else []:
        if isinstance(item, dict):
            name = item.get(key) or item.get("model") or item.get("id")
            if isinstance(name, str) and name and len(name) <= MODEL_NAME_CHARS:
                names.append(clean(name))
    return names


@dataclass(frozen=True, slots=True)
class ModelFacts:
    context_size: int | None  # None: the server does not say
    thinking: bool = False  # Ollama: the model accepts think=true


def model_facts(http: Http, info: ServerInfo, model: str) -> ModelFacts:
    """What the server says about `model`: its context size, and for Ollama whether it thinks."""
    if info.kind == "llama.cpp":
        props = info.props or {}
        settings = props.get("default_generation_settings")
        n = settings.get("n_ctx") if isinstance(settings, dict) else None
        return ModelFacts(_positive(n) or _positive(props.get("n_ctx")))
    if info.kind == "ollama":
        data = http.post_json("/api/show", {"model": model}, model=model)
        trained = None
        model_info = data.get("model_info")
        if isinstance(model_info, dict):
            trained = next((_positive(v) for k, v in model_info.items()
                            if isinstance(k, str) and k.endswith(".context_length") and _positive(v)), None)
        caps = data.get("capabilities")
        thinking = isinstance(caps, list) and "thinking" in caps
        # Ollama runs a model at the size a request asks for (num_ctx): ask for the
        # trained length capped as local models are, so laptops are not asked for 128k.
        return ModelFacts(default_context(trained), thinking)
    data = http.get_json("/v1/models")
    items = data.get("data") if isinstance(data.get("data"), list) else []
    for item in items[:MAX_MODELS]:
        if isinstance(item, dict) and item.get("id") == model:
            top = item.get("top_provider")
            n = (_positive(item.get("max_model_len")) or _positive(item.get("context_length"))
                 or (_positive(top.get("context_length")) if isinstance(top, dict) else None))
            return ModelFacts(n)
    if info.kind in ("vllm", "openrouter"):
        raise ModelNotFound(f"{http.where} does not serve a model named {clean(model)!r}.")
    return ModelFacts(None)


def _positive(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 31:
        return value
    return None
