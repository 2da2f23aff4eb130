"""Request bodies into messages and settings, and engine events into OpenAI's fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT
from app.core.serve.chat_request import parse_body, parse_chat_request
from app.core.serve.errors import ApiError
from app.core.serve.reply import ReplyShaper, StopMatcher
from app.core.types import GenParams, Message, Stats, StatsEvent, TextEvent

SERVED = ("model.gguf", "model")


def parse(**fields):
    return parse_chat_request({"messages": [{"role": "user", "content": "hi"}], **fields}, SERVED)


def test_no_system_message_gets_phi4_reasoning_s_own():
    req = parse()
    assert req.messages == [Message("system", PHI4_REASONING_SYSTEM_PROMPT), Message("user", "hi")]


def test_system_and_developer_messages_replace_it_and_go_first():
    req = parse(messages=[{"role": "user", "content": "a"}, {"role": "developer", "content": "Be brief."},
                          {"role": "assistant", "content": "<think>secret</think>Answer A."},
                          {"role": "assistant", "content": None},
                          {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}]}])
    # Earlier thinking is left out and an empty reply dropped, as the window's prompt rule does.
    assert req.messages == [Message("system", "Be brief."), Message("user", "a"), Message("assistant", "Answer A."),
                            Message("user", "bc")]


def test_an_empty_system_message_means_none():
    req = parse(messages=[{"role": "system", "content": ""}, {"role": "user", "content": "hi"}])
    assert req.messages == [Message("user", "hi")]


def test_sampling_fields_and_defaults():
    assert parse().params == GenParams()
    req = parse(max_tokens=64, temperature=0, top_p=0.5, top_k=7, min_p=0.1, seed=-1, grammar="root ::= \"x\"",
                stream=True, stream_options={"include_usage": True}, stop="END", reasoning_format="none")
    p = req.params
    assert (p.max_tokens, p.temperature, p.top_p, p.top_k, p.min_p, p.seed, p.grammar) == (
        64, 0.0, 0.5, 7, 0.1, -1, 'root ::= "x"')
    assert req.stream and req.include_usage and req.raw_reasoning and req.stops == ("END",)
    assert parse(max_tokens=10, max_completion_tokens=20).params.max_tokens == 20


def test_a_seeded_request_reads_its_prompt_afresh_unless_told_to_use_the_cache():
    assert not parse().fresh_prompt and parse(seed=3).fresh_prompt
    assert not parse(seed=3, cache_prompt=True).fresh_prompt and parse(cache_prompt=False).fresh_prompt


def test_the_model_field():
    assert parse().model == "model.gguf"  # left out: the one model
    assert parse(model="model").model == "model.gguf"
    with pytest.raises(ApiError) as caught:
        parse(model="other")
    assert caught.value.status == 404 and caught.value.code == "model_not_found"


@pytest.mark.parametrize("fields", [
    {"temperature": True}, {"temperature": float("nan")}, {"temperature": 3}, {"top_p": -0.1},
    {"max_tokens": 1.5}, {"max_tokens": -1}, {"seed": "1"}, {"stop": ["a"] * 17}, {"stop": "x" * 1001},
    {"tools": [{"type": "function"}]}, {"logprobs": True}, {"response_format": {"type": "json_object"}},
    {"stream_options": []}, {"grammar": 5}, {"messages": [{"role": "user"}]}, {"messages": ["hi"]},
    {"messages": [{"role": "user", "content": "x"}] * 5000},
])
def test_bad_fields_are_400(fields):
    with pytest.raises(ApiError) as caught:
        parse(**fields)
    assert caught.value.status == 400 and caught.value.body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("raw", [b"", b"{", b"null", b'"text"', b"[" * 50_000 + b"]" * 50_000])
def test_a_body_that_is_not_a_json_object_is_400(raw):
    with pytest.raises(ApiError) as caught:
        parse_body(raw)
    assert caught.value.status == 400


@pytest.mark.parametrize("pieces, stops, out, matched", [
    (["Hello wor", "ld"], ("world",), "Hello ", True),
    (["ab", "c", "d"], ("cd",), "ab", True),
    (["abc"], ("x",), "abc", False),
    (["a", "b", "c"], ("bd",), "abc", False),  # a partial match that fails is let out
    (["one END two"], ("END", "one"), "", True),  # the first in the text wins, whichever stop it is
    (["xx<", "/s", ">"], ("</s>",), "xx", True),
])
def test_stop_matcher(pieces, stops, out, matched):
    m = StopMatcher(stops)
    text = "".join(m.feed(p) for p in pieces)
    if not m.matched:
        text += m.flush()
    assert (text, m.matched) == (out, matched)


@given(st.text(alphabet="abc", max_size=40), st.text(alphabet="abc", min_size=1, max_size=4),
       st.lists(st.integers(1, 6), max_size=20))
def test_stop_matcher_finds_what_a_search_of_the_whole_text_finds(text, stop, cuts):
    pieces, pos = [], 0
    for n in cuts:
        pieces.append(text[pos:pos + n])
        pos += n
    pieces.append(text[pos:])
    m = StopMatcher((stop,))
    got = "".join(m.feed(p) for p in pieces)
    if not m.matched:
        got += m.flush()
    expected = text[: text.find(stop)] if stop in text else text
    assert (got, m.matched) == (expected, stop in text)


def stats(finish="stop"):
    return StatsEvent(Stats(10, 10, 5, 2, 0.1, 0.1, 0.0, 50.0, finish))


def test_shaper_separates_thinking_and_cuts_at_a_stop():
    s = ReplyShaper(stops=("STOP",))
    out = []
    for ev in [TextEvent("reasoning", "hmm STOP"), TextEvent("answer", "Yes, ST"), TextEvent("answer", "OP no"),
               stats("cancelled")]:
        out += s.feed(ev)
    out += s.finish()
    assert out == [("reasoning_content", "hmm STOP"), ("content", "Yes, ")]
    assert s.stopped and s.finish_reason() == "stop"


def test_shaper_raw_puts_the_tags_around_the_thinking():
    s = ReplyShaper(raw=True)
    out = [d for ev in [TextEvent("reasoning", "a"), TextEvent("reasoning", "b"), TextEvent("answer", "C.")]
           for d in s.feed(ev)]
    assert "".join(t for _, t in out) == "<think>ab</think>C." and {f for f, _ in out} == {"content"}


def test_shaper_a_closing_tag_without_an_opening_one():
    s = ReplyShaper()
    streamed = [d for ev in [TextEvent("answer", "was thinking"), TextEvent("reasoning", "was thinking",
                                                                            moves_answer=True),
                             TextEvent("answer", "Answer.")] for d in s.feed(ev)]
    # A stream cannot take back what it sent; the whole reply puts it where it belongs.
    assert streamed == [("content", "was thinking"), ("content", "Answer.")]
    assert ("".join(s.reasoning), "".join(s.content)) == ("was thinking", "Answer.")
    raw = ReplyShaper(raw=True)
    text = "".join(t for ev in [TextEvent("answer", "x"), TextEvent("reasoning", "x", moves_answer=True),
                                TextEvent("answer", "Y.")] for _, t in raw.feed(ev))
    assert text == "x</think>Y."  # what the model wrote
