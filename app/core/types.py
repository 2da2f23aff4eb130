"""Plain data passed between the core and its clients (GUI, CLI, benchmarks)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error"]
# How a reply's thinking ended: closed by the model itself, at the thinking budget, by
# "Answer now", after the model was caught repeating itself, or skipped ("Answer
# directly"); a trace cut off mid-thought takes the finish reason (length, cancelled,
# error). None: the model did not think.
ThinkingEnd = Literal["model", "budget", "answer_now", "loop", "skipped", "length", "cancelled", "error"]
# What the model reads when the budget closes its thinking, before the closing tag: a
# sentence in its own voice reads as a decision to answer, not as an interruption.
BUDGET_BRIDGE = "Time is up; I will answer with what I have."


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenParams:
    """Sampling and length settings for one reply.

    Defaults follow the Phi-4-reasoning model card: temperature 0.8, top_p 0.95,
    top_k 50 (its evaluation code), sampling on, up to 32k new tokens. They are written
    only here: Settings (app/settings.py) takes its defaults from these.
    """

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    min_p: float = 0.0
    max_tokens: int = 32768
    # A smaller reserve than context_rules.reply_reserve's rule (None: the rule alone);
    # benchmarks use it to fill the context.
    reply_reserve: int | None = None
    seed: int | None = None
    grammar: str | None = None  # GBNF, root rule "root"
    ignore_eos: bool = False  # never end on an end-of-generation token (benchmarks)
    # Thinking: at most this many tokens of it (None: no limit), then the thinking is
    # closed as "Answer now" does, after `budget_bridge` ("" for none).
    think_budget: int | None = None
    budget_bridge: str = BUDGET_BRIDGE
    answer_directly: bool = False  # the reply starts with its thinking already closed
    loop_watch: bool = True  # say when the thinking repeats itself (a RepeatEvent)
    loop_auto_answer: bool = False  # ...and close it at the second time
    # Speculative decoding from the conversation's own text (app/core/speculative.py):
    # the same output distribution, used only where it measures faster.
    drafts: bool = True


@dataclass(frozen=True, slots=True)
class TextEvent:
    """A piece of reasoning or answer text, in stream order.

    `moves_answer` is set on the reasoning event emitted when a closing think tag
    arrives with no opening tag: all answer text shown so far was really thinking,
    and a view must move it (the event's `text` holds it) into the reasoning part.
    """

    kind: Literal["reasoning", "answer"]
    text: str
    moves_answer: bool = False

    def to_json(self) -> dict:
        data = {"kind": self.kind, "text": self.text}
        if self.moves_answer:
            data["moves_answer"] = True
        return data


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Prompt processing progress, emitted between batches of a long prompt."""

    done: int
    total: int
    kind: Literal["progress"] = "progress"

    def to_json(self) -> dict:
        return {"kind": self.kind, "done": self.done, "total": self.total}


@dataclass(frozen=True, slots=True)
class RateEvent:
    """Generation speed so far, about twice a second while tokens stream."""

    tokens: int
    seconds: float
    kind: Literal["rate"] = "rate"
    think_budget: int | None = None  # the reply's thinking budget, for "1,234 of 4,000 tokens"
    draft_speedup: float = 1.0  # estimated speed-up from accepted drafts so far

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict:
        data = {"kind": self.kind, "tokens": self.tokens, "seconds": round(self.seconds, 3)}
        if self.think_budget is not None:
            data["think_budget"] = self.think_budget
        if self.draft_speedup != 1.0:
            data["draft_speedup"] = self.draft_speedup
        return data


@dataclass(frozen=True, slots=True)
class RepeatEvent:
    """The thinking seems to be going in circles (app/core/loop_detector.py).

    `count` is how many times this reply has been caught so; `answering` is set when
    the engine closes the thinking because of it (the auto-answer setting)."""

    count: int
    answering: bool = False
    kind: Literal["repeating"] = "repeating"

    def to_json(self) -> dict:
        return {"kind": self.kind, "count": self.count, "answering": self.answering}


@dataclass(frozen=True, slots=True)
class NoticeEvent:
    """Something the person should know about this reply (an engine that cannot keep the
    thinking budget, say), as a sentence."""

    text: str
    kind: Literal["notice"] = "notice"

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text}


@dataclass(frozen=True, slots=True)
class Stats:
    prompt_tokens: int
    evaluated_prompt_tokens: int  # prompt tokens actually run (the rest came from the cache)
    generated_tokens: int
    reasoning_tokens: int  # of generated_tokens, those spent thinking
    think_seconds: float
    answer_seconds: float
    prompt_seconds: float
    tokens_per_second: float
    finish_reason: FinishReason
    reasoning_unfinished: bool = False
    context_size: int = 0
    template: str = ""  # "gguf" or "builtin" ("server" for a remote engine)
    # True when the token counts above were counted or estimated here rather than
    # reported by the model's own tokenizer (a remote server that gives no usage).
    counts_estimated: bool = False
    thinking_end: ThinkingEnd | None = None
    think_budget: int | None = None  # the thinking budget in force (None: no limit)
    # Speculative decoding: drafted tokens the model verified, those it kept, and the
    # estimated speed-up (time without drafts / time with them).
    draft_tokens: int = 0
    draft_accepted: int = 0
    draft_speedup: float = 1.0
    # Prompt tokens whose state was loaded from disk instead of read (a saved state of this
    # conversation), and the seconds loading took; evaluated_prompt_tokens were read after it.
    restored_prompt_tokens: int = 0
    restore_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class StatsEvent:
    stats: Stats
    kind: Literal["stats"] = "stats"

    def to_json(self) -> dict:
        return {"kind": self.kind, **asdict(self.stats)}


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    message: str
    error_type: str = "AppError"
    details: dict = field(default_factory=dict)
    kind: Literal["error"] = "error"

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "type": self.error_type, **self.details}


Event = TextEvent | ProgressEvent | RateEvent | RepeatEvent | NoticeEvent | StatsEvent | ErrorEvent
