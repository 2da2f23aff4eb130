"""Where a thread search matched, for the thread list to emphasise: the spans of a
title, and a short one-line snippet of a message around its first match.

Matching folds ASCII case only, as SQLite's LIKE and lower() do, so what the list
emphasises is exactly what the store's search found.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_SPACE = re.compile(r"\s+")
# Markdown's emphasis, code and heading marks: a snippet reads as text, as the answer shows it.
_MARKUP = re.compile(r"(?m)\*\*|__|`+|^#{1,6}\s+")
MAX_SPANS = 32  # a title of "aaaa..." searched for "a" needs no more
BEFORE = 24  # characters of context kept before a match in a snippet
AFTER = 90  # and after it


def fold(text: str) -> str:
    """`text` with A-Z lowered and nothing else changed (lengths and offsets stay)."""
    return text.translate(_ASCII_FOLD)


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """(start, end) of each non-overlapping occurrence of `query` in `text`, at most MAX_SPANS."""
    if not query:
        return []
    haystack, needle = fold(text), fold(query)
    spans, at = [], haystack.find(needle)
    while at >= 0 and len(spans) < MAX_SPANS:
        spans.append((at, at + len(needle)))
        at = haystack.find(needle, at + len(needle))
    return spans


@dataclass(frozen=True, slots=True)
class Snippet:
    """One line of a message around a match; text[start:end] is the match ("" if not found)."""

    text: str
    start: int
    end: int


def make_snippet(excerpt: str, query: str, cut_before: bool, cut_after: bool) -> Snippet:
    """A one-line snippet from `excerpt` (a piece of a message around its first match;
    `cut_before`/`cut_after`: the message goes on beyond it), with "…" where it is cut."""
    needle = _SPACE.sub(" ", query.strip())
    plain = _MARKUP.sub("", excerpt)
    # Without the marks unless the query needs them (a search for "**" still finds itself).
    text = _SPACE.sub(" ", plain if match_spans(_SPACE.sub(" ", plain), needle) else excerpt)
    spans = match_spans(text, needle)
    if not spans:  # the query's own spacing differs: show the start, unemphasised
        whole = text.strip()
        line = whole[: BEFORE + AFTER]
        tail = "…" if cut_after or len(line) < len(whole) else ""
        return Snippet(("…" if cut_before else "") + line + tail, 0, 0)
    start, end = spans[0]
    first = max(0, start - BEFORE)
    if first > 0:  # begin at a word, not inside one
        space = text.find(" ", first, start)
        first = space + 1 if space >= 0 else first
    last = min(len(text), end + AFTER)
    head = "…" if cut_before or first > 0 else ""
    body = text[first:last]
    stripped = body.lstrip()
    shift = len(head) - first - (len(body) - len(stripped))
    tail = "…" if cut_after or last < len(text) else ""
    return Snippet(head + stripped.rstrip() + tail, start + shift, end + shift)
