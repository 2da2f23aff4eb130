"""Catching a thinking trace that goes in circles while it streams.

A reasoning model that loops writes the same sentence or paragraph again and again,
word for word, until it runs out of tokens (half an hour of a laptop for Phi-4-reasoning).
A model that merely revisits an idea ("wait, let me check that again") says it in new
words, with new numbers. So the rule looks for verbatim repetition, and only a lot of it:

    The trace is cut into words and single symbols. A word counts as repeated when the
    NGRAM words ending at it already appeared, in that order, among the last WINDOW
    words. The trace is looping when REPEATED_SHARE of the last RECENT words are repeated.

A paragraph of up to WINDOW words said twice is caught about 0.7 x RECENT words into its
second telling; a sentence said again and again, sooner. After a detection the count
starts afresh, so a second detection needs another RECENT words of repetition. The
numbers were chosen on real looping traces and on long traces that come back to their
ideas (tests/core/test_loop_detector.py): those stay under 0.6. Memory is
bounded (WINDOW hashes) and each word costs a few dictionary operations; the measured
cost per token is in docs/benchmarks.md (bench/loop_detector.py).
"""

from __future__ import annotations

import re
from collections import deque

NGRAM = 12
WINDOW = 1500
RECENT = 250
REPEATED_SHARE = 0.7
MAX_HELD = 64  # a "word" still growing at a chunk's end is held back at most this long

_WORD = re.compile(r"[^\W_]+|[^\w\s]")
_TRAILING_WORD = re.compile(r"[^\W_]+\Z")


class LoopDetector:
    """Fed a trace's text in pieces (`feed`); says when the trace has begun to repeat itself."""

    def __init__(self, ngram: int = NGRAM, window: int = WINDOW, recent: int = RECENT,
                 share: float = REPEATED_SHARE) -> None:
        self.ngram, self.window, self.recent = ngram, window, recent
        self.needed = max(1, round(share * recent))
        self.words = 0  # words seen so far
        self.detections = 0
        self._last: deque[int] = deque(maxlen=ngram)  # hashes of the last `ngram` words
        self._order: deque[int] = deque()  # n-gram hashes of the last `window` words, oldest first
        self._seen: dict[int, int] = {}  # n-gram hash -> how often it is in `_order`
        self._flags: deque[bool] = deque()  # repeated or not, for the last `recent` words
        self._repeated = 0  # True flags in `_flags`
        self._held = ""  # the end of the last piece, if it may be the start of a longer word

    def feed(self, text: str) -> bool:
        """Take the next piece of the trace; True when this piece completes a detection."""
        text = self._held + text
        self._held = ""
        m = _TRAILING_WORD.search(text)
        if m is not None and len(text) - m.start() < MAX_HELD:
            self._held = text[m.start():]
            text = text[:m.start()]
        if not text:
            return False
        found = False
        for word in _WORD.findall(text):
            if self._word(word):
                found = True
        return found

    def _word(self, word: str) -> bool:
        self.words += 1
        last = self._last
        last.append(hash(word.lower()))
        if len(last) < self.ngram:
            return False
        gram = hash(tuple(last))
        seen = self._seen
        repeated = gram in seen
        seen[gram] = seen.get(gram, 0) + 1
        order = self._order
        order.append(gram)
        if len(order) > self.window:
            old = order.popleft()
            left = seen[old] - 1
            if left:
                seen[old] = left
            else:
                del seen[old]
        flags = self._flags
        flags.append(repeated)
        self._repeated += repeated
        if len(flags) > self.recent:
            self._repeated -= flags.popleft()
        if self._repeated >= self.needed:
            self.detections += 1
            flags.clear()
            self._repeated = 0
            return True
        return False
