"""An engine that replays a scripted reply: for UI tests, demos and UI benchmarks.

It speaks the same Engine protocol as LlamaEngine (the same events, the same cancel
and answer-now behaviour), so the GUI cannot tell them apart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence

from app.core.context_rules import reply_reserve
from app.core.errors import ContextOverflow
from app.core.reasoning import ReasoningParser
from app.core.thinking import ThinkingControl
from app.core.types import Event, GenParams, Message, RateEvent, Stats, StatsEvent

DEFAULT_SCRIPT = "<think>Let me think. Two plus two is four.</think>The answer is **4**."
# A pre-tokenizer's rule (words, numbers, each other symbol on its own): counts grow with
# text the way a real tokenizer's do, punctuation included, so tests measure as use does.
_TOKEN = re.compile(r"[^\W\d_]+|\d{1,3}|[^\w\s]|_", re.UNICODE)
MESSAGE_OVERHEAD = 4  # role markers around each message, as chat templates add


class ScriptedEngine:
    """Streams `script` in `chunk`-character pieces, one every `delay` seconds.

    `gate`, when given, is waited on before each piece: tests use it to hold the
    stream at a known point without sleeping.
    """

    def __init__(self, script: str = DEFAULT_SCRIPT, chunk: int = 4, delay: float = 0.0,
                 context_size: int = 4096, gate: threading.Semaphore | None = None) -> None:
        self.script = script
        self.chunk = chunk
        self.delay = delay
        self.context_size = context_size
        self.gate = gate
        self.requests: list[list[Message]] = []
        self.params: list[GenParams] = []
        self.closed = False
        self.name = "scripted"
        self.template_problem: str | None = None

    def count_tokens(self, text: str) -> int:
        return sum(1 for _ in _TOKEN.finditer(text))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m.content) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD

    def stream(self, messages: Sequence[Message], params: GenParams = GenParams(),
               cancel: threading.Event | None = None,
               answer_now: threading.Event | None = None) -> Iterator[Event]:
        prompt = self.count_prompt_tokens(messages)
        reserved = reply_reserve(params, self.context_size)
        if prompt + reserved > self.context_size:
            raise ContextOverflow(prompt, self.context_size, reserved)
        self.requests.append(list(messages))
        self.params.append(params)
        return self._run(prompt, params, cancel or threading.Event(), answer_now)

    def _run(self, prompt: int, params: GenParams, cancel: threading.Event,
             answer_now: threading.Event | None) -> Iterator[Event]:
        parser = ReasoningParser()
        control = ThinkingControl(params, answer_now)
        pos = 0
        if params.answer_directly:  # the script's own thinking is skipped, as a closed block
            parser.feed("<think>\n</think>\n\n")
            close = self.script.find("</think>")
            pos = close + len("</think>") if close >= 0 else 0
        start = time.perf_counter()
        think_end = None
        finish, sent, think_sent = "stop", 0, 0
        while pos < len(self.script):
            # Held at the gate, yet still answering cancel (as the real engine does).
            while self.gate is not None and not self.gate.acquire(timeout=0.05):
                if cancel.is_set():
                    break
            if cancel.is_set():
                finish = "cancelled"
                break
            if sent >= params.max_tokens:
                finish = "length"
                break
            why = control.due(sent) if parser.in_reasoning else None
            if why is not None:
                # Like the real engine: close the thinking here and go on with the answer.
                control.closing(why)
                close = self.script.find("</think>", pos)
                yield from parser.feed("\n</think>\n\n")
                think_end, think_sent = time.perf_counter(), sent
                pos = close + len("</think>") if close >= 0 else len(self.script)
                continue
            if self.delay:
                time.sleep(self.delay)
            piece = self.script[pos : pos + self.chunk]
            pos += len(piece)
            sent += 1
            if sent % 8 == 0:  # as the real engine reports its speed while streaming
                yield RateEvent(sent, time.perf_counter() - start, think_budget=control.budget)
            events = parser.feed(piece)
            yield from events
            repeating = control.watch(events)
            if repeating is not None:
                yield repeating
            if think_end is None and parser.reasoning_closed:
                think_end, think_sent = time.perf_counter(), sent
        yield from parser.finish()
        total = time.perf_counter() - start
        think = (think_end - start) if think_end else (total if parser.reasoning else 0.0)
        yield StatsEvent(Stats(prompt_tokens=prompt, evaluated_prompt_tokens=prompt, generated_tokens=sent, reasoning_tokens=think_sent,
                               think_seconds=round(think, 3), answer_seconds=round(total - think, 3),
                               prompt_seconds=0.0, tokens_per_second=round(sent / total, 2) if total else 0.0,
                               finish_reason=finish, reasoning_unfinished=parser.reasoning_unfinished,
                               context_size=self.context_size, template="scripted",
                               thinking_end=control.end(parser, finish), think_budget=control.budget))

    def close(self) -> None:
        self.closed = True
