"""The saved-state folder on its own: keys, damage, crashes, the disk budget (no model here;
tests/core/test_engine_states.py loads real states into the real SmolLM2)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import saved_states
from app.core.saved_states import MIN_TOKENS, StateKey, StateStore, common_prefix

KEY = StateKey("/models/m.gguf", 1000, 5, 2048, "f16", "None", "3/0.3.36")


def tokens(n: int, start: int = 0) -> list[int]:
    return list(range(start, start + n))


def writer(size: int, fill: bytes = b"s"):
    def write(path: Path) -> bool:
        path.write_bytes(fill * size)
        return True
    return write


def save(store: StateStore, toks, size: int = 1000, key: StateKey = KEY, fill: bytes = b"s") -> bool:
    return store.save(key, toks, size, writer(size, fill))


@pytest.fixture
def store(tmp_path) -> StateStore:
    return StateStore(tmp_path / "states", budget_bytes=10_000)


def entries(store: StateStore) -> list[str]:
    if not store.root.exists():
        return []
    return sorted(p.name for p in store.root.iterdir() if p.name != "rates.json")


def test_finds_the_state_sharing_the_most_leading_tokens(store):
    a = tokens(400)
    b = tokens(300) + tokens(200, start=9000)
    assert save(store, a) and save(store, b)
    prompt = tokens(350) + [77]
    found = store.find(KEY, prompt)
    assert found.tokens == tuple(a) and found.common == 350
    found = store.find(KEY, tokens(300) + tokens(100, start=9000))
    assert found.tokens == tuple(b) and found.common == 400
    assert store.find(KEY, [5] + tokens(400)) is None  # nothing shared from the start
    assert store.find(KEY, prompt, min_common=351) is None


@pytest.mark.parametrize("field, value", [
    ("model_path", "/models/other.gguf"), ("model_size", 1001), ("model_mtime_ns", 6), ("n_ctx", 4096),
    ("cache_type", "q8_0"), ("flash_attn", "True"), ("runtime", "4/0.3.37"),
])
def test_each_part_of_the_key_tells_states_apart(store, field, value):
    assert save(store, tokens(400))
    other = dataclasses.replace(KEY, **{field: value})
    assert store.find(other, tokens(400)) is None
    assert store.find(KEY, tokens(400)) is not None


def test_a_damaged_state_fails_verification_and_is_deleted(store):
    assert save(store, tokens(400))
    found = store.find(KEY, tokens(400))
    data = bytearray(found.path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, mid-file: same size
    found.path.write_bytes(bytes(data))
    assert not store.verify(found)
    assert entries(store) == []


def test_a_truncated_state_is_a_miss_and_is_deleted(store):
    assert save(store, tokens(400))
    found = store.find(KEY, tokens(400))
    with open(found.path, "r+b") as f:
        f.truncate(found.size // 2)
    assert store.find(KEY, tokens(400)) is None
    assert entries(store) == []


@pytest.mark.parametrize("damage", [
    lambda meta: b"{not json",
    lambda meta: json.dumps({**json.loads(meta), "n_tokens": 3}).encode(),
    lambda meta: json.dumps({**json.loads(meta), "tokens": "!!!"}).encode(),
    lambda meta: json.dumps({**json.loads(meta), "crc": "x"}).encode(),
    lambda meta: json.dumps({**json.loads(meta), "format": 99}).encode(),
    lambda meta: json.dumps([1, 2]).encode(),
    lambda meta: b" " * (saved_states.MAX_META_BYTES + 1),
])
def test_a_damaged_description_is_a_miss_and_both_files_go(store, damage):
    assert save(store, tokens(400))
    found = store.find(KEY, tokens(400))
    found.meta_path.write_bytes(damage(found.meta_path.read_bytes()))
    assert store.find(KEY, tokens(400)) is None
    assert entries(store) == []


def test_a_write_that_fails_leaves_nothing(store):
    def failing(path: Path) -> bool:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    assert not store.save(KEY, tokens(400), 1000, failing)
    assert not store.save(KEY, tokens(400), 1000, lambda path: path.write_bytes(b"x") and False)
    assert entries(store) == []


def test_a_crash_between_the_state_and_its_description_never_loads(store, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(saved_states, "write_atomic", crash)
    assert not save(store, tokens(400))
    monkeypatch.undo()
    assert store.find(KEY, tokens(400)) is None
    assert entries(store) == []


def test_leftovers_of_a_killed_save_are_swept_and_never_loaded(tmp_path):
    root = tmp_path / "states"
    store = StateStore(root, budget_bytes=10_000)
    assert save(store, tokens(400))
    # What a process killed mid-save leaves: its temporary file, or a state renamed into
    # place whose description was never written.
    tmp = root / f"tmp-1-{KEY.digest}-dead.state"
    orphan = root / f"{KEY.digest}-orphan.state"
    for path in (tmp, orphan):
        path.write_bytes(b"o" * 500)
    assert StateStore(root).find(KEY, tokens(400)).path != orphan
    old = time.time() - saved_states.ORPHAN_SECONDS - 10
    for path in (tmp, orphan):
        os.utime(path, (old, old))
    StateStore(root)
    assert not tmp.exists() and not orphan.exists()
    assert len(entries(store)) == 2  # the whole entry stays


def test_no_room_on_the_disk_saves_nothing(store, monkeypatch):
    free = saved_states.DISK_HEADROOM + 500
    monkeypatch.setattr(saved_states.shutil, "disk_usage", lambda path: SimpleNamespace(free=free))
    assert not save(store, tokens(400), size=1000)
    assert entries(store) == []


def test_least_recently_used_states_go_first(store):
    store.budget_bytes = 3000
    lists = [tokens(300, start=i * 1000) for i in range(3)]
    for i, toks in enumerate(lists):
        assert save(store, toks)
        meta = store.find(KEY, toks).meta_path
        os.utime(meta, (1000 + i, 1000 + i))  # saved in this order, a second apart
    store.used(store.find(KEY, lists[0]))  # the oldest is used again
    assert save(store, tokens(300, start=50_000))
    assert store.find(KEY, lists[0]) is not None
    assert store.find(KEY, lists[1]) is None  # least recently used
    assert store.find(KEY, lists[2]) is not None
    assert store.usage_bytes() == 3000


def test_a_longer_state_replaces_those_it_extends(store):
    assert save(store, tokens(300))
    assert save(store, tokens(300) + [1, 2])  # same conversation, one more turn
    assert save(store, tokens(280) + [7] * 30)  # a regenerated reply: not an extension
    assert len(entries(store)) == 4
    assert store.find(KEY, tokens(302)).tokens == tuple(tokens(300) + [1, 2])


def test_limits(store):
    assert not save(store, tokens(MIN_TOKENS - 1))  # too short to be worth a file
    assert not save(store, tokens(400), size=store.budget_bytes + 1)  # larger than the budget
    store.budget_bytes = 0  # off
    assert not save(store, tokens(400))
    assert store.find(KEY, tokens(400)) is None
    assert entries(store) == []


def test_clear_frees_everything(store):
    assert save(store, tokens(300)) and save(store, tokens(300, start=5000), size=700)
    assert store.usage_bytes() == 1700
    assert store.clear() == 1700
    assert entries(store) == [] and store.usage_bytes() == 0


def test_speeds_are_remembered_across_runs(tmp_path):
    store = StateStore(tmp_path)
    assert store.rate("m/41/1", "read_tps") is None
    store.record_rate("m/41/1", "read_tps", 4800.0)
    store.record_rate("m/41/1", "load_bps", 0.0)  # not a speed: ignored
    again = StateStore(tmp_path)
    assert again.rate("m/41/1", "read_tps") == 4800.0
    assert again.rate("m/41/1", "load_bps") is None
    (tmp_path / "rates.json").write_text("[broken")
    assert StateStore(tmp_path).rate("m/41/1", "read_tps") is None


@given(st.lists(st.integers(0, 3), max_size=40), st.lists(st.integers(0, 3), max_size=40))
def test_common_prefix_matches_a_plain_loop(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    assert common_prefix(saved_states._tokens_bytes(a), saved_states._tokens_bytes(b)) // 4 == n


def test_states_are_readable_by_this_user_only(store):
    assert save(store, tokens(400))
    found = store.find(KEY, tokens(400))
    for path in (found.path, found.meta_path):
        assert path.stat().st_mode & 0o077 == 0


def test_trim_frees_down_to_a_lowered_budget_oldest_first(store):
    lists = [tokens(300, start=i * 1000) for i in range(3)]
    for i, toks in enumerate(lists):
        assert save(store, toks)
        meta = store.find(KEY, toks).meta_path
        os.utime(meta, (1000 + i, 1000 + i))
    store.budget_bytes = 2000
    assert store.trim() == 1000
    assert store.find(KEY, lists[0]) is None and store.find(KEY, lists[2]) is not None
    store.budget_bytes = 0
    assert store.trim() == 2000 and store.usage_bytes() == 0
