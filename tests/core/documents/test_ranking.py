"""BM25 puts the passage holding the asked-about fact first."""

from __future__ import annotations

import random

from app.core.documents.ranking import bm25_scores, rank

WORDS = "river stone market window garden letter summer engine harbour lantern".split()


def filler(seed: int, n: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_planted_fact_ranks_first():
    passages = [filler(i) for i in range(300)]
    passages[217] += " The vault combination is kept by the lighthouse keeper."
    order = rank(passages, "Who keeps the vault combination?")
    assert order[0] == 217


def test_question_without_known_words_keeps_text_order():
    passages = [filler(i, 20) for i in range(5)]
    assert rank(passages, "zebra quantum") == [0, 1, 2, 3, 4]
    assert rank(passages, "??") == [0, 1, 2, 3, 4]  # no word at all
    assert bm25_scores([], "anything").shape == (0,)


def test_passages_without_a_single_word_score_zero_in_text_order():
    # bm25s cannot index an empty vocabulary; brackets and punctuation have no words.
    for passages in (["[[[[", "]]]]", "{}{}"], ["!!! ???", "...", "-- -- --"], ["a", "I"]):
        assert bm25_scores(passages, "What is in this file?").tolist() == [0.0] * len(passages)
        assert rank(passages, "What is in this file?") == list(range(len(passages)))


def test_some_passages_without_words_still_rank_the_others():
    scores = bm25_scores(["[[[[", "the lighthouse keeper", "]]]]"], "lighthouse")
    assert scores[1] > 0 and scores[0] == scores[2] == 0
