"""Tests for the incremental reasoning/answer splitter."""

from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.reasoning import ReasoningParser
from app.core.types import TextEvent

BS_CLOSE = "<\\think>"  # the backslash form of the closing tag


def run(chunks, start_in_reasoning=False):
    parser = ReasoningParser(start_in_reasoning=start_in_reasoning)
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.finish()
    return parser, events


def split(parser):
    return parser.reasoning, parser.answer, parser.reasoning_unfinished


def replay(events):
    """What a view shows after applying the live events in order."""
    reasoning = answer = ""
    moves = 0
    for event in events:
        assert isinstance(event, TextEvent)
        assert event.text, "no empty events"
        if event.moves_answer:
            assert event.kind == "reasoning"
            assert event.text == answer, "the move carries exactly what was shown as answer"
            assert reasoning == "", "nothing can be reasoning before an undecided answer"
            reasoning, answer = event.text, ""
            moves += 1
        elif event.kind == "reasoning":
            reasoning += event.text
        else:
            answer += event.text
    assert moves <= 1
    return reasoning, answer


def check_replay(parser, events):
    reasoning, answer = replay(events)
    assert reasoning.strip() == parser.reasoning
    assert answer.strip() == parser.answer
    # No blank first line in views: each part's first event starts with real text.
    for kind in ("reasoning", "answer"):
        first = next((e for e in events if e.kind == kind and not e.moves_answer), None)
        if first is not None and not any(e.moves_answer for e in events[: events.index(first)]):
            assert first.text[0].strip(), (kind, first)


CASES = [
    # (stream, start_in_reasoning, reasoning, answer, unfinished)
    ("<think>a</think>b", False, "a", "b", False),
    ("<think>\nstep 1\nstep 2\n</think>\n\nThe answer.\n", False, "step 1\nstep 2", "The answer.", False),
    # Prefilled: the prompt already ended with <think>.
    ("a</think>b", True, "a", "b", False),
    ("a" + BS_CLOSE + "b", True, "a", "b", False),
    ("thinking...", True, "thinking...", "", True),
    ("", True, "", "", True),
    ("<think>a</think>b", True, "<think>a", "b", False),  # <think> inside reasoning is text
    # Closing tag with no opening tag: what came before was reasoning.
    ("a</think>b", False, "a", "b", False),
    ("a\nb\n</think>\nc", False, "a\nb", "c", False),
    ("a" + BS_CLOSE + "b", False, "a", "b", False),
    ("<think>a" + BS_CLOSE + "b", False, "a", "b", False),
    ("x</think>y</think>z", False, "x", "y</think>z", False),
    # A closing tag with nothing before it: straight to the answer.
    ("</think>b", False, "", "b", False),
    (" \n " + BS_CLOSE + "\n b ", False, "", "b", False),
    # Unfinished reasoning.
    ("<think>a", False, "a", "", True),
    ("<think>a</thi", False, "a</thi", "", True),
    ("<think>", False, "", "", True),
    # <solution> wrapping.
    ("<think>a</think><solution>b</solution>", False, "a", "b", False),
    ("<think>a</think>\n\n<solution>\nb\n</solution>\n", False, "a", "b", False),
    ("<think>a</think><solution>b</solution> then </solution>", False, "a", "b then </solution>", False),
    ("<solution>b</solution>", False, "", "b", False),
    ("<solution>b", False, "", "b", False),
    ("<think>a</think>b</solution>", False, "a", "b", False),  # stray closing tag at the end
    ("<think>a</think>b</solution> \n", False, "a", "b", False),
    ("<think>a</think>b</solution> c", False, "a", "b</solution> c", False),
    ("b</solution>", False, "", "b", False),
    ("<think>a</think>b <solution>c</solution>", False, "a", "b <solution>c", False),
    # Tags quoted later in the answer stay text.
    ("<think>a</think>Use `<think>` and `</think>`.", False, "a", "Use `<think>` and `</think>`.", False),
    ("<think>a</think>```\n<think>x</think>\n```", False, "a", "```\n<think>x</think>\n```", False),
    (
        "<think>a</think>The tags <think>, </think> and <solution> wrap it.",
        False,
        "a",
        "The tags <think>, </think> and <solution> wrap it.",
        False,
    ),
    # No tags at all.
    ("hello world", False, "", "hello world", False),
    ("  \n hello \n", False, "", "hello", False),
    ("<thinking>x", False, "", "<thinking>x", False),
    ("<think", False, "", "<think", False),
    ("a</thi", False, "", "a</thi", False),
    ("a < b > c / d \\ e", False, "", "a < b > c / d \\ e", False),
    # Undecided answer quoting the closing tag in Markdown code: stays answer.
    ("Use:\n```\n</think>\n```\ndone", False, "", "Use:\n```\n</think>\n```\ndone", False),
    ("Write `</think>` here", False, "", "Write `</think>` here", False),
    ("Write ``a ` </think>`` here", False, "", "Write ``a ` </think>`` here", False),
    ("```\nsay ` </think>\n```", False, "", "```\nsay ` </think>\n```", False),  # ` inside a fence
    ("```py\nx\n```\nthought</think>ans", False, "```py\nx\n```\nthought", "ans", False),
    ("a ` b\nthought</think>ans", False, "a ` b\nthought", "ans", False),  # inline code ends at line end
    ("`q` thought</think>ans", False, "`q` thought", "ans", False),
    # Empty and whitespace-only streams.
    ("", False, "", "", False),
    (" \n\t ", False, "", "", False),
    ("<think></think>", False, "", "", False),
    ("<think>\n\n</think>\n\n", False, "", "", False),
    # Unicode around tags.
    ("<think>🙂 思考</think>答え 🙂", False, "🙂 思考", "答え 🙂", False),
    ("é🙂</think>中文", False, "é🙂", "中文", False),
    ("<think>🙂</think><solution>中</solution>", False, "🙂", "中", False),
]


