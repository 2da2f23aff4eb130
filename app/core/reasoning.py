"""Split a streamed model reply into reasoning and answer text.

Phi-4-reasoning writes `<think>...</think>` and then the answer, sometimes wrapped in
`<solution>...</solution>`. The chat template may already end the prompt with `<think>`,
and a model may leave out the opening tag, so a bare closing tag is understood too.

The parser is incremental: chunks may split anywhere, tags included. It holds back only
a suffix that could still start a tag that matters in the current state, so text that
cannot be a tag (a model that never thinks, say) streams out at once.
"""

from __future__ import annotations

import re
from itertools import groupby

from app.core.types import TextEvent

OPEN = "<think>"
CLOSES = ("</think>", "<\\think>")  # the model card writes the backslash form once
SOL_OPEN, SOL_CLOSE = "<solution>", "</solution>"

# States.
START = "start"  # only whitespace so far: the first tag (or its absence) decides
REASONING = "reasoning"
ANSWER_START = "answer_start"  # after a closing tag, before the answer's first non-space
UNDECIDED = "undecided"  # answer with no tag seen: a later </think> makes it reasoning
ANSWER = "answer"

_LEAD_TAGS = {START: (OPEN, *CLOSES, SOL_OPEN), ANSWER_START: (SOL_OPEN,)}
_PATTERNS = {  # the tags searched in each body state (see _tags)
    t: re.compile("|".join(map(re.escape, t))) for t in (CLOSES, (*CLOSES, SOL_CLOSE), (SOL_CLOSE,))
}
_CODE_TOKEN = re.compile(r"`+|\n|[^`\n]+")
_NONSPACE = re.compile(r"\S")


class _CodeTracker:
    """Running Markdown state, so a quoted `</think>` is not taken for a real one.

    Counts instead of rescanning: a run of 3+ backticks toggles a fence; a shorter run
    opens an inline span that a run of the same length (or the line's end) closes.
    """

    def __init__(self) -> None:
        self.fence = False
        self.inline = 0  # length of the backtick run that opened the inline span
        self.run = 0  # backticks seen but not yet ended (a chunk may split the run)

    def feed(self, text: str) -> None:
        for token in _CODE_TOKEN.findall(text):
            if token[0] == "`":
                self.run += len(token)
                continue
            self._end_run()
            if token == "\n":
                self.inline = 0

    def _end_run(self) -> None:
        n, self.run = self.run, 0
        if not n:
            return
        if self.fence:
            self.fence = n < 3
        elif self.inline:
            self.inline = 0 if n == self.inline else self.inline
        elif n >= 3:
            self.fence = True
        else:
            self.inline = n

    def inside(self) -> bool:
        self._end_run()  # called at a tag's '<', which ends any run
        return self.fence or bool(self.inline)


