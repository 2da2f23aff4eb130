"""Counting a long text's tokens a piece at a time.

Tokenizing a whole 50 MB document at once holds every token id at once: a 50 MB
single-line CSV took 2.7 GB. Pieces of ~64 K characters, cut at a line break or
before a space where there is one, give the same count give or take a token per
cut (the budget's margin absorbs that) in a bounded amount of memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from app.core.documents.wrapping import safe

PIECE_CHARS = 64 * 1024


def pieces(text: str, size: int = PIECE_CHARS) -> Iterator[str]:
    """`text` in consecutive pieces of at most `size` characters (whole code points,
    so each encodes to valid UTF-8), joined back they give `text`. A piece ends after
    the last line break in its second half, else before its last space, else at `size`."""
    if size < 2:
        raise ValueError("need size >= 2")
    n, start = len(text), 0
    while n - start > size:
        lo, hi = start + size // 2, start + size
        at = text.rfind("\n", lo, hi)
        if at >= 0:
            end = at + 1  # a new line starts a new pre-token in every tokenizer seen
        else:
            at = text.rfind(" ", lo, hi)
            end = at if at >= 0 else hi  # " word" stays one token: cut before the space
        yield text[start:end]
        start = end
    if start < n or not text:
        yield text[start:]


def count_text(count_tokens: Callable[[str], int], text: str, size: int = PIECE_CHARS) -> int:
    """Tokens of a document's `text` as the prompt carries it (`safe` applied),
    counted piece by piece."""
    if len(text) <= size:
        return count_tokens(safe(text))
    return sum(count_tokens(safe(piece)) for piece in pieces(text, size))