@pytest.mark.parametrize(("stream", "prefilled", "reasoning", "answer", "unfinished"), CASES)
def test_split_table(stream, prefilled, reasoning, answer, unfinished):
    for chunks in ([stream], list(stream)):  # one chunk, and one character at a time
        parser, events = run(chunks, prefilled)
        assert split(parser) == (reasoning, answer, unfinished)
        check_replay(parser, events)


@pytest.mark.parametrize(("stream", "prefilled", "reasoning", "answer", "unfinished"), CASES)
def test_every_split_point(stream, prefilled, reasoning, answer, unfinished):
    for i in range(len(stream) + 1):
        for j in range(i, min(len(stream), i + 12) + 1):  # two cuts near each other: tags split twice
            parser, events = run([stream[:i], stream[i:j], stream[j:]], prefilled)
            assert split(parser) == (reasoning, answer, unfinished), (i, j)
            check_replay(parser, events)


def test_closing_without_opening_moves_the_answer():
    parser = ReasoningParser()
    assert parser.feed("I think") == [TextEvent("answer", "I think")]
    assert parser.feed(" so</th") == [TextEvent("answer", " so")]
    assert parser.feed("ink>\n") == [TextEvent("reasoning", "I think so", moves_answer=True)]
    assert parser.reasoning_closed and parser.saw_reasoning
    assert parser.feed("Yes") == [TextEvent("answer", "Yes")]
    assert parser.finish() == []
    assert split(parser) == ("I think so", "Yes", False)