class ReasoningParser:
    def __init__(self, start_in_reasoning: bool = False) -> None:
        self._state = REASONING if start_in_reasoning else START
        self._saw = start_in_reasoning
        self._closed = False
        self._done = False
        self._sol = 0  # 0: no <solution> opened, 1: open (drop next </solution>), 2: closed
        self._pending = ""  # held back: might still be (the start of) a tag
        self._tail: list[str] = []  # '</solution>' + whitespace: dropped if the stream ends
        self._code = _CodeTracker()
        self._reasoning: list[str] = []
        self._answer: list[str] = []
        self._events: list[TextEvent] = []

    # -- public API --------------------------------------------------------------------

    def feed(self, text: str) -> list[TextEvent]:
        self._events = []
        if self._tail:
            if not _NONSPACE.search(text):  # still only whitespace after '</solution>'
                self._tail.append(text)
                return []
            text = "".join(self._tail) + text  # not the end after all: rescan it as text
            self._tail = []
        self._pending += text
        self._run(final=False)
        return self._take()

    def finish(self) -> list[TextEvent]:
        self._events = []
        self._tail = []  # a '</solution>' that ended the stream is a tag, not text
        self._run(final=True)
        self._done = True
        return self._take()

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning).strip()

    @property
    def answer(self) -> str:
        return "".join(self._answer).strip()

    @property
    def reasoning_unfinished(self) -> bool:
        return self._done and self._state == REASONING

    @property
    def saw_reasoning(self) -> bool:
        return self._saw

    @property
    def in_reasoning(self) -> bool:
        return self._state == REASONING

    @property
    def reasoning_closed(self) -> bool:
        return self._closed

    # -- internals ---------------------------------------------------------------------

    def _tags(self) -> tuple[str, ...]:
        if self._state == REASONING:
            return CLOSES
        if self._state == UNDECIDED:
            return (*CLOSES, SOL_CLOSE)
        return (SOL_CLOSE,) if self._sol < 2 else ()

    def _run(self, final: bool) -> None:
        # Walk `s` by position (no re-slicing per tag); whatever is left is held back.
        s, pos = self._pending, 0
        self._pending = ""
        while pos < len(s):
            if self._state in _LEAD_TAGS:  # START / ANSWER_START look only at the first word
                m = _NONSPACE.search(s, pos)
                if m is None:
                    return  # leading whitespace is dropped
                pos, tags = m.start(), _LEAD_TAGS[self._state]
                tag = next((t for t in tags if s.startswith(t, pos)), None)
                if tag:
                    pos += len(tag)
                    self._enter(tag)
                elif final or not any(t.startswith(s[pos:]) for t in tags):
                    self._state = UNDECIDED if self._state == START else ANSWER
                else:
                    self._pending = s[pos:]  # could still become one of the tags
                    return
                continue
            tags = self._tags()
            m = _PATTERNS[tags].search(s, pos) if tags else None
            if m is None:
                end = len(s) - (0 if final else self._partial(s, tags))
                self._text(s[pos:end])
                self._pending = s[end:]
                return
            self._text(s[pos : m.start()])
            pos = m.end()
            if self._tag(m.group(), s, pos, final):
                return

    def _tag(self, tag: str, s: str, pos: int, final: bool) -> bool:
        """Handle a tag found in `s` ending at `pos`; True if the rest of `s` was taken."""
        if tag == SOL_CLOSE:
            if self._sol == 1:
                self._sol = 2  # closes the answer's opening <solution>: drop it
            elif _NONSPACE.search(s, pos):
                self._text(tag)  # more text follows: it is quoted, keep it
            else:  # maybe the answer's end (a tolerated stray tag): hold until we know
                if not final:
                    self._tail = [tag, s[pos:]]
                return True
        elif self._state == UNDECIDED and self._code.inside():
            self._text(tag)  # inside Markdown code: quoted, not a real closing tag
        else:
            if self._state == UNDECIDED and self._answer:
                # Everything shown as answer so far was really thinking.
                moved = "".join(self._answer)
                self._answer = []
                self._reasoning.append(moved)
                self._events.append(TextEvent("reasoning", moved, moves_answer=True))
            self._closed = self._saw = True
            self._state = ANSWER_START
        return False

    def _enter(self, tag: str) -> None:
        """A tag at the start of the reply or of the answer."""
        if tag == OPEN:
            self._state, self._saw = REASONING, True
        elif tag == SOL_OPEN:
            self._state, self._sol = ANSWER, 1
        else:  # a closing tag with nothing before it: an empty thinking block
            self._state, self._saw, self._closed = ANSWER_START, True, True

    @staticmethod
    def _partial(s: str, tags: tuple[str, ...]) -> int:
        """Length of the suffix of `s` that is a proper prefix of a tag (0 if none).

        Tags hold a single '<', at their start, so only the last '<' can begin one.
        """
        i = s.rfind("<", max(0, len(s) - max(map(len, tags), default=1) + 1))
        return len(s) - i if i >= 0 and any(t.startswith(s[i:]) for t in tags) else 0

    def _text(self, text: str) -> None:
        kind, parts = "answer", self._answer
        if self._state == REASONING:
            kind, parts = "reasoning", self._reasoning
        if self._state == UNDECIDED:
            self._code.feed(text)
        if not parts:
            text = text.lstrip()  # no blank first line in views
        if text:
            parts.append(text)
            self._events.append(TextEvent(kind, text))  # type: ignore[arg-type]

    def _take(self) -> list[TextEvent]:
        """This call's events, neighbours of one kind merged (fewer view updates)."""
        merged: list[TextEvent] = []
        for key, group in groupby(self._events, lambda e: (e.kind, e.moves_answer)):
            items = list(group)
            if key[1] or len(items) == 1:
                merged += items
            else:
                merged.append(TextEvent(key[0], "".join(e.text for e in items)))
        return merged
