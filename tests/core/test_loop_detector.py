"""The loop watch on real traces: SmolLM2's own loops (greedy replies that say the same
thing again and again) must be caught, early; long traces that keep coming back to their
ideas (SmolLM2's sampled replies and the revisiting traces) must never be."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from app.core.engine import LlamaEngine, LoadParams
from app.core.loop_detector import RECENT, WINDOW, LoopDetector
from tests.core.revisiting_traces import all_traces

TRACES = Path(__file__).parent / "data" / "traces"
LOOPS = sorted(TRACES.glob("loop_*.txt"))
SAMPLED = sorted(TRACES.glob("sampled_*.txt"))


def pieces(text: str, seed: int = 0) -> list[str]:
    """`text` in token-sized pieces of 1-6 characters (words split anywhere), as a stream."""
    rng, out, i = random.Random(seed), [], 0
    while i < len(text):
        n = rng.randint(1, 6)
        out.append(text[i:i + n])
        i += n
    return out


def detections(text: str) -> list[int]:
    """The word counts at which the detector fired, fed `text` as a stream."""
    det = LoopDetector()
    return [det.words for p in pieces(text) if det.feed(p)]


def non_looping() -> dict[str, str]:
    return {**all_traces(), **{p.name: p.read_text(encoding="utf-8") for p in SAMPLED}}


@pytest.mark.parametrize("path", LOOPS, ids=lambda p: p.stem)
def test_real_loops_are_caught_early(path):
    text = path.read_text(encoding="utf-8")
    found = detections(text)
    assert found, path.name
    # Where the repetition starts: the first word from which the rest only repeats.
    words = re.findall(r"[^\W_]+|[^\w\s]", text)
    assert found[0] < len(words) - RECENT  # long before the trace ends
    assert len(found) >= 2  # and again while it goes on (the auto-answer's second time)


@pytest.mark.parametrize("name", sorted(non_looping()))
def test_long_traces_that_revisit_ideas_never_fire(name):
    assert detections(non_looping()[name]) == []


def test_the_quiet_traces_are_long_enough_to_mean_something(smollm2):
    with LlamaEngine(smollm2, LoadParams(n_ctx=512)) as eng:
        tokens = {name: eng.count_tokens(text) for name, text in non_looping().items()}
    assert sum(tokens.values()) >= 20_000, tokens
    assert SAMPLED and len(tokens) >= 6


def test_a_paragraph_said_again_is_caught_within_recent_words():
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(500)]
    paragraph = " ".join(rng.choice(vocab) for _ in range(400))
    fresh = " ".join(rng.choice(vocab) for _ in range(600))
    det = LoopDetector()
    assert not any(det.feed(p) for p in pieces(fresh + " " + paragraph + " "))
    start = det.words
    fired_at = next(det.words for p in pieces(paragraph) if det.feed(p))
    assert fired_at - start <= RECENT


def test_the_same_sentence_again_and_again_is_caught():
    det = LoopDetector()
    fired = [det.words for p in pieces("Wait, so the answer is 12. " * 200) if det.feed(p)]
    assert fired and fired[0] <= RECENT and len(fired) >= 3


def test_memory_stays_bounded_on_a_long_trace():
    det = LoopDetector()
    rng = random.Random(2)
    for _ in range(20_000):
        det.feed(f" {rng.randint(0, 10**9)}")
    assert len(det._seen) <= WINDOW and len(det._order) <= WINDOW and len(det._flags) <= RECENT


def test_a_word_split_across_pieces_counts_once():
    det, whole = LoopDetector(), LoopDetector()
    for p in ["inter", "nation", "alisation is ", "long"]:
        det.feed(p)
    whole.feed("internationalisation is long")
    det.feed(" ")
    whole.feed(" ")
    assert det.words == whole.words == 3