def test_plain_answer_streams_live():
    parser = ReasoningParser()
    assert parser.feed("Hello") == [TextEvent("answer", "Hello")]
    assert parser.feed(" world <") == [TextEvent("answer", " world ")]  # only '<' is held
    assert parser.feed("b") == [TextEvent("answer", "<b")]
    assert not parser.in_reasoning and not parser.saw_reasoning
    parser.finish()
    assert split(parser) == ("", "Hello world <b", False)


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["<"], []),  # could be <think>
        (["<think>abc"], [TextEvent("reasoning", "abc")]),
        (["<think>a<so"], [TextEvent("reasoning", "a<so")]),  # <solution> means nothing there
        (["<think>a</th"], [TextEvent("reasoning", "a")]),
        (["<think>a</think>b"], [TextEvent("reasoning", "a"), TextEvent("answer", "b")]),
        (["<think>a</think><sol"], [TextEvent("reasoning", "a")]),
        (["<think>a</think>x<sol"], [TextEvent("reasoning", "a"), TextEvent("answer", "x<sol")]),
        (["<solution>ab</sol"], [TextEvent("answer", "ab")]),
        (["a<x"], [TextEvent("answer", "a<x")]),
        (["a<\\th"], [TextEvent("answer", "a")]),
    ],
)
def test_holds_back_only_a_possible_tag(chunks, expected):
    parser = ReasoningParser()
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    assert events == expected


def test_whitespace_is_not_emitted_before_text():
    parser = ReasoningParser()
    assert parser.feed("\n\n") == []
    assert parser.feed("<think>\n") == []
    assert parser.in_reasoning
    assert parser.feed("\n  ") == []
    assert parser.feed("step\n") == [TextEvent("reasoning", "step\n")]
    assert parser.feed("</think>\n\n") == []
    assert not parser.in_reasoning and parser.reasoning_closed
    assert parser.feed("  ") == []
    assert parser.feed("A ") == [TextEvent("answer", "A ")]
    assert parser.finish() == []
    assert split(parser) == ("step", "A", False)


def test_stray_solution_close_is_held_until_known():
    parser = ReasoningParser()
    parser.feed("<think>r</think>")
    assert parser.feed("b</solution>") == [TextEvent("answer", "b")]
    assert parser.feed("  ") == []
    assert parser.feed("more") == [TextEvent("answer", "</solution>  more")]
    parser.finish()
    assert parser.answer == "b</solution>  more"


def test_flags_and_live_state():
    parser = ReasoningParser(start_in_reasoning=True)
    assert parser.in_reasoning and parser.saw_reasoning and not parser.reasoning_closed
    parser.feed("x")
    parser.finish()
    assert parser.reasoning_unfinished and parser.in_reasoning

    parser = ReasoningParser()
    parser.feed("<think>x</think>y")
    assert not parser.in_reasoning and parser.reasoning_closed
    parser.finish()
    assert not parser.reasoning_unfinished and parser.saw_reasoning

    parser, _ = run(["just an answer"])
    assert not parser.saw_reasoning and not parser.reasoning_closed and not parser.reasoning_unfinished


def test_long_stream_keeps_every_piece():
    # 60k pieces, as in a long trace; speed per token is measured in bench/, not here.
    tokens = ["<think>"] + ["word `x` < y\n"] * 30_000 + ["</think>"] + ["answer `z` < w\n"] * 30_000
    for prefix in ([], ["undecided "]):  # undecided answers track code spans as they go
        parser = ReasoningParser()
        for token in prefix + tokens[1:]:
            parser.feed(token)
        parser.finish()
        assert parser.reasoning.endswith("< y") and parser.answer.endswith("< w")


# -- property test: any chunking gives the same result --------------------------------

ATOMS = [
    "<think>", "</think>", BS_CLOSE, "<solution>", "</solution>",
    "<", "/", "\\", ">", "t", "h", "i", "n", "k", "`", "```", " ", "\n", "é", "🙂", "a", "中",
]  # fmt: skip


@settings(deadline=None, max_examples=300)
@given(
    atoms=st.lists(st.sampled_from(ATOMS), max_size=40),
    prefilled=st.booleans(),
    data=st.data(),
)
def test_any_chunking_gives_the_same_split(atoms, prefilled, data):
    stream = "".join(atoms)
    whole, whole_events = run([stream], prefilled)
    check_replay(whole, whole_events)

    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    parser, events = run(chunks, prefilled)
    assert split(parser) == split(whole)
    assert (parser.saw_reasoning, parser.reasoning_closed) == (whole.saw_reasoning, whole.reasoning_closed)
    check_replay(parser, events)

    by_char, char_events = run(list(stream), prefilled)
    assert split(by_char) == split(whole)
    check_replay(by_char, char_events)
