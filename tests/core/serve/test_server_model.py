"""The local server with the real SmolLM2 model, through the official openai client."""

from __future__ import annotations

import http.client
import json

import openai
import pytest

from tests.core.serve.conftest import GRAMMAR, client

FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL = "SmolLM2-135M-Instruct.Q4_1"  # the file name without .gguf is answered to too
QUESTION = [{"role": "user", "content": "What is 2+2?"}]


def reasoning_of(obj) -> str | None:
    """reasoning_content, read the way a client that does not know the field would."""
    return (obj.model_extra or {}).get("reasoning_content", getattr(obj, "reasoning_content", None))


def test_models_lists_the_one_model(llama_server):
    models = client(llama_server).models.list().data
    assert [m.id for m in models] == [FILE]
    assert models[0].model_extra["context_length"] == 1024


def test_whole_reply_splits_thinking_from_answer(llama_server):
    reply = client(llama_server).chat.completions.create(
        model=FILE, messages=QUESTION, seed=1, extra_body={"grammar": GRAMMAR})
    message = reply.choices[0].message
    thinking = reasoning_of(message)
    assert thinking and "<think>" not in thinking and "</think>" not in thinking
    assert message.content and message.content[0].isupper() and message.content.endswith(".")
    assert "<" not in message.content
    assert reply.choices[0].finish_reason == "stop"
    usage = reply.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert 0 < usage.completion_tokens_details.reasoning_tokens < usage.completion_tokens


def test_stream_gives_the_same_reply_as_a_whole_one(llama_server):
    c = client(llama_server)
    args = dict(model=MODEL, messages=QUESTION, seed=3, extra_body={"grammar": GRAMMAR})
    whole = c.chat.completions.create(**args)
    chunks = list(c.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}))
    thinking = "".join(reasoning_of(ch.choices[0].delta) or "" for ch in chunks if ch.choices)
    answer = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert (thinking, answer) == (reasoning_of(whole.choices[0].message), whole.choices[0].message.content)
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(ch.usage is None for ch in chunks[:-1])


def test_reasoning_format_none_keeps_the_tags_in_the_content(llama_server):
    c = client(llama_server)
    args = dict(model=MODEL, messages=QUESTION, seed=3)
    parsed = c.chat.completions.create(**args, extra_body={"grammar": GRAMMAR}).choices[0].message
    raw = c.chat.completions.create(**args, extra_body={"grammar": GRAMMAR, "reasoning_format": "none"})
    message = raw.choices[0].message
    assert reasoning_of(message) is None
    assert message.content == f"<think>{reasoning_of(parsed)}</think>{parsed.content}"


def test_stop_string_ends_the_answer_before_it(llama_server):
    c = client(llama_server)
    args = dict(model=MODEL, messages=QUESTION, seed=3, extra_body={"grammar": GRAMMAR})
    full = c.chat.completions.create(**args)
    answer = full.choices[0].message.content
    stop = answer[3:5]  # two letters inside the answer, not found in it earlier
    assert answer.find(stop) == 3
    cut = c.chat.completions.create(**args, stop=[stop, "never appears"])
    assert cut.choices[0].message.content == answer[:3]
    assert cut.choices[0].finish_reason == "stop"
    assert reasoning_of(cut.choices[0].message) == reasoning_of(full.choices[0].message)  # thinking is not cut
    streamed = c.chat.completions.create(**args, stop=stop, stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in streamed if ch.choices) == answer[:3]


def test_same_seed_same_text(llama_server):
    c = client(llama_server)
    story = [{"role": "user", "content": "Tell me a story about a cat."}]
    seeded = dict(model=MODEL, messages=story, seed=11, temperature=1.0, max_tokens=60)
    texts = []
    # Whatever the model's cache holds before (another question, or this very one), the
    # same seed gives the same text: a seeded request reads its prompt afresh.
    for before in ([{"role": "user", "content": "Hi"}], None, None):
        if before:
            c.chat.completions.create(model=MODEL, messages=before, max_tokens=3)
        texts.append(c.chat.completions.create(**seeded).choices[0].message.content)
    assert texts[0] and texts[0] == texts[1] == texts[2]
    other = c.chat.completions.create(**{**seeded, "seed": 12}).choices[0].message.content
    assert other != texts[0]


def test_max_tokens_ends_with_length(llama_server):
    reply = client(llama_server).chat.completions.create(model=MODEL, messages=QUESTION,
                                                         max_tokens=2, seed=1)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 2


def test_unknown_model_is_404(llama_server):
    with pytest.raises(openai.NotFoundError) as caught:
        client(llama_server).chat.completions.create(model="gpt-4o", messages=QUESTION)
    error = caught.value.body
    assert error["code"] == "model_not_found" and "gpt-4o" in error["message"]


def test_too_long_for_the_context_is_400_with_the_numbers(llama_server):
    with pytest.raises(openai.BadRequestError) as caught:
        client(llama_server).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hello " * 2000}])
    error = caught.value.body
    assert error["code"] == "context_length_exceeded"
    assert error["context_size"] == 1024 and error["prompt_tokens"] > 1024 and error["reserved_tokens"] == 256
    assert f"{error['prompt_tokens']:,}" in error["message"] and "1,024" in error["message"]


def post_raw(server, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("body, field", [
    (b'{"messages": [', None),
    (b'[1, 2]', None),
    (b'{"messages": []}', "messages"),
    (b'{"messages": [{"role": "tool", "content": "x"}]}', "messages[0].role"),
    (b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', "messages[0].content"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', "temperature"),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stop": [""]}', "stop"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 2}', "n"),
    (b'{"messages": [{"role": "user", "content": "x"}], "reasoning_format": "xml"}', "reasoning_format"),
    (b'[' * 100_000 + b']' * 100_000, None),
])
def test_bad_requests_are_400_in_openai_shape(llama_server, body, field):
    status, data = post_raw(llama_server, body)
    assert status == 400
    assert set(data["error"]) >= {"message", "type", "param", "code"}
    assert data["error"]["type"] == "invalid_request_error" and data["error"]["param"] == field


def test_a_body_that_is_not_json_by_its_type_is_refused(llama_server):
    status, data = post_raw(llama_server, b"messages=hi", "application/x-www-form-urlencoded")
    assert status == 415 and "Content-Type: application/json" in data["error"]["message"]
