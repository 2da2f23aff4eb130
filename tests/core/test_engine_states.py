"""Saved context states on the real SmolLM2: what a restart, a thread switch, a changed key
or a damaged file do to the tokens read, and that a restored prompt answers exactly as a
read one does (greedy decoding)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.core.engine import LlamaEngine, LoadParams
from app.core.saved_states import StateStore, file_crc
from app.core.types import GenParams, Message

GREEDY = GenParams(max_tokens=8, temperature=0.0, seed=1)


def document(topic: str, lines: int = 24) -> str:
    return "\n".join(f"{topic} note {i}: the {topic} shipment {i * 7} left dock {i % 9}." for i in range(lines))


def thread(topic: str) -> list[Message]:
    return [Message("system", "Answer briefly."), Message("user", document(topic) + "\nWhich dock did note 3 leave?")]


def follow_up(messages: list[Message], reply: str, question: str = "And note 5?") -> list[Message]:
    return [*messages, Message("assistant", reply), Message("user", question)]


def run(engine: LlamaEngine, messages: list[Message]):
    events = list(engine.stream(messages, GREEDY))
    stats = events[-1].stats
    text = "".join(e.text for e in events if e.kind in ("answer", "reasoning"))
    return text, stats


@pytest.fixture
def model(smollm2, tmp_path) -> Path:
    # A copy per test: one test changes the file's modification time.
    copy = tmp_path / "model.gguf"
    copy.write_bytes(smollm2.read_bytes())
    return copy


def open_engine(model: Path, store: StateStore | None, **kw) -> LlamaEngine:
    params = dict(n_ctx=2048, n_batch=256, states=store) | kw
    return LlamaEngine(model, LoadParams(**params))


@pytest.fixture
def store(tmp_path) -> StateStore:
    return StateStore(tmp_path / "states")


def test_a_restarted_engine_reads_only_what_is_new_and_answers_the_same(model, store):
    first = thread("apple")
    with open_engine(model, store) as engine:
        reply, stats = run(engine, first)
        assert stats.restored_prompt_tokens == 0 and stats.evaluated_prompt_tokens == stats.prompt_tokens
    assert store.usage_bytes() > 0  # closing kept the state
    second = follow_up(first, reply)
    with open_engine(model, store) as engine:
        restored_text, stats = run(engine, second)
        first_tokens = engine.count_prompt_tokens(first)
    assert stats.restored_prompt_tokens > 0
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens - stats.restored_prompt_tokens
    assert stats.restored_prompt_tokens >= first_tokens - 8  # up to the first reply
    with open_engine(model, None) as engine:
        read_text, plain = run(engine, second)
    assert plain.evaluated_prompt_tokens == plain.prompt_tokens
    assert restored_text == read_text


@pytest.mark.parametrize("change", ["n_ctx", "cache", "model file"])
def test_a_state_saved_under_other_settings_is_a_miss(model, store, change):
    with open_engine(model, store) as engine:
        run(engine, thread("pear"))
    kw = {}
    if change == "n_ctx":
        kw = {"n_ctx": 4096}
    elif change == "cache":
        kw = {"kv_cache_type": "q8_0"}
    else:
        st = model.stat()
        os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with open_engine(model, store, **kw) as engine:
        _, stats = run(engine, thread("pear"))
    assert stats.restored_prompt_tokens == 0
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens


def test_a_q8_0_cache_saves_and_restores_too(model, store):
    with open_engine(model, store, kv_cache_type="q8_0") as engine:
        run(engine, thread("plum"))
    with open_engine(model, store, kv_cache_type="q8_0") as engine:
        _, stats = run(engine, thread("plum"))
    assert stats.restored_prompt_tokens == stats.prompt_tokens - 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "other state"])
def test_a_damaged_state_is_read_again_and_deleted(model, store, damage, tmp_path):
    with open_engine(model, store) as engine:
        reply, _ = run(engine, thread("fig"))
    saved = next(store.root.glob("*.state"))
    if damage == "flip":
        data = bytearray(saved.read_bytes())
        data[len(data) // 2] ^= 0xFF
        saved.write_bytes(bytes(data))
    elif damage == "truncate":
        with open(saved, "r+b") as f:
            f.truncate(saved.stat().st_size - 100)
    else:
        # A whole, valid llama.cpp state, but of other tokens than its description says: the
        # load hands back tokens that do not match, so it is not used.
        other_store = StateStore(tmp_path / "other")
        with open_engine(model, other_store) as engine:
            run(engine, thread("kiwi"))
        other = next(other_store.root.glob("*.state"))
        description = json.loads(saved.with_suffix(".json").read_text())
        description["size"] = other.stat().st_size
        description["crc"] = file_crc(other)[0]
        saved.write_bytes(other.read_bytes())
        saved.with_suffix(".json").write_text(json.dumps(description))
    with open_engine(model, store) as engine:
        text, stats = run(engine, follow_up(thread("fig"), reply))
    assert stats.restored_prompt_tokens == 0
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens
    assert not saved.exists()
    with open_engine(model, None) as engine:
        expected, _ = run(engine, follow_up(thread("fig"), reply))
    assert text == expected


def test_switching_threads_restores_each_one(model, store):
    with open_engine(model, store) as engine:
        a_reply, _ = run(engine, thread("lime"))
        _, b_stats = run(engine, thread("date"))  # another thread takes the context
        assert b_stats.restored_prompt_tokens == 0
        _, a_stats = run(engine, follow_up(thread("lime"), a_reply))
        assert a_stats.restored_prompt_tokens > 0
        assert a_stats.evaluated_prompt_tokens == a_stats.prompt_tokens - a_stats.restored_prompt_tokens


def test_an_earlier_point_of_a_longer_state_is_restored_exactly(model, store):
    """Regenerating the first reply after a follow-up: the saved state holds more than the
    prompt shares with it, and its tail is dropped after loading."""
    first = thread("yam")
    with open_engine(model, store) as engine:
        reply, _ = run(engine, first)
        run(engine, follow_up(first, reply))
    with open_engine(model, store) as engine:
        text, stats = run(engine, first)
    assert stats.restored_prompt_tokens == stats.prompt_tokens - 1
    with open_engine(model, None) as engine:
        expected, _ = run(engine, first)
    assert text == expected


def test_a_state_is_not_loaded_where_reading_is_faster(model, store):
    with open_engine(model, store) as engine:
        run(engine, thread("nut"))
        name = engine._keeper.speed_name
    store.record_rate(name, "read_tps", 1e9)  # reading costs nothing...
    store.record_rate(name, "load_bps", 1.0)  # ...and loading a byte a second
    with open_engine(model, store) as engine:
        _, stats = run(engine, thread("nut"))
    assert stats.restored_prompt_tokens == 0
    assert stats.evaluated_prompt_tokens == stats.prompt_tokens


def test_no_state_is_saved_where_reading_is_faster(model, store):
    with open_engine(model, store) as engine:
        name = engine._keeper.speed_name
    store.record_rate(name, "read_tps", 1e9)
    store.record_rate(name, "load_bps", 1.0)
    with open_engine(model, store) as engine:
        run(engine, thread("elm"))
        assert engine.keep_state() is False
    assert store.usage_bytes() == 0


def test_without_a_store_nothing_is_written(model, tmp_path):
    with open_engine(model, None) as engine:
        run(engine, thread("oak"))
        assert engine.keep_state() is False
    assert not (tmp_path / "states").exists()
