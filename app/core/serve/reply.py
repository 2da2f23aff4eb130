"""Engine events into OpenAI's reply fields: thinking into `reasoning_content` (or inline
in `<think>` tags for reasoning_format "none"), stop strings cut from the answer, and the
JSON of a whole completion, a stream chunk and the usage block."""

from __future__ import annotations

import time
import uuid

from app.core.types import Event, Stats

OPEN, CLOSE = "<think>", "</think>"
_FINISH = {"stop": "stop", "length": "length", "cancelled": "stop", "error": "stop"}


class StopMatcher:
    """Finds the first of `stops` in text that arrives in pieces.

    `feed` returns the text that is certainly before any stop string; it holds back a
    tail that could still begin one (at most the longest stop string less one
    character), so a stop string split across pieces is still caught."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.matched = False
        self._held = ""

    def feed(self, text: str) -> str:
        if self.matched:
            return ""
        if not self.stops:
            return text
        buf = self._held + text
        hits = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.matched, self._held = True, ""
            return buf[: min(hits)]
        keep = 0
        for stop in self.stops:
            tail = buf[len(buf) - min(len(stop) - 1, len(buf)):]
            j = tail.find(stop[0])
            while j >= 0:  # the first place the tail could begin this stop string is the longest
                if stop.startswith(tail[j:]):
                    keep = max(keep, len(tail) - j)
                    break
                j = tail.find(stop[0], j + 1)
        self._held = buf[len(buf) - keep:] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        """The held tail, once the reply has ended without a stop string."""
        held, self._held = self._held, ""
        return held


class ReplyShaper:
    """One reply's events in, (field, text) deltas out, where field is "reasoning_content"
    or "content"; the whole reply is kept too, for a reply that is not streamed.

    A closing think tag with no opening one makes the parser move the answer so far into
    the thinking: the whole reply moves it, but a stream has already sent it as content,
    and leaves it there (with reasoning_format "none", where it was the raw text anyway)."""

    def __init__(self, stops: tuple[str, ...] = (), raw: bool = False) -> None:
        self.raw = raw
        self.stop = StopMatcher(stops)
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.stats: Stats | None = None
        self.error: str | None = None
        self._thinking = False  # raw: an opening tag went out and its closing one not yet

    @property
    def stopped(self) -> bool:
        """A stop string was found: the engine should be cancelled."""
        return self.stop.matched

    def feed(self, ev: Event) -> list[tuple[str, str]]:
        if ev.kind == "reasoning":
            if ev.moves_answer:
                if not self.raw:
                    self.reasoning.append("".join(self.content))
                    self.content.clear()
                self.stop = StopMatcher(self.stop.stops)  # that text was never the answer
                self._thinking = self.raw
                return []
            if self.stop.matched:
                return []
            if self.raw:
                text = ev.text if self._thinking else OPEN + ev.text
                self._thinking = True
                return self._out("content", text)
            return self._out("reasoning_content", ev.text)
        if ev.kind == "answer":
            text = self.stop.feed(ev.text)
            if self.raw and self._thinking and (text or self.stop.matched):
                self._thinking = False
                text = CLOSE + text
            return self._out("content", text)
        if ev.kind == "stats":
            self.stats = ev.stats
        elif ev.kind == "error":
            self.error = ev.message
        return []

    def finish(self) -> list[tuple[str, str]]:
        """Text still held back for a possible stop string, once the reply has ended."""
        return self._out("content", self.stop.flush())

    def _out(self, field: str, text: str) -> list[tuple[str, str]]:
        if not text:
            return []
        (self.content if field == "content" else self.reasoning).append(text)
        return [(field, text)]

    def finish_reason(self) -> str:
        if self.stop.matched:
            return "stop"
        return _FINISH.get(self.stats.finish_reason, "stop") if self.stats else "stop"


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(stats: Stats | None) -> dict:
    """OpenAI's usage block from the engine's counts (zeros when there are none)."""
    prompt = stats.prompt_tokens if stats else 0
    generated = stats.generated_tokens if stats else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
        "prompt_tokens_details": {"cached_tokens": prompt - stats.evaluated_prompt_tokens if stats else 0},
        "completion_tokens_details": {"reasoning_tokens": stats.reasoning_tokens if stats else 0},
    }


def completion(cid: str, model: str, shaper: ReplyShaper, created: int | None = None) -> dict:
    message = {"role": "assistant", "content": "".join(shaper.content)}
    reasoning = "".join(shaper.reasoning)
    if reasoning and not shaper.raw:  # left out for a reply without thinking, as llama-server does
        message["reasoning_content"] = reasoning
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": shaper.finish_reason()}],
        "usage": usage(shaper.stats),
    }


def chunk(cid: str, model: str, created: int, delta: dict, finish_reason: str | None = None,
          with_usage: bool = False) -> dict:
    """One streamed chunk; `with_usage` adds "usage": null, as OpenAI does on every chunk
    before the last when the client asked for usage."""
    data = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage:
        data["usage"] = None
    return data


def usage_chunk(cid: str, model: str, created: int, stats: Stats | None) -> dict:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
            "usage": usage(stats)}
