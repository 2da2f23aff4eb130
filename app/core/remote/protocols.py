"""The two chat protocols: what a request carries and what each streamed payload means.

OpenAI-compatible `POST /v1/chat/completions` (llama.cpp's server, vLLM, OpenRouter,
Ollama's /v1, others), and Ollama's native `POST /api/chat`. Each payload becomes a
`Piece`; the engine never looks at raw JSON. Reasoning arrives in whichever field the
server uses (`reasoning_content`, `reasoning`, `thinking`) or as `<think>` tags in
the text; the engine sends both kinds through one ReasoningParser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.types import GenParams, Message

# Which sampling options each kind of server accepts beyond OpenAI's own: OpenAI's
# API refuses unknown fields, so a server of unknown kind gets only the standard ones.
_EXTRA_SAMPLING = {"llama.cpp", "vllm", "openrouter"}


@dataclass(slots=True)
class Piece:
    """One streamed payload, read."""

    reasoning: str = ""
    content: str = ""
    finish: str | None = None  # the server's finish reason, when this payload ends the reply
    usage: dict | None = None  # {"prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"}
    timings: dict | None = None  # llama.cpp's shape: prompt_n, prompt_ms, predicted_n, predicted_ms, ...
    completion_id: str | None = None
    error: str | None = None  # an error the server reported inside the stream
    done: bool = False  # the protocol's end-of-stream mark
    progress: tuple[int, int] | None = None  # prompt tokens read so far, of how many (llama.cpp)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _num(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value) and value >= 0:
        return float(value)
    return None


def _error_text(err: object) -> str:
    if isinstance(err, str):
        return err
    if isinstance(err, dict):
        for key in ("message", "error", "detail"):
            if isinstance(err.get(key), str):
                return err[key]
    return "the server reported an error"


def messages_json(messages: Sequence[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.content} for m in messages]


# -- OpenAI-compatible ---------------------------------------------------------------------


def openai_body(kind: str, model: str, messages: Sequence[Message], params: GenParams, max_tokens: int,
                answer_control: bool) -> dict:
    """The request for a streamed chat completion on a server of `kind`."""
    body: dict = {
        "model": model,
        "messages": messages_json(messages),
        "stream": True,
        "stream_options": {"include_usage": True},  # the token counts come in a last chunk
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": max_tokens,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    if kind in _EXTRA_SAMPLING:
        body["top_k"] = params.top_k
        body["min_p"] = params.min_p
    if kind in ("llama.cpp", "vllm") and params.ignore_eos:
        body["ignore_eos"] = True
    body.update(thinking_fields(kind, params))
    if kind == "llama.cpp":
        if params.grammar:
            body["grammar"] = params.grammar
        if answer_control:
            body["reasoning_control"] = True  # arms POST /v1/chat/completions/control
        # Progress chunks while a long prompt is read: a progress bar, and bytes that keep
        # the idle limit from firing during minutes of prompt processing on a CPU.
        body["return_progress"] = True
    return body


def thinking_fields(kind: str, params: GenParams) -> dict:
    """The thinking budget and Answer directly, in the fields a server of `kind` reads:
    llama.cpp's server `thinking_budget_tokens` (0 ends the thinking at once) and its
    `reasoning_budget_message`; vLLM's `thinking_token_budget`; OpenRouter's
    `reasoning.max_tokens`. See `thinking_limits` for what each cannot do."""
    budget, direct = params.think_budget, params.answer_directly
    off = {"enable_thinking": False}  # templates that can think or not read this (Qwen3 and others)
    if kind == "openrouter":
        if direct:
            return {"reasoning": {"enabled": False}}
        return {"reasoning": {"max_tokens": budget} if budget is not None else {"enabled": True}}
    if kind == "llama.cpp":
        if direct:
            return {"thinking_budget_tokens": 0, "chat_template_kwargs": off}
        if budget is not None:
            fields = {"thinking_budget_tokens": budget}
            if params.budget_bridge:
                fields["reasoning_budget_message"] = f"\n\n{params.budget_bridge}"
            return fields
    if kind == "vllm":
        if direct:
            return {"chat_template_kwargs": off}
        if budget is not None:
            return {"thinking_token_budget": budget}
    return {}


def thinking_limits(kind: str, label: str, params: GenParams, can_think_off: bool) -> str | None:
    """A sentence when a server of `kind` cannot keep the thinking budget or skip the
    thinking as asked; None when it can (as far as its API says)."""
    if params.answer_directly:
        if kind in ("llama.cpp", "openrouter") or (kind == "ollama" and can_think_off):
            return None
        if kind == "vllm":
            return ("vLLM skips the thinking only for models whose chat template can turn it off; "
                    "this one may think anyway.")
        return f"{label} offers no way to skip the thinking; the model may think anyway."
    if params.think_budget is None:
        return None
    if kind == "llama.cpp":
        return None
    if kind == "openrouter":
        return None
    if kind == "vllm":
        return ("vLLM keeps a thinking budget only when it was started with a reasoning configuration "
                "(--reasoning-config); without one the model may think past "
                f"{params.think_budget:,} tokens.")
    if kind == "ollama":
        return (f"Ollama has no thinking budget, so the model may think past {params.think_budget:,} tokens. "
                "Only Answer directly (thinking off) can be asked of it.")
    return f"{label} offers no thinking budget, so the model may think past {params.think_budget:,} tokens."


def openai_piece(payload: dict) -> Piece:
    """A `chat.completion.chunk` (or an error object) as a Piece."""
    piece = Piece(completion_id=payload.get("id") if isinstance(payload.get("id"), str) else None)
    if "error" in payload:
        piece.error = _error_text(payload["error"])
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            piece.content = _str(delta.get("content"))
            # One field or the other, never both: some gateways send the same text in each.
            piece.reasoning = _str(delta.get("reasoning_content")) or _str(delta.get("reasoning"))
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            piece.finish = finish
            if finish == "error" and piece.error is None:
                piece.error = "the server ended the reply with an error"
    usage = payload.get("usage")
    if isinstance(usage, dict):
        piece.usage = _openai_usage(usage)
    timings = payload.get("timings")
    if isinstance(timings, dict):
        piece.timings = {k: v for k, v in timings.items() if _num(v) is not None}
    progress = payload.get("prompt_progress")
    if isinstance(progress, dict):
        total, cache, done = (_int(progress.get(k)) for k in ("total", "cache", "processed"))
        if total is not None and done is not None:
            cache = min(cache or 0, total)
            piece.progress = (max(0, min(done, total) - cache), total - cache)
    return piece


def whole_reply(data: dict) -> dict:
    """A non-streamed chat completion (a server that ignored "stream") in a chunk's shape."""
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        data = {**data, "choices": [{"index": 0, "delta": message, "finish_reason": choice.get("finish_reason")}]}
    return data


