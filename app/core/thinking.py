"""How long a reply may think, and when its thinking is closed for it.

The person picks a budget (Quick, Normal, Long, No limit, or an exact number) for a
thread or for one message, or asks for an answer without thinking. While a reply
thinks, `ThinkingControl` says when its thinking must close: "Answer now" was pressed,
the budget is spent, or the model was caught repeating itself a second time with the
auto-answer setting on. Every engine closes the thinking the same way once told.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from app.core.loop_detector import LoopDetector
from app.core.reasoning import ReasoningParser
from app.core.types import GenParams, RepeatEvent, TextEvent

# Named budgets, in thinking tokens (None: no limit). Phi-4-reasoning's card allows 32k
# tokens for a hard question; a quarter of a minute to a few minutes on a laptop GPU.
LEVELS: dict[str, int | None] = {"quick": 1000, "normal": 4000, "long": 16000, "none": None}
LABELS = {"quick": "Quick", "normal": "Normal", "long": "Long", "none": "No limit"}
MAX_BUDGET = 1 << 20

# What the assistant's turn starts with for "Answer directly": an empty, closed thinking
# block (after the template's own <think>, when it writes one).
DIRECT_OPEN = "<think>\n</think>\n\n"
DIRECT_CLOSE = "\n</think>\n\n"


def parse_budget(value: str) -> int | None:
    """A budget as typed: quick, normal, long, none, or a number of tokens (1 or more).
    Raises ValueError with a sentence for people."""
    text = value.strip().lower().replace(",", "").replace("_", "")
    if text in LEVELS:
        return LEVELS[text]
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a thinking budget: use quick, normal, long, none, "
                         f"or a number of tokens.") from None
    if not 1 <= number <= MAX_BUDGET:
        raise ValueError(f"A thinking budget is a number of tokens from 1 to {MAX_BUDGET:,} "
                         f"(or none for no limit).")
    return number


def level_of(budget: int | None) -> str | None:
    """The named level a budget is, or None for another number."""
    for name, tokens in LEVELS.items():
        if tokens == budget:
            return name
    return None


def budget_text(budget: int | None) -> str:
    """"Normal (4,000 tokens)", "No limit", "2,500 tokens"."""
    name = level_of(budget)
    if name == "none":
        return LABELS[name]
    if name is not None:
        return f"{LABELS[name]} ({budget:,} tokens)"
    return f"{budget:,} tokens"


def direct_prefix(prompt_opens_thinking: bool) -> str:
    """What follows the prompt so the reply starts with its thinking closed."""
    return DIRECT_CLOSE if prompt_opens_thinking else DIRECT_OPEN


# Why the engine closed the thinking, as the reply's trace says it.
END_TEXT = {
    "budget": "budget reached at {budget} tokens",
    "answer_now": "stopped by Answer now",
    "loop": "stopped: the model was repeating itself",
    "skipped": "answered directly, without thinking",
    "length": "cut off: the reply reached its length limit",
}


def end_text(end: str | None, budget: int | None) -> str | None:
    """A trace's note on how its thinking ended (None: closed by the model, or no note)."""
    text = END_TEXT.get(end or "")
    if text is None:
        return None
    return text.format(budget=f"{budget:,}" if budget is not None else "the")


class ThinkingControl:
    """One reply's thinking: when to close it, and the loop watch.

    Engines call `due` before each token while the reply thinks, `watch` with the events
    each token gave, `closing` when they close the thinking, and `end` at the end."""

    def __init__(self, params: GenParams, answer_now: threading.Event | None = None) -> None:
        self.direct = params.answer_directly
        self.budget = None if self.direct else params.think_budget
        self.bridge = params.budget_bridge
        self._answer_now = answer_now
        self._detector = LoopDetector() if params.loop_watch and not self.direct else None
        self._auto = params.loop_auto_answer
        self._loop_close = False
        self.closed_by: str | None = "skipped" if self.direct else None

    def due(self, thinking_tokens: int) -> str | None:
        """Why the thinking must close before the next token (None: it goes on)."""
        if self.closed_by is not None:
            return None
        if self._answer_now is not None and self._answer_now.is_set():
            return "answer_now"
        if self._loop_close:
            return "loop"
        if self.budget is not None and thinking_tokens >= self.budget:
            return "budget"
        return None

    def watch(self, events: Iterable[TextEvent]) -> RepeatEvent | None:
        """Feed a token's thinking text to the loop watch; a RepeatEvent when it fires."""
        detector = self._detector
        if detector is None or self.closed_by is not None:
            return None
        fired = False
        for ev in events:
            if ev.kind == "reasoning" and detector.feed(ev.text):
                fired = True
        if not fired:
            return None
        answering = self._auto and detector.detections >= 2
        self._loop_close = self._loop_close or answering
        return RepeatEvent(detector.detections, answering)

    def closing(self, why: str) -> str:
        """Record that the thinking is being closed for `why`; the text the model reads
        before the closing tag (the bridge, for the budget)."""
        self.closed_by = why
        return f"\n\n{self.bridge}" if why == "budget" and self.bridge else ""

    def end(self, parser: ReasoningParser, finish: str) -> str | None:
        """How the thinking ended (see types.ThinkingEnd)."""
        if self.closed_by is not None:
            return self.closed_by
        if parser.reasoning_unfinished:
            return finish if finish in ("length", "cancelled", "error") else "model"
        return "model" if parser.reasoning_closed else None
