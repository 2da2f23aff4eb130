"""The thinking budget, Answer directly and the loop watch on the real SmolLM2 model.

A GBNF grammar makes the model write `<think>` and then only lowercase words, so it
never closes its thinking by itself: only the engine can."""

from __future__ import annotations

import threading

import pytest

from app.core.engine import ANSWER_NOW_TEXT, LlamaEngine, LoadParams
from app.core.thinking import LEVELS, budget_text, direct_prefix, end_text, parse_budget
from app.core.types import GenParams, Message
from tests.core.test_engine import THINK_GRAMMAR, ask, collect, texts

ENDLESS = 'root ::= "<think>" [a-z ]+'  # thinks until something else closes it
OPENS_THINKING = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "<|im_start|>assistant\n<think>\n"
)


@pytest.fixture(scope="module")
def engine(smollm2):
    eng = LlamaEngine(smollm2, LoadParams(n_ctx=4096, n_batch=256))
    yield eng
    eng.close()


@pytest.fixture
def fresh(engine):
    engine.reset()
    return engine


def text_of(engine: LlamaEngine, tokens: list[int]) -> str:
    return b"".join(engine._piece(t) for t in tokens).decode("utf-8", errors="replace")


def find(seq: list[int], part: list[int]) -> int:
    return next(i for i in range(len(seq) - len(part) + 1) if seq[i:i + len(part)] == part)


@pytest.mark.parametrize("budget", [17, 60])
def test_the_budget_closes_the_thinking_at_n_tokens_and_the_answer_follows(fresh, budget):
    params = GenParams(seed=5, max_tokens=budget + 25, grammar=ENDLESS, think_budget=budget)
    events, stats = collect(fresh.stream(ask("Think hard."), params))
    reasoning, answer = texts(events, "reasoning"), texts(events, "answer")
    kinds = [e.kind for e in events]
    assert stats.thinking_end == "budget" and stats.think_budget == budget
    assert stats.reasoning_tokens == budget and not stats.reasoning_unfinished
    assert answer.strip() and "reasoning" not in kinds[kinds.index("answer"):]
    # What the model read: its `budget` tokens, then the bridge and the closing tag.
    cached, prompt = fresh.cached_tokens, stats.prompt_tokens
    close = fresh.tokenize(f"\n\n{params.budget_bridge}{ANSWER_NOW_TEXT}", starts_prompt=False)
    at = find(cached, close)
    assert abs(at - (prompt + budget)) <= 1
    # The split is exact: the thinking is those tokens' text (less the opening tag and the
    # bridge, which the trace does not show as the model's words), the answer what followed.
    assert reasoning.strip() == text_of(fresh, cached[prompt:at]).removeprefix("<think>").strip()
    assert params.budget_bridge not in reasoning + answer
    after = text_of(fresh, cached[at + len(close):]).strip()
    assert answer.startswith(after) and len(answer) - len(after) <= 16  # the last token is never decoded


def test_no_bridge_when_it_is_turned_off(fresh):
    params = GenParams(seed=5, max_tokens=40, grammar=ENDLESS, think_budget=20, budget_bridge="")
    _, stats = collect(fresh.stream(ask("Think hard."), params))
    cached = fresh.cached_tokens
    assert stats.thinking_end == "budget"
    close = fresh.tokenize(ANSWER_NOW_TEXT, starts_prompt=False)
    assert find(cached, close) == stats.prompt_tokens + 20


def test_a_model_that_closes_before_the_budget_ends_its_own_thinking(fresh):
    events, stats = collect(fresh.stream(ask("What is two plus two?"),
                                         GenParams(seed=1, grammar=THINK_GRAMMAR, think_budget=4000)))
    assert stats.thinking_end == "model" and stats.think_budget == 4000
    assert texts(events, "reasoning").strip() and texts(events, "answer").strip()


