"""`ask --think` and `--no-think` end to end on the real SmolLM2 model: the JSON stats say
how the thinking ended and the budget it had; a saved reply keeps both."""

from __future__ import annotations

import json

from app.core.store import Store
from app.paths import history_path
from tests.cli.test_ask import run_app

ENDLESS = 'root ::= "<think>" [a-z ]+'  # never closes its thinking by itself


def stats_of(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["kind"] == "stats"
    return events[-1]


def test_think_budget_closes_the_thinking_and_the_stats_say_so(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", ENDLESS,
                   "--max-tokens", "60", "--think", "30", "--json", "Think.")
    stats = stats_of(proc)
    assert stats["thinking_end"] == "budget" and stats["think_budget"] == 30 and stats["reasoning_tokens"] == 30


def test_no_think_answers_without_thinking(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--max-tokens", "8",
                   "--no-think", "--json", "Hi")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert "reasoning" not in {e["kind"] for e in events}
    assert stats_of(proc)["thinking_end"] == "skipped"


def test_named_budget_in_plain_text_and_stored_with_the_reply(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--ctx", "1024", "--seed", "1", "--grammar", ENDLESS,
                   "--max-tokens", "40", "--think", "quick", "--thread", "new", "Think.")
    assert proc.returncode == 0, proc.stderr
    assert "finish: length" in proc.stderr  # 40 tokens run out before the 1,000-token budget
    assert "thinking cut off: the reply reached its length limit" in proc.stderr
    with Store(history_path()) as store:
        thread = store.list_threads()[0]
        reply = store.path(thread.id)[-1]
    assert reply.thinking_end == "length" and reply.think_budget == 1000


def test_a_bad_budget_is_refused_with_a_sentence(smollm2):
    proc = run_app("ask", "--model", str(smollm2), "--think", "lots", "Hi")
    assert proc.returncode == 2
    assert "is not a thinking budget: use quick, normal, long, none, or a number of tokens" in proc.stderr
