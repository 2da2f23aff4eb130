"""A `POST /v1/chat/completions` body, checked field by field, into what the engine takes.

Every field comes from whoever can reach the port: each is type-checked and bounded
(message count, text sizes, stop strings, grammar), and anything wrong is a 400 that
names the field. Fields the server cannot honour (tools, several choices, log
probabilities, JSON mode) are refused rather than silently ignored, since a client
relying on them would get something else than it asked for; fields that only tune
(user, penalties at their defaults...) are ignored.

The prompt follows the app's one rule (conversation.prompt_messages): system messages
go first, earlier replies without their thinking, replies with no answer left out.
A conversation without a system message gets Phi-4-reasoning's own system prompt, as
its model card says the model may not reason without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from app.core.conversation import prompt_messages
from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT
from app.core.reasoning import ReasoningParser
from app.core.serve.errors import ApiError, bad_request
from app.core.types import GenParams, Message

MAX_MESSAGES = 4096
MAX_STOPS = 16
MAX_STOP_CHARS = 1000
MAX_GRAMMAR_CHARS = 100_000
MAX_TOKENS_LIMIT = 1 << 24
REASONING_FORMATS = ("auto", "deepseek", "none")  # llama-server's names; "none" keeps <think> in the content
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    params: GenParams
    stream: bool = False
    include_usage: bool = False
    raw_reasoning: bool = False  # reasoning_format "none": the thinking inline in content, in <think> tags
    stops: tuple[str, ...] = ()
    # Read the whole prompt afresh rather than reuse the model's cache: llama.cpp's numbers
    # for a token differ slightly between a prompt batch and a single step, so a seeded
    # reply would otherwise depend on what the previous request left in the cache.
    fresh_prompt: bool = False


@dataclass(frozen=True, slots=True)
class _Turn:
    """The shape prompt_messages reads from a stored message."""

    role: str
    content: str
    id: None = None


def parse_body(raw: bytes) -> dict:
    """The body as a JSON object, or a 400 saying why not."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser's stack
        raise bad_request(f"The request body is not valid JSON: {str(exc)[:200]}.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def parse_chat_request(data: dict, served: tuple[str, ...], defaults: GenParams = GenParams()) -> ChatRequest:
    """Check `data` (a parsed body) and turn it into a ChatRequest. `served` are the names
    the model answers to; the first is the one replies carry. Raises ApiError."""
    model = data.get("model")
    if model is None:
        model = served[0]  # llama-server's habit: the one model, whatever the client left out
    elif not isinstance(model, str):
        raise bad_request("'model' must be a string.", "model")
    elif model not in served:
        raise ApiError(404, f"The model {model[:200]!r} is not served here; this server serves {served[0]!r} "
                            f"(GET /v1/models lists it).", code="model_not_found", param="model")
    _refuse_unsupported(data)
    stream = _bool(data, "stream", False)
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", "stream_options")
    include_usage = _bool(options or {}, "include_usage", False, "stream_options.include_usage")
    fmt = data.get("reasoning_format", "auto")
    if fmt not in REASONING_FORMATS:
        raise bad_request(f"'reasoning_format' must be one of {', '.join(REASONING_FORMATS)}.", "reasoning_format")
    params = _params(data, defaults)
    # llama-server's field; here its default is off for a seeded request, so the same seed
    # and request give the same text whatever came before.
    cache_prompt = _bool(data, "cache_prompt", params.seed is None)
    return ChatRequest(served[0], _messages(data.get("messages")), params, stream, include_usage,
                       fmt == "none", _stops(data.get("stop")), not cache_prompt)


def _refuse_unsupported(data: dict) -> None:
    if data.get("n", 1) != 1:
        raise bad_request("Only one choice per request is generated here: leave 'n' out or set it to 1.", "n")
    if data.get("tools") or data.get("functions"):
        raise bad_request("Tools and function calls are not supported by this server.", "tools")
    if data.get("logprobs"):
        raise bad_request("Log probabilities are not supported by this server.", "logprobs")
    fmt = data.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise bad_request("Only 'response_format' {\"type\": \"text\"} is supported; for structured output pass "
                          "a GBNF 'grammar'.", "response_format")


def _messages(value: Any) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise bad_request("'messages' must be a non-empty list.", "messages")
    if len(value) > MAX_MESSAGES:
        raise bad_request(f"At most {MAX_MESSAGES} messages are accepted per request.", "messages")
    system: list[str] = []
    turns: list[_Turn] = []
    for i, item in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object with 'role' and 'content'.", where)
        role = _ROLES.get(item.get("role")) if isinstance(item.get("role"), str) else None
        if role is None:
            raise bad_request(f"{where}.role must be one of system, developer, user or assistant.", f"{where}.role")
        text = _content(item.get("content"), f"{where}.content", optional=role == "assistant")
        if role == "system":
            system.append(text)
        else:
            turns.append(_Turn(role, _answer_only(text) if role == "assistant" else text))
    prompt = "\n\n".join(s for s in system if s) if system else PHI4_REASONING_SYSTEM_PROMPT
    return prompt_messages(prompt or None, turns)


def _content(value: Any, where: str, optional: bool) -> str:
    if value is None and optional:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: only text ones can be read by this model
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_request(f"{where} may hold only text parts ({{\"type\": \"text\", \"text\": ...}}).", where)
            texts.append(part["text"])
        return "".join(texts)
    raise bad_request(f"{where} must be a string or a list of text parts.", where)


def _answer_only(text: str) -> str:
    """An earlier reply without its thinking (a client that asked for reasoning_format
    "none" sends it back with its <think> part), as the prompt rule wants."""
    if "think>" not in text:
        return text
    parser = ReasoningParser()
    events = [*parser.feed(text), *parser.finish()]
    return "".join(e.text for e in events if e.kind == "answer").strip()


def _params(data: dict, defaults: GenParams) -> GenParams:
    changes: dict[str, Any] = {}
    for key in ("max_completion_tokens", "max_tokens"):  # the newer name wins when both are given
        if data.get(key) is not None:
            changes["max_tokens"] = _int(data, key, 1, MAX_TOKENS_LIMIT)
            break
    if data.get("temperature") is not None:
        changes["temperature"] = _number(data, "temperature", 0.0, 2.0)
    if data.get("top_p") is not None:
        changes["top_p"] = _number(data, "top_p", 0.0, 1.0)
    if data.get("min_p") is not None:
        changes["min_p"] = _number(data, "min_p", 0.0, 1.0)
    if data.get("top_k") is not None:
        changes["top_k"] = _int(data, "top_k", 0, 1 << 20)
    if data.get("seed") is not None:
        changes["seed"] = _int(data, "seed", -(1 << 63), (1 << 64) - 1)
    if data.get("ignore_eos") is not None:  # llama-server's: replies of a set length, for benchmarks
        changes["ignore_eos"] = _bool(data, "ignore_eos", False)
    grammar = data.get("grammar")
    if grammar is not None:
        if not isinstance(grammar, str) or len(grammar) > MAX_GRAMMAR_CHARS:
            raise bad_request(f"'grammar' must be GBNF text of at most {MAX_GRAMMAR_CHARS:,} characters.", "grammar")
        changes["grammar"] = grammar or None
    return replace(defaults, **changes)


def _stops(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if (not isinstance(stops, list) or len(stops) > MAX_STOPS
            or not all(isinstance(s, str) and 0 < len(s) <= MAX_STOP_CHARS for s in stops)):
        raise bad_request(f"'stop' must be a string or a list of at most {MAX_STOPS} non-empty strings of at most "
                          f"{MAX_STOP_CHARS} characters.", "stop")
    return tuple(dict.fromkeys(stops))


def _bool(data: dict, key: str, default: bool, name: str | None = None) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"'{name or key}' must be true or false.", name or key)
    return value


def _int(data: dict, key: str, low: int, high: int) -> int:
    value = data[key]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(f"'{key}' must be a whole number from {low} to {high}.", key)
    return value


def _number(data: dict, key: str, low: float, high: float) -> float:
    value = data[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise bad_request(f"'{key}' must be a number from {low:g} to {high:g}.", key)
    return float(value)
