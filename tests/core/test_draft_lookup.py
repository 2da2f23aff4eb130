"""The n-gram index that proposes drafts: what it finds, and its memory bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.draft_lookup import NGRAM_SIZES, DraftLookup


def reference(tokens: list[int], limit: int) -> tuple[int, list[int]]:
    """The longest n-gram (4, 3, 2) ending at the last token that occurred earlier with at
    least one token after it; its latest such occurrence's continuation."""
    size = len(tokens)
    for n in NGRAM_SIZES:
        if size < n:
            continue
        tail = tokens[size - n :]
        for end in range(size - 2, n - 2, -1):  # an n-gram ending at `end` < last
            if tokens[end - n + 1 : end + 1] == tail:
                return n, tokens[end + 1 : end + 1 + limit]
    return 0, []


def test_proposes_what_followed_the_last_tokens_before():
    doc = [10, 11, 12, 13, 14, 15, 16, 17]
    lookup = DraftLookup([1, 2, *doc, 3, 4, 10, 11, 12])
    assert lookup.propose(4) == (3, [13, 14, 15, 16])  # 10 11 12 matched (4 tokens did not)
    lookup.append(13)
    assert lookup.propose(8) == (4, [14, 15, 16, 17, 3, 4, 10, 11])


def test_nothing_to_copy_proposes_nothing():
    lookup = DraftLookup(range(100, 200))
    assert lookup.propose(8) == (0, [])
    assert DraftLookup().propose(8) == (0, [])
    assert DraftLookup([5]).propose(8) == (0, [])


def test_the_latest_occurrence_wins_and_limits_hold():
    lookup = DraftLookup([7, 8, 1, 7, 8, 2, 9, 7, 8])
    assert lookup.propose(1) == (2, [2])
    assert lookup.propose(0) == (0, [])
    # a continuation that runs into the end of the text is cut there
    assert DraftLookup([7, 8, 7, 8]).propose(8) == (2, [7, 8])


def test_truncate_forgets_the_tail():
    lookup = DraftLookup([1, 2, 3, 4, 1, 2])
    assert lookup.propose(2) == (2, [3, 4])
    lookup.truncate(3)
    assert lookup.tokens == [1, 2, 3] and lookup.propose(2) == (0, [])
    lookup.extend([9, 1, 2])
    assert lookup.propose(2) == (2, [3, 9])


def test_memory_is_bounded_and_recent_text_still_drafts():
    lookup = DraftLookup(max_tokens=64)
    for i in range(10_000):
        lookup.append(i % 20)  # a 20-token cycle: always something to copy
        assert len(lookup) <= 64
    assert lookup.index_size() <= (len(NGRAM_SIZES) + 1) * 64  # the n-grams and each token's successor
    n, draft = lookup.propose(5)
    last = lookup.tokens[-1]
    assert n == 4 and draft == [(last + j) % 20 for j in range(1, 6)]
    with pytest.raises(ValueError):
        DraftLookup(max_tokens=2)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=60), st.integers(0, 10))
def test_agrees_with_a_brute_force_search(tokens, limit):
    lookup = DraftLookup(tokens)
    assert lookup.propose(limit) == (reference(tokens, limit) if limit > 0 else (0, []))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=80), st.integers(8, 20))
def test_a_bounded_index_matches_a_search_over_what_it_kept(tokens, bound):
    lookup = DraftLookup(tokens, max_tokens=bound)
    kept = lookup.tokens
    assert kept == tokens[len(tokens) - len(kept) :] and len(kept) <= bound
    assert lookup.propose(4) == reference(kept, 4)


def test_large_token_ids_do_not_collide_with_small_ones():
    big = (1 << 20) + 3  # ids of very large vocabularies
    lookup = DraftLookup([big, 1, 2, 3, 1, 2])
    assert lookup.propose(1) == (2, [3])
    assert DraftLookup([3, 1, 2, big, 1, 2]).propose(1) == (2, [big])


def test_a_guess_is_always_as_long_as_asked():
    lookup = DraftLookup([1, 2, 3, 4, 9, 1, 2])
    assert lookup.guess(3) == [3, 4, 9]  # the n-gram proposal
    assert lookup.guess(6) == [3, 4, 9, 1, 2, 3]  # then each token's latest successor
    lookup = DraftLookup([5, 6, 7])
    assert lookup.guess(4) == [7, 7, 7, 7]  # 7 never had a successor: repeated
    assert DraftLookup().guess(3) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), max_size=60), st.integers(0, 9))
def test_a_guess_starts_with_the_proposal(tokens, limit):
    lookup = DraftLookup(tokens)
    guess = lookup.guess(limit)
    _, proposal = lookup.propose(limit)
    assert guess[: len(proposal)] == proposal
    assert len(guess) == (limit if tokens else 0)
