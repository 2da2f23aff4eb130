"""Reading streams: lines split anywhere, SSE events and comments, NDJSON, every parse bounded."""

from __future__ import annotations

import pytest

from app.core.remote.errors import StreamMalformed
from app.core.remote.protocols import ollama_piece, openai_piece
from app.core.remote.wire import DONE, LineSplitter, SSEDecoder, ndjson_payloads, sse_payloads


def split_everywhere(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def test_sse_events_survive_any_chunking():
    stream = (b": OPENROUTER PROCESSING\n\n"
              b'data: {"choices": [{"delta": {"reasoning": "hm"}}]}\r\n\r\n'
              b"event: ping\n\n"
              b'data: {"choices": [{"delta": {"content": "\xc3\xa9t\xc3\xa9"}}]}\n\n'
              b"data: [DONE]\n\n")
    expected = list(sse_payloads([stream], "s"))
    assert list(sse_payloads(split_everywhere(stream), "s")) == expected
    assert [openai_piece(p).reasoning or openai_piece(p).content for p in expected[:2]] == ["hm", "été"]
    assert expected[2] is DONE


def test_sse_joins_the_data_lines_of_one_event():
    decoder = SSEDecoder("s")
    assert decoder.feed('data: {"a":') is None and decoder.feed("data: 1}") is None
    assert decoder.feed("") == '{"a":\n1}'


def test_a_last_event_without_a_blank_line_still_counts():
    assert list(sse_payloads([b'data: {"x": 1}'], "s")) == [{"x": 1}]


def test_a_line_without_end_is_bounded():
    lines = LineSplitter("s", limit=100)
    lines.feed(b"x" * 100)
    with pytest.raises(StreamMalformed):
        lines.feed(b"x")


def test_an_sse_event_is_bounded_across_its_lines():
    decoder = SSEDecoder("s", limit=100)
    for _ in range(9):
        decoder.feed("data: " + "y" * 10)
    with pytest.raises(StreamMalformed):
        decoder.feed("data: " + "y" * 10)


def test_ndjson_lines_and_their_end():
    stream = (b'{"message": {"role": "assistant", "content": "", "thinking": "so"}, "done": false}\n'
              b'{"message": {"role": "assistant", "content": "4"}, "done": false}\n'
              b'{"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length", '
              b'"prompt_eval_count": 12, "prompt_eval_duration": 20000000, "eval_count": 30, '
              b'"eval_duration": 1000000000}\n')
    pieces = [ollama_piece(p) for p in ndjson_payloads(split_everywhere(stream), "o")]
    assert [p.reasoning for p in pieces] == ["so", "", ""] and [p.content for p in pieces] == ["", "4", ""]
    last = pieces[-1]
    assert last.done and last.finish == "length"
    assert last.usage == {"prompt_tokens": 12, "completion_tokens": 30}
    assert last.timings["predicted_per_second"] == 30.0 and last.timings["prompt_ms"] == 20.0


def test_a_chunk_with_both_reasoning_fields_counts_once():
    piece = openai_piece({"choices": [{"delta": {"reasoning": "x", "reasoning_content": "x"}}]})
    assert piece.reasoning == "x"


def test_odd_values_in_a_chunk_are_ignored_not_trusted():
    piece = openai_piece({"id": 5, "choices": [{"delta": {"content": ["not", "text"]}, "finish_reason": 3}],
                          "usage": {"prompt_tokens": -1, "completion_tokens": True},
                          "timings": {"predicted_per_second": "fast", "predicted_n": 9}})
    assert piece.content == "" and piece.finish is None and piece.completion_id is None
    assert piece.usage == {} and piece.timings == {"predicted_n": 9}
