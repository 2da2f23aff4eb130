"""Where a reply's prompt came from, as the status bar and `ask` say it."""

from __future__ import annotations

from dataclasses import replace

from app.core.stats_text import prompt_text, seconds_text
from app.core.types import Stats

BASE = Stats(prompt_tokens=14, evaluated_prompt_tokens=14, generated_tokens=300, reasoning_tokens=200,
             think_seconds=12.0, answer_seconds=3.0, prompt_seconds=0.1, tokens_per_second=18.3,
             finish_reason="stop")


def stats(**changes) -> Stats:
    return replace(BASE, **changes)


def test_a_restore_says_what_was_restored_and_what_was_read():
    restored = stats(prompt_tokens=12_048, restored_prompt_tokens=12_034, restore_seconds=0.6, prompt_seconds=0.7)
    assert prompt_text(restored) == "restored 12,034 tokens in 0.6 s · read 14 in 0.1 s"


def test_a_long_or_slow_read_is_said():
    assert prompt_text(stats(prompt_tokens=12_034, evaluated_prompt_tokens=12_034, prompt_seconds=41.2)) == \
        "read 12,034 tokens in 41 s"
    assert prompt_text(stats(evaluated_prompt_tokens=1_000, prompt_seconds=0.3)) == "read 1,000 tokens in 0.3 s"
    assert prompt_text(stats(evaluated_prompt_tokens=300, prompt_seconds=1.0)) == "read 300 tokens in 1.0 s"


def test_a_short_quick_read_is_not_worth_the_room():
    assert prompt_text(BASE) == ""
    assert prompt_text(stats(prompt_tokens=5_000, evaluated_prompt_tokens=999, prompt_seconds=0.99)) == ""


def test_estimated_counts_say_so():
    guess = stats(evaluated_prompt_tokens=4_000, prompt_seconds=2.0, counts_estimated=True)
    assert prompt_text(guess) == "read about 4,000 tokens in 2.0 s"


def test_seconds():
    assert [seconds_text(s) for s in (0.0, 0.04, 0.64, 9.94, 9.96, 41.2, 1234.0, -1.0)] == \
        ["under 0.1 s", "under 0.1 s", "0.6 s", "9.9 s", "10 s", "41 s", "1,234 s", "under 0.1 s"]
