"""Engine contract on the real SmolLM2 model at fixed seeds."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core.engine import LlamaEngine, LoadParams
from app.core.errors import AppError, ContextOverflow
from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT, with_system_prompt
from app.core.types import GenParams, Message

THINK_GRAMMAR = r'''
root ::= "<think>" thought "</think>" answer
thought ::= [a-z] [a-z ]{4,30}
answer ::= [A-Z] [a-z ]{2,20} "."
'''


def ask(question: str, system: str | None = PHI4_REASONING_SYSTEM_PROMPT) -> list[Message]:
    return with_system_prompt([Message("user", question)], system)


def collect(stream):
    """Text and error events, and the stats; speed reports are checked where they matter."""
    events = [e for e in stream if e.kind not in ("progress", "rate")]
    stats = events[-1]
    assert stats.kind == "stats"
    return events[:-1], stats.stats


def texts(events, kind: str) -> str:
    return "".join(e.text for e in events if e.kind == kind)


@pytest.fixture(scope="module")
def engine(smollm2):
    eng = LlamaEngine(smollm2, LoadParams(n_ctx=2048, n_batch=64))
    yield eng
    eng.close()


@pytest.fixture
def fresh(engine):
    engine.reset()
    return engine


def test_streams_text_then_stats(fresh):
    events, stats = collect(fresh.stream(ask("Name a colour."), GenParams(max_tokens=24, seed=7)))
    assert events and all(e.kind in ("reasoning", "answer") for e in events)
    assert 0 < stats.generated_tokens <= 24
    assert stats.finish_reason == ("length" if stats.generated_tokens == 24 else "stop")
    assert stats.prompt_tokens == fresh.count_prompt_tokens(ask("Name a colour."))
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens
    assert stats.tokens_per_second > 0 and stats.template == "gguf"
    assert stats.context_size == 2048


def test_fixed_seed_is_reproducible(fresh):
    params = GenParams(max_tokens=20, seed=123)
    first, _ = collect(fresh.stream(ask("Say something."), params))
    fresh.reset()
    second, _ = collect(fresh.stream(ask("Say something."), params))
    assert texts(first, "answer") == texts(second, "answer")


def test_grammar_forces_think_then_answer_split(fresh):
    events, stats = collect(fresh.stream(ask("What is two plus two?"), GenParams(seed=1, grammar=THINK_GRAMMAR)))
    reasoning, answer = texts(events, "reasoning"), texts(events, "answer")
    assert stats.finish_reason == "stop"
    assert reasoning.strip() and answer.strip()
    assert "<" not in reasoning + answer  # tags never reach either part
    assert answer.strip()[0].isupper() and answer.strip().endswith(".")
    assert all(c.islower() or c == " " for c in reasoning)
    # thinking came first in the stream
    kinds = [e.kind for e in events]
    assert kinds.index("answer") > kinds.index("reasoning")
    assert "answer" not in kinds[: kinds.index("answer")]
    assert stats.think_seconds >= 0 and stats.answer_seconds >= 0


def test_multibyte_characters_come_out_whole(fresh):
    grammar = 'root ::= "<think>é</think>" "🙂 日本語 ü"'
    events, stats = collect(fresh.stream(ask("Smile."), GenParams(seed=1, grammar=grammar)))
    assert texts(events, "reasoning") == "é"
    assert texts(events, "answer") == "🙂 日本語 ü"
    assert all("\ufffd" not in e.text for e in events)


def test_cancel_during_generation_stops_at_once(fresh):
    cancel = threading.Event()
    seen = 0
    stream = fresh.stream(ask("Tell a long story."), GenParams(max_tokens=500, seed=3), cancel)
    for ev in stream:
        if ev.kind in ("reasoning", "answer"):
            seen += 1
            if seen == 5:
                cancel.set()
        if ev.kind == "stats":
            stats = ev.stats
    assert stats.finish_reason == "cancelled"
    assert 5 <= stats.generated_tokens <= 7


def test_cancel_from_another_thread(fresh):
    cancel, started = threading.Event(), threading.Event()
    result = {}

    def consume():
        for ev in fresh.stream(ask("Tell a long story."), GenParams(max_tokens=1500, seed=3), cancel):
            if ev.kind in ("reasoning", "answer"):
                started.set()
            if ev.kind == "stats":
                result["stats"] = ev.stats

    worker = threading.Thread(target=consume)
    worker.start()
    assert started.wait(60)
    cancel.set()
    worker.join(60)
    assert not worker.is_alive()
    assert result["stats"].finish_reason == "cancelled"
    assert result["stats"].generated_tokens < 1500


def long_question(n: int = 60) -> str:
    return " ".join(f"Fact {i}: the box number {i} holds {i * 7} marbles." for i in range(n))


def test_cancel_between_prompt_batches(fresh):
    cancel = threading.Event()
    messages = ask(long_question(), system=None)
    progress = []
    for ev in fresh.stream(messages, GenParams(max_tokens=10, seed=1), cancel):
        if ev.kind == "progress":
            progress.append(ev)
            cancel.set()
        if ev.kind == "stats":
            stats = ev.stats
    assert len(progress) == 1 and progress[0].done == 64
    assert stats.finish_reason == "cancelled"
    assert stats.generated_tokens == 0
    assert stats.evaluated_prompt_tokens == 64 < stats.prompt_tokens
    # What was read stays cached: asking again only reads the rest.
    _, again = collect(fresh.stream(messages, GenParams(max_tokens=2, seed=1)))
    assert again.evaluated_prompt_tokens == again.prompt_tokens - 64
    assert again.finish_reason == "length"


def test_context_overflow_is_refused_with_numbers(smollm2):
    with LlamaEngine(smollm2, LoadParams(n_ctx=256)) as small:
        messages = ask(long_question(40), system=None)
        with pytest.raises(ContextOverflow) as info:
            small.stream(messages, GenParams(max_tokens=500, reply_reserve=100))
    err = info.value
    assert err.context_size == 256 and err.reserved == 64  # capped at a quarter of the context
    assert err.prompt_tokens > 256 - 64
    assert f"{err.prompt_tokens:,}" in err.user_message and "256" in err.user_message


def test_follow_up_evaluates_only_last_answer_and_new_message(fresh):
    turn1 = ask("What is two plus two?")
    events, stats1 = collect(fresh.stream(turn1, GenParams(seed=1, grammar=THINK_GRAMMAR)))
    answer = texts(events, "answer").strip()
    turn2 = [*turn1, Message("assistant", answer), Message("user", "And three plus three?")]
    p1 = fresh.tokenize(fresh.render(turn1).text)
    p2 = fresh.tokenize(fresh.render(turn2).text)
    assert p2[: len(p1)] == p1  # the earlier prompt is a prefix of the follow-up
    _, stats2 = collect(fresh.stream(turn2, GenParams(max_tokens=4, seed=1)))
    assert stats2.prompt_tokens == len(p2)
    # The thinking of turn 1 was dropped, so everything after the first prompt is new.
    assert stats2.evaluated_prompt_tokens == len(p2) - len(p1)
    assert stats2.evaluated_prompt_tokens < stats1.prompt_tokens


def test_broken_template_falls_back_to_builtin(smollm2, caplog):
    caplog.set_level(logging.INFO)
    with LlamaEngine(smollm2, LoadParams(n_ctx=2048, chat_template="{{ raise_exception('no') }}")) as eng:
        rendered = eng.render(ask("Hi"))
        _, stats = collect(eng.stream(ask("Hi"), GenParams(max_tokens=3, seed=1)))
    assert rendered.template == "builtin" and stats.template == "builtin"
    assert rendered.text.endswith("<|im_start|>assistant<|im_sep|>")
    assert "using built-in Phi-4 format" in caplog.text


def test_prompt_that_opens_thinking_starts_in_reasoning(smollm2):
    template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "<|im_start|>assistant\n<think>\n"
    )
    grammar = 'root ::= [a-z ]{3,12} "</think>" [a-z ]{2,10}'
    with LlamaEngine(smollm2, LoadParams(n_ctx=2048, chat_template=template)) as eng:
        assert eng.render(ask("Hi")).opens_thinking
        events, stats = collect(eng.stream(ask("Hi"), GenParams(seed=2, grammar=grammar)))
    assert events[0].kind == "reasoning" and texts(events, "reasoning").strip()
    assert texts(events, "answer").strip() and stats.finish_reason == "stop"


def test_answer_now_closes_thinking_and_continues(fresh):
    # This grammar never closes the thinking: only "answer now" can end it.
    grammar = 'root ::= "<think>" [a-z ]+'
    answer_now = threading.Event()
    events = []
    for ev in fresh.stream(ask("Think hard."), GenParams(seed=4, max_tokens=40, grammar=grammar), None, answer_now):
        if ev.kind not in ("progress", "rate"):
            events.append(ev)
        if ev.kind == "reasoning" and len(events) == 3:
            answer_now.set()
    stats = events[-1].stats
    kinds = [e.kind for e in events[:-1]]
    assert kinds[:3] == ["reasoning"] * 3
    assert "answer" in kinds and "reasoning" not in kinds[kinds.index("answer") :]
    assert texts(events, "answer").strip()
    assert not stats.reasoning_unfinished
    close = fresh.tokenize("\n</think>\n\n", starts_prompt=False)
    cached = fresh.cached_tokens
    assert any(cached[i : i + len(close)] == close for i in range(len(cached)))


def test_speed_is_reported_while_tokens_stream(fresh):
    params = GenParams(max_tokens=120, seed=2, ignore_eos=True)
    events = list(fresh.stream(ask("Count slowly."), params))
    rates = [e for e in events if e.kind == "rate"]
    stats = events[-1].stats
    # At most one report per half second: the count depends on the machine's speed, the
    # order and the totals do not.
    assert all(a.tokens < b.tokens and a.seconds < b.seconds for a, b in zip(rates, rates[1:]))
    assert all(0 < r.tokens <= stats.generated_tokens and r.tokens_per_second > 0 for r in rates)
    assert len(rates) <= int(stats.answer_seconds + stats.think_seconds) * 2 + 1
    if stats.answer_seconds + stats.think_seconds > 1.0:
        assert rates


def test_load_reports_progress_and_can_be_stopped(smollm2):
    seen = []
    eng = LlamaEngine(smollm2, LoadParams(n_ctx=512, progress=lambda f: seen.append(f) or True))
    eng.close()
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
    with pytest.raises(AppError):
        LlamaEngine(smollm2, LoadParams(n_ctx=512, progress=lambda f: f < 0.5))


def run_engine_child(model, template: str, body: str) -> subprocess.CompletedProcess:
    """Load `model` with `template` in a child process and run `body` (llama.cpp aborts the
    process on some prompts; only a child can show that it no longer does)."""
    code = (
        "import json, sys; from app.core.engine import LlamaEngine, LoadParams; "
        "from app.core.errors import AppError; from app.core.types import GenParams, Message\n"
        f"eng = LlamaEngine({str(model)!r}, LoadParams(n_ctx=512, chat_template={template!r}))\n"
        f"{body}\n"
    )
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300,
                          check=False)


def test_an_empty_prompt_is_refused_before_decoding(smollm2):
    body = (
        "assert eng.render([Message('user', 'Hi')]).text == ''\n"
        "try:\n    list(eng.stream([Message('user', 'Hi')], GenParams(max_tokens=4)))\n"
        "except AppError as exc:\n    print(type(exc).__name__, exc.user_message)\n"
        "eng.close()"
    )
    done = run_engine_child(smollm2, "{% if false %}never{% endif %}", body)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("PromptError The model's chat template turned this conversation into an empty prompt")


def test_a_token_outside_the_vocabulary_is_refused_before_decoding(smollm2):
    body = (
        "eng.tokenize = lambda text, starts_prompt=True: [1, 2, 10**6]\n"
        "try:\n    list(eng.stream([Message('user', 'Hi')], GenParams(max_tokens=4)))\n"
        "except AppError as exc:\n    print(type(exc).__name__, exc.user_message)\n"
        "eng.close()"
    )
    done = run_engine_child(smollm2, "", body)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("PromptError The prompt holds a token this model does not have")


def test_a_slow_template_is_abandoned_for_counting_and_sending(smollm2, monkeypatch):
    from app.core import chat_template, prompt

    monkeypatch.setattr(chat_template, "RENDER_SECONDS", 0.05)
    monkeypatch.setattr(prompt, "_unusable", {})
    slow = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
    with LlamaEngine(smollm2, LoadParams(n_ctx=2048, chat_template=slow)) as eng:
        assert eng.template_problem == prompt.PROBLEMS["slow"]
        builtin = eng.tokenize(prompt.render_builtin(ask("Hi")))
        assert eng.count_prompt_tokens(ask("Hi")) == len(builtin)
        _, stats = collect(eng.stream(ask("Hi"), GenParams(max_tokens=2, seed=1)))
    assert stats.template == "builtin" and stats.prompt_tokens == len(builtin)


def test_a_working_template_reports_no_problem(engine):
    assert engine.template_problem is None