def test_answer_directly_starts_with_the_thinking_closed(fresh):
    grammar = 'root ::= [A-Z] [a-z ]{2,20} "."'
    params = GenParams(seed=1, grammar=grammar, answer_directly=True, think_budget=1000)
    events, stats = collect(fresh.stream(ask("What is two plus two?"), params))
    assert [e.kind for e in events] == ["answer"] * len(events) and events
    assert texts(events, "answer").strip().endswith(".")
    assert stats.thinking_end == "skipped" and stats.reasoning_tokens == 0 and stats.think_budget is None
    prompt = fresh.tokenize(fresh.render(ask("What is two plus two?")).text + direct_prefix(False))
    assert fresh.cached_tokens[:len(prompt)] == prompt and stats.prompt_tokens == len(prompt)


def test_answer_directly_after_a_template_that_opens_the_thinking(smollm2):
    with LlamaEngine(smollm2, LoadParams(n_ctx=2048, chat_template=OPENS_THINKING)) as eng:
        events, stats = collect(eng.stream(ask("Hi"), GenParams(seed=2, max_tokens=8, answer_directly=True)))
        text = eng.render(ask("Hi")).text + "\n</think>\n\n"
        assert eng.cached_tokens[:len(eng.tokenize(text))] == eng.tokenize(text)
    assert all(e.kind == "answer" for e in events) and stats.thinking_end == "skipped"


def test_answer_now_and_length_are_told_apart(fresh):
    answer_now = threading.Event()
    answer_now.set()
    _, stats = collect(fresh.stream(ask("Think hard."), GenParams(seed=4, max_tokens=20, grammar=ENDLESS),
                                    None, answer_now))
    assert stats.thinking_end == "answer_now"
    fresh.reset()
    _, stats = collect(fresh.stream(ask("Think hard."), GenParams(seed=4, max_tokens=12, grammar=ENDLESS)))
    assert stats.thinking_end == "length" and stats.reasoning_unfinished


def test_a_looping_model_is_caught_and_answers_at_the_second_time(smollm2):
    # Greedy SmolLM2 falls into saying the same thing again and again; the template opens
    # the thinking, so all it writes is thinking.
    params = GenParams(temperature=0.0, max_tokens=2500, ignore_eos=True, loop_auto_answer=True)
    question = [Message("user", "Think step by step: how many prime numbers are there below 100?")]
    with LlamaEngine(smollm2, LoadParams(n_ctx=4096, chat_template=OPENS_THINKING)) as eng:
        events, stats = collect(eng.stream(question, params))
    repeats = [e for e in events if e.kind == "repeating"]
    assert [(r.count, r.answering) for r in repeats] == [(1, False), (2, True)]
    assert stats.thinking_end == "loop" and not stats.reasoning_unfinished
    assert stats.reasoning_tokens < 1500
    kinds = [e.kind for e in events]
    assert "answer" in kinds and "reasoning" not in kinds[kinds.index("answer"):]


def test_without_auto_answer_the_watch_only_tells(smollm2):
    params = GenParams(temperature=0.0, max_tokens=900, ignore_eos=True)
    question = [Message("user", "Think step by step: how many prime numbers are there below 100?")]
    with LlamaEngine(smollm2, LoadParams(n_ctx=4096, chat_template=OPENS_THINKING)) as eng:
        events, stats = collect(eng.stream(question, params))
    assert [e.answering for e in events if e.kind == "repeating"][:1] == [False]
    assert stats.thinking_end == "length" and "answer" not in [e.kind for e in events]


def test_budgets_as_typed():
    assert [parse_budget(v) for v in ("quick", "Normal", " long ", "none", "2,500")] == [
        LEVELS["quick"], 4000, 16000, None, 2500]
    for bad in ("0", "-3", "lots", str(1 << 30)):
        with pytest.raises(ValueError):
            parse_budget(bad)
    assert budget_text(4000) == "Normal (4,000 tokens)" and budget_text(None) == "No limit"
    assert budget_text(2500) == "2,500 tokens"
    assert end_text("budget", 4000) == "budget reached at 4,000 tokens"
    assert end_text("model", 4000) is None
