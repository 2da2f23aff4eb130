"""A model on a server (llama.cpp's llama-server, vLLM, Ollama, OpenRouter, or any
OpenAI-compatible one), behind the same Engine contract as the local LlamaEngine.

Opening one probes the server (kind, model, context size, token counting, answer-now);
`stream` sends the conversation and turns the streamed reply into the same typed events
the local engine gives. Reasoning from a separate field is put back into `<think>` tags
for the one ReasoningParser, so a view cannot tell a server's reply from a local one
(and a model that writes a closing tag inside its own thinking ends it here exactly as
it would locally).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import httpx2

from app.core.context_rules import DEFAULT_CONTEXT, reply_reserve
from app.core.errors import AppError, ContextOverflow
from app.core.reasoning import ReasoningParser
from app.core.thinking import ThinkingControl
from app.core.remote import protocols
from app.core.remote.counting import TokenCounter
from app.core.remote.detect import ServerInfo, detect, kind_from_host, list_models, model_facts, normalize
from app.core.remote.errors import (
    ModelNotFound,
    RemoteError,
    RequestRefused,
    ServerFailed,
    StreamCut,
    StreamMalformed,
    clean,
    translate,
)
from app.core.remote.http import CONNECT_SECONDS, IDLE_SECONDS, SMALL_BODY_BYTES, Http, read_bounded, resolve_key
from app.core.remote.wire import DONE, ndjson_payloads, sse_payloads
from app.core.types import (
    ErrorEvent,
    Event,
    GenParams,
    Message,
    NoticeEvent,
    ProgressEvent,
    RateEvent,
    Stats,
    StatsEvent,
    TextEvent,
)

log = logging.getLogger(__name__)

RATE_EVERY_SECONDS = 0.5
CONTROL_PATH = "/v1/chat/completions/control"
_PROBE_ID = "ponder-probe"  # a completion id no server has: the control call is a no-op


class RemoteEngine:
    """One model on one server. Owned by one thread at a time; only `cancel` and
    `answer_now` events cross threads. Raises RemoteError (an AppError) when the
    server cannot be used."""

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 api_key_env: str | None = None, kind: str | None = None,
                 connect_seconds: float = CONNECT_SECONDS, idle_seconds: float = IDLE_SECONDS) -> None:
        root = normalize(base_url)
        self._http = Http(root, resolve_key(api_key, api_key_env, kind or kind_from_host(root)),
                          connect_seconds, idle_seconds)
        self._closed = False
        try:
            self.info: ServerInfo = detect(self._http, kind)
            self.model = model or self._first_model()
            facts = model_facts(self._http, self.info, self.model)
            self.context_known = facts.context_size is not None
            self.context_size = facts.context_size or DEFAULT_CONTEXT
            self._think = facts.thinking
            self._counter = TokenCounter(self._http, self.info.kind, self.model)
            self.supports_answer_now = self.info.kind == "llama.cpp" and self._control_offered()
        except BaseException:
            self._http.close()
            raise
        self.name = display_name(self.model)
        self.template_problem: str | None = None  # the server applies its own template
        self.last_server_timings: dict | None = None  # the last reply's timings, as the server gave them
        self.last_error: RemoteError | None = None  # why the last reply ended in an ErrorEvent
        log.info("remote engine: %s at %s, model %s, context %d%s, counts %s, answer-now %s",
                 self.info.label, self._http.where, self.model, self.context_size,
                 "" if self.context_known else " (assumed)", "estimated" if self.counts_estimated else "exact",
                 "on" if self.supports_answer_now else "off")

    # -- what the server offers --------------------------------------------------------

    @property
    def counts_estimated(self) -> bool:
        """True when token counts are estimates (the server has no tokenizer endpoint)."""
        return not self._counter.exact

    @property
    def where(self) -> str:
        return self._http.where

    def list_models(self) -> list[str]:
        return list_models(self._http, self.info)

    def _first_model(self) -> str:
        names = list_models(self._http, self.info)
        if not names:
            hint = " Pull one first (ollama pull NAME)." if self.info.kind == "ollama" else ""
            raise ModelNotFound(f"{self._http.where} offers no model.{hint}")
        return names[0]

    def _control_offered(self) -> bool:
        """llama.cpp's server answers the control endpoint (a no-op for an unknown id) only
        in builds that have it; older builds answer 404."""
        try:
            data = self._http.post_json(CONTROL_PATH, {"id": _PROBE_ID, "action": "reasoning_end", "model": self.model},
                                        timeout=10.0)
        except RemoteError:
            return False
        return isinstance(data.get("success"), bool)

    def thinking_note(self, params: GenParams) -> str | None:
        """A sentence when this server cannot keep `params`' thinking budget or skip the
        thinking as asked (also sent as the reply's first event); None when it can."""
        return protocols.thinking_limits(self.info.kind, self.info.label, params, self._think)

    def describe(self) -> dict:
        """What `engines test` prints: the server, its model and what works."""
        return {
            "url": self._http.root, "kind": self.info.kind, "server": self.info.label, "version": self.info.version,
            "latency_ms": round(self.info.latency_s * 1000, 1) if self.info.latency_s is not None else None,
            "model": self.model, "context_size": self.context_size, "context_known": self.context_known,
            "counts_estimated": self.counts_estimated, "supports_answer_now": self.supports_answer_now,
        }

    # -- tokens ------------------------------------------------------------------------

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return self._counter.count_messages(messages)

    def count_tokens(self, text: str) -> int:
        return self._counter.count_text(text)

    # -- generation --------------------------------------------------------------------

    def stream(self, messages: Sequence[Message], params: GenParams = GenParams(),
               cancel: threading.Event | None = None,
               answer_now: threading.Event | None = None) -> Iterator[Event]:
        """Send `messages` and stream the reply as reasoning/answer events, then stats.

        Raises ContextOverflow before sending when the server's context is known and the
        prompt plus the reply's reserve do not fit. Setting `cancel` (any thread) closes
        the connection at once; setting `answer_now` asks a llama.cpp server to end the
        thinking (see supports_answer_now; elsewhere it is ignored). Failures during the
        reply end the stream with an ErrorEvent and finish_reason "error", the text so
        far having been yielded.
        """
        if self._closed:
            raise AppError("The connection to the server has been closed.")
        if params.grammar and self.info.kind != "llama.cpp":
            raise RequestRefused(f"{self.info.label} at {self._http.where} cannot be made to follow a grammar; "
                                 f"only llama.cpp's server can.")
        prompt = self.count_prompt_tokens(messages)
        max_tokens = params.max_tokens
        if self.context_known:
            reserved = reply_reserve(params, self.context_size)
            if prompt + reserved > self.context_size:
                raise ContextOverflow(prompt, self.context_size, reserved)
            max_tokens = max(1, min(max_tokens, self.context_size - prompt))
        if self.info.kind == "ollama":
            path = "/api/chat"
            body = protocols.ollama_body(self.model, messages, params, max_tokens, self.context_size, self._think)
        else:
            path = "/v1/chat/completions"
            body = protocols.openai_body(self.info.kind, self.model, messages, params, max_tokens,
                                         self.supports_answer_now)
        log.info("prompt: %d tokens%s to %s", prompt, " (estimated)" if self.counts_estimated else "",
                 self._http.where)
        return self._run(path, body, prompt, cancel or threading.Event(), answer_now, params)

    def _run(self, path: str, body: dict, prompt: int, cancel: threading.Event,
             answer_now: threading.Event | None, params: GenParams = GenParams()) -> Iterator[Event]:
        ollama = self.info.kind == "ollama"
        read = protocols.ollama_piece if ollama else protocols.openai_piece
        where, perf = self._http.where, time.perf_counter
        parser = ReasoningParser()
        sides = _Sides(parser)
        control = ThinkingControl(params, answer_now)
        note = self.thinking_note(params)
        if note:
            yield NoticeEvent(note)
        t_start = perf()
        t_first = t_think_end = None
        deltas = think_deltas = 0
        finish, error = "stop", None
        usage: dict = {}
        timings: dict | None = None
        completion_id = None
        ended = asked = False
        t_rate = 0.0
        self.last_server_timings = self.last_error = None
        try:
            with self._http.stream(path, body, cancel) as resp:
                chunks = resp.iter_raw()
                if ollama:
                    payloads = ndjson_payloads(chunks, where)
                elif resp.headers.get("content-type", "").startswith("application/json"):
                    payloads = _whole(read_bounded(resp, SMALL_BODY_BYTES), where)  # "stream" was ignored
                else:
                    payloads = sse_payloads(chunks, where)
                for payload in payloads:
                    if cancel.is_set():
                        finish = "cancelled"
                        break
                    if payload is DONE:
                        ended = True
                        break
                    piece = read(payload)
                    completion_id = completion_id or piece.completion_id
                    if piece.progress is not None and t_first is None:
                        yield ProgressEvent(*piece.progress)
                    if piece.error is not None:
                        raise ServerFailed(f"{where} reported an error during the reply: "
                                           f"{clean(piece.error, self._http.secret)}")
                    if piece.reasoning or piece.content:
                        if t_first is None:
                            t_first = t_rate = perf()
                        was_closed = parser.reasoning_closed
                        events = sides.reasoning(piece.reasoning) if piece.reasoning else []
                        if piece.content:
                            events += sides.answer(piece.content)
                        yield from events
                        repeating = control.watch(events)
                        if repeating is not None:
                            yield repeating
                        deltas += 1
                        if not was_closed and parser.reasoning_closed:
                            t_think_end = perf()
                            think_deltas = deltas - 1 if sides.from_field and not piece.reasoning else deltas
                    usage.update(piece.usage or {})
                    timings = piece.timings or timings
                    if piece.finish is not None:
                        finish, ended = protocols.finish_reason(piece.finish), True
                    if piece.done:
                        break
                    # The budget is the server's to keep (thinking_fields); answer-now and the
                    # loop watch's auto-answer go through its control endpoint.
                    why = control.due(0) if not asked and parser.in_reasoning else None
                    if why is not None and self.supports_answer_now and completion_id:
                        asked = True
                        control.closing(why)
                        self._end_reasoning(completion_id)
                    if t_first is not None and perf() - t_rate >= RATE_EVERY_SECONDS:
                        t_rate = perf()
                        yield RateEvent(deltas, t_rate - t_first)
                else:
                    if not ended and not cancel.is_set():
                        raise StreamCut(f"{where} ended the reply without finishing it; the text so far is kept. "
                                        f"Try again.")
            if cancel.is_set() and not ended:
                finish = "cancelled"
        except RemoteError as exc:
            finish, error = ("cancelled", None) if cancel.is_set() else ("error", exc)
        except (httpx2.HTTPError, OSError) as exc:
            if cancel.is_set():
                finish = "cancelled"
            else:
                finish, error = "error", translate(exc, where, self._http.idle_seconds, mid_reply=t_first is not None)
        if error is not None:
            self.last_error = error
            log.warning("reply from %s failed: %s", where, error.user_message)
        yield from sides.finish()
        if error is not None:
            yield ErrorEvent(error.user_message, type(error).__name__)
        self.last_server_timings = timings
        stats = self._stats(prompt, usage, timings or {}, deltas, think_deltas, t_start, t_first, t_think_end,
                            finish, parser)
        yield StatsEvent(replace(stats, thinking_end=control.end(parser, finish), think_budget=control.budget))

    def _end_reasoning(self, completion_id: str) -> None:
        """Ask llama.cpp's server to close the thinking of reply `completion_id`."""
        try:
            data = self._http.post_json(CONTROL_PATH, {"id": completion_id, "action": "reasoning_end",
                                                       "model": self.model}, timeout=10.0)
        except RemoteError as exc:
            log.warning("answer-now failed on %s: %s", self._http.where, exc.user_message)
            return
        if data.get("success") is not True:
            log.warning("answer-now refused by %s: %s", self._http.where,
                        clean(str(data.get("message", "")), self._http.secret))

    def _stats(self, prompt: int, usage: dict, timings: dict, deltas: int, think_deltas: int, t_start: float,
               t_first: float | None, t_think_end: float | None, finish: str, parser: ReasoningParser) -> Stats:
        t_end = time.perf_counter()
        t_first = t_first or t_end
        gen_seconds = t_end - t_first
        estimated = False
        prompt_tokens = usage.get("prompt_tokens")
        if prompt_tokens is None and "prompt_n" in timings:
            prompt_tokens = int(timings["prompt_n"] + timings.get("cache_n", 0))
        if prompt_tokens is None:
            prompt_tokens, estimated = prompt, self.counts_estimated
        cached = usage.get("cached_tokens", int(timings.get("cache_n", 0)))
        evaluated = int(timings["prompt_n"]) if "prompt_n" in timings else max(0, prompt_tokens - cached)
        generated = usage.get("completion_tokens")
        if generated is None and "predicted_n" in timings:
            generated = int(timings["predicted_n"])
        if generated is None:  # servers send about one token per event
            generated, estimated = deltas, True
        if t_think_end is None:
            thought = bool(parser.reasoning or parser.reasoning_unfinished)
            think, think_deltas = (gen_seconds, deltas) if thought else (0.0, 0)
        else:
            think = t_think_end - t_first
        reasoning_tokens = usage.get("reasoning_tokens")
        if reasoning_tokens is None:
            reasoning_tokens = round(generated * think_deltas / deltas) if deltas else 0
        speed = timings.get("predicted_per_second")
        if speed is None:
            speed = generated / gen_seconds if gen_seconds > 0 else 0.0
        prompt_seconds = timings["prompt_ms"] / 1000 if "prompt_ms" in timings else t_first - t_start
        return Stats(
            prompt_tokens=prompt_tokens, evaluated_prompt_tokens=evaluated, generated_tokens=generated,
            reasoning_tokens=min(reasoning_tokens, generated), think_seconds=round(think, 3),
            answer_seconds=round(gen_seconds - think, 3), prompt_seconds=round(prompt_seconds, 3),
            tokens_per_second=round(float(speed), 2), finish_reason=finish,  # type: ignore[arg-type]
            reasoning_unfinished=parser.reasoning_unfinished, context_size=self.context_size, template="server",
            counts_estimated=estimated,
        )

    def close(self) -> None:
        self._closed = True
        self._http.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def display_name(model: str) -> str:
    """The model as the window names it: llama-server calls a model by the path it was
    started with (-m /srv/models/x.gguf) unless given an --alias; the file name is enough."""
    tail = model.replace("\\", "/").rsplit("/", 1)[-1]
    return tail if tail and tail.lower().endswith(".gguf") else model


def _whole(raw: bytes, where: str) -> Iterator[dict | str]:
    """The payload of a reply that came whole (the server ignored "stream"), as if streamed."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise StreamMalformed(f"{where} answered with JSON Ponder cannot read (or more than "
                              f"{SMALL_BODY_BYTES >> 20} MB of it).")
    yield protocols.whole_reply(data)
    yield DONE


class _Sides:
    """Reasoning from a field and answer text from the content, fed to one ReasoningParser
    as a local model's text arrives: thinking inside <think>...</think>, then the answer.
    Content with no reasoning field goes in as it is (its own <think> tags, if any)."""

    def __init__(self, parser: ReasoningParser) -> None:
        self.parser = parser
        self.from_field = False  # reasoning came in a field
        self._open = False  # a <think> put here is still open
        self._answered = False  # answer text has come

    def reasoning(self, text: str) -> list[TextEvent]:
        if self._open or self.parser.in_reasoning:  # ours, or the content's own <think>, is open
            self.from_field = True
            return self.parser.feed(text)
        if not self._answered:
            self.from_field = self._open = True
            return self.parser.feed("<think>" + text)
        # Thinking after the answer began (a server that interleaves): kept, as thinking.
        return [TextEvent("reasoning", text)]

    def answer(self, text: str) -> list[TextEvent]:
        self._answered = self._answered or bool(text.strip())
        if self._open:
            self._open = False
            return self.parser.feed("</think>" + text)
        return self.parser.feed(text)

    def finish(self) -> list[TextEvent]:
        return self.parser.finish()
