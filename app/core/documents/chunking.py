"""Cutting a document's text into overlapping passages for ranking.

Passages are measured in characters, not tokens: tokenizing every chunk of a
million-token corpus with the model's tokenizer costs more than ranking it, and only
the chunks that get picked need an exact count (budget.py counts those).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CHUNK_CHARS = 1500  # about 350-400 tokens of English
DEFAULT_OVERLAP_CHARS = 200


@dataclass(frozen=True, slots=True)
class Chunk:
    doc: int  # index of the document in the list given to chunk_documents
    index: int  # order within the document
    start: int  # character offsets into the document's text
    end: int


def _break_before(text: str, lo: int, hi: int) -> int:
    """A good place to end a chunk in text[lo:hi]: after a blank line, a line, a
    sentence or a space, in that order of preference; `hi` if none."""
    for sep in ("\n\n", "\n", ". ", " "):
        at = text.rfind(sep, lo, hi)
        if at >= 0:
            return at + len(sep)
    return hi


def _start_after(text: str, lo: int, hi: int) -> int:
    """Where to start the next chunk in text[lo:hi]: just after a line or space break."""
    for sep in ("\n", " "):
        at = text.find(sep, lo, hi)
        if at >= 0:
            return at + 1
    return lo


def chunk_spans(text: str, size: int = DEFAULT_CHUNK_CHARS, overlap: int = DEFAULT_OVERLAP_CHARS) -> list[tuple[int, int]]:
    """(start, end) spans covering all of `text` in order. Each is at most `size`
    characters; consecutive spans overlap by at most `overlap` and never leave a gap."""
    if size < 2 or not 0 <= overlap < size // 2:
        raise ValueError("need size >= 2 and 0 <= overlap < size / 2")
    spans: list[tuple[int, int]] = []
    n, start = len(text), 0
    while start < n:
        hi = min(start + size, n)
        # Break in the second half of the window so every chunk is at least half full.
        end = hi if hi == n else _break_before(text, start + size // 2, hi)
        spans.append((start, end))
        if end >= n:
            break
        start = _start_after(text, end - overlap, end) if overlap else end
    return spans


def chunk_documents(texts: list[str], size: int = DEFAULT_CHUNK_CHARS,
                    overlap: int = DEFAULT_OVERLAP_CHARS) -> list[Chunk]:
    """Chunks of every text, document by document, in text order."""
    return [
        Chunk(d, i, s, e)
        for d, text in enumerate(texts)
        for i, (s, e) in enumerate(chunk_spans(text, size, overlap))
    ]