def _openai_usage(usage: dict) -> dict:
    out = {"prompt_tokens": _int(usage.get("prompt_tokens")), "completion_tokens": _int(usage.get("completion_tokens"))}
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict):
        out["reasoning_tokens"] = _int(details.get("reasoning_tokens"))
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        out["cached_tokens"] = _int(details.get("cached_tokens"))
    return {k: v for k, v in out.items() if v is not None}


# -- Ollama's native API ---------------------------------------------------------------------


def ollama_body(model: str, messages: Sequence[Message], params: GenParams, max_tokens: int, num_ctx: int | None,
                think: bool) -> dict:
    """The request for Ollama's streamed /api/chat."""
    options: dict = {"temperature": params.temperature, "top_p": params.top_p, "top_k": params.top_k,
                     "min_p": params.min_p, "num_predict": max_tokens}
    if params.seed is not None:
        options["seed"] = params.seed
    if num_ctx:
        # Ollama runs a model with a small context unless asked (2-4k tokens by version);
        # the size Ponder counts against is the size it asks for.
        options["num_ctx"] = num_ctx
    body: dict = {"model": model, "messages": messages_json(messages), "stream": True, "options": options}
    if think:
        # Only for models that can (others answer 400); false skips the thinking.
        body["think"] = not params.answer_directly
    return body


def ollama_piece(payload: dict) -> Piece:
    """One NDJSON line of /api/chat as a Piece; durations (ns) become llama.cpp-style timings."""
    piece = Piece()
    if "error" in payload:
        piece.error = _error_text(payload["error"])
    message = payload.get("message")
    if isinstance(message, dict):
        piece.content = _str(message.get("content"))
        piece.reasoning = _str(message.get("thinking"))
    if payload.get("done") is True:
        piece.done = True
        piece.finish = _str(payload.get("done_reason")) or "stop"
        usage = {"prompt_tokens": _int(payload.get("prompt_eval_count")),
                 "completion_tokens": _int(payload.get("eval_count"))}
        piece.usage = {k: v for k, v in usage.items() if v is not None} or None
        timings = {}
        n, ns = _int(payload.get("eval_count")), _num(payload.get("eval_duration"))
        if n is not None and ns:
            timings.update(predicted_n=n, predicted_ms=ns / 1e6, predicted_per_second=n / (ns / 1e9))
        n, ns = _int(payload.get("prompt_eval_count")), _num(payload.get("prompt_eval_duration"))
        if n is not None and ns is not None:
            timings.update(prompt_n=n, prompt_ms=ns / 1e6)
        piece.timings = timings or None
    return piece


def finish_reason(server: str | None) -> str:
    """A server's finish reason in the app's words (stop, length, error)."""
    if server == "length":
        return "length"
    if server == "error":
        return "error"
    return "stop"
