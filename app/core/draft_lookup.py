"""Drafts from the conversation's own text: an n-gram index over the prompt and the reply.

A reasoning model's answer restates its thinking, and an answer about a document quotes
the document, so the tokens that follow the last few tokens' earlier occurrence are a
good guess at what comes next. `DraftLookup` keeps, for each n-gram of 2 to 4 tokens,
the most recent place it ended; proposing a draft is a few dict look-ups, and adding a
token a few dict writes, however long the context is. `guess` always gives as many tokens
as asked (a batch of one size every step keeps a GPU's captured graph): past what the
n-grams propose, each next token is what last followed the token before it.

Memory is bounded: past `max_tokens` the oldest half is forgotten (the index is rebuilt
from the newer half, so the cost stays amortised O(1) per token).
"""

from __future__ import annotations

from collections.abc import Iterable

# Longest first: a longer match is the more specific guess.
NGRAM_SIZES = (4, 3, 2)
_BITS = 21  # a token id per 21 bits: vocabularies reach a few hundred thousand tokens
_MASKS = {n: (1 << (_BITS * n)) - 1 for n in NGRAM_SIZES}
DEFAULT_MAX_TOKENS = 1 << 17  # 128k tokens: about 30 MB of index at most


class DraftLookup:
    """An n-gram index over one token sequence (prompt, then the reply as it grows)."""

    def __init__(self, tokens: Iterable[int] = (), max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        if max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        self.max_tokens = max_tokens
        self._tokens: list[int] = []
        self._maps: dict[int, dict[int, int]] = {n: {} for n in NGRAM_SIZES}
        # The packed keys of the n-grams ending at the last token (rolling, so adding a
        # token costs O(len(NGRAM_SIZES)) whatever the n-gram sizes).
        self._keys: dict[int, int] = {n: 0 for n in NGRAM_SIZES}
        self._follow: dict[int, int] = {}  # token -> its latest position with a token after it
        self.extend(tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def tokens(self) -> list[int]:
        """The indexed tokens (a copy)."""
        return list(self._tokens)

    def index_size(self) -> int:
        """Entries held across the n-gram maps (for the memory bound's tests)."""
        return sum(len(m) for m in self._maps.values()) + len(self._follow)

    def append(self, token: int) -> None:
        """Add the next token of the sequence."""
        tokens, keys, maps = self._tokens, self._keys, self._maps
        last = len(tokens) - 1
        # The n-grams ending at the previous token now have a known continuation: index
        # them. (Indexing the n-grams ending at the newest token would make a proposal
        # find itself, with nothing after it.)
        if last >= 0:
            for n in NGRAM_SIZES:
                if last + 1 >= n:
                    maps[n][keys[n]] = last
            self._follow[tokens[last]] = last
        tokens.append(token)
        for n in NGRAM_SIZES:
            keys[n] = ((keys[n] << _BITS) | token) & _MASKS[n]
        if len(tokens) > self.max_tokens:
            self._forget_oldest_half()

    def extend(self, tokens: Iterable[int]) -> None:
        for token in tokens:
            self.append(token)

    def truncate(self, length: int) -> None:
        """Keep only the first `length` tokens (the context was cut back)."""
        if length >= len(self._tokens):
            return
        kept = self._tokens[: max(length, 0)]
        self._reset()
        self.extend(kept)

    def propose(self, limit: int) -> tuple[int, list[int]]:
        """Up to `limit` tokens that followed the longest earlier occurrence of the last
        2-4 tokens, with the size of the n-gram matched; (0, []) when none occurred."""
        if limit <= 0:
            return 0, []
        tokens, keys = self._tokens, self._keys
        size = len(tokens)
        for n in NGRAM_SIZES:
            if size < n:
                continue
            pos = self._maps[n].get(keys[n])
            if pos is not None:
                return n, tokens[pos + 1 : pos + 1 + limit]
        return 0, []

    def guess(self, limit: int) -> list[int]:
        """Exactly `limit` tokens (none for an empty sequence): the n-gram proposal, then
        each token's latest successor, and a token that never had one repeated."""
        return self.pad(self.propose(limit)[1], limit)

    def pad(self, proposal: list[int], limit: int) -> list[int]:
        """`proposal` (from `propose`) made `limit` tokens long as `guess` does."""
        out = list(proposal[:limit])
        tokens, follow = self._tokens, self._follow
        if not tokens:
            return []
        last = out[-1] if out else tokens[-1]
        while len(out) < limit:
            pos = follow.get(last)
            last = tokens[pos + 1] if pos is not None else last
            out.append(last)
        return out

    def _reset(self) -> None:
        self._follow = {}
        self._tokens = []
        self._maps = {n: {} for n in NGRAM_SIZES}
        self._keys = {n: 0 for n in NGRAM_SIZES}

    def _forget_oldest_half(self) -> None:
        kept = self._tokens[len(self._tokens) // 2 :]
        self._reset()
        self.extend(kept)
