"""Bad model files give clear errors; a tiny phi3-architecture model loads and streams."""

from __future__ import annotations

import pytest

from app.core.engine import LlamaEngine, LoadParams
from app.core.errors import AppError, CorruptModel, ModelMissing, NotAGGUF, UnsupportedArchitecture
from app.core.model_file import inspect_model_file
from app.core.prompt import render_builtin
from app.core.types import GenParams, Message
from tests import model_files


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda d, s: model_files.make_empty(d / "empty.gguf"), NotAGGUF, "empty"),
        (lambda d, s: model_files.make_random_bytes(d / "noise.gguf"), NotAGGUF, "not a GGUF"),
        (lambda d, s: model_files.make_truncated_copy(s, d / "half.gguf"), CorruptModel, "incomplete"),
        (lambda d, s: model_files.make_truncated_copy(s, d / "head.gguf", 0.001), CorruptModel, "incomplete"),
        (lambda d, s: model_files.make_unknown_arch(d / "alien.gguf"), UnsupportedArchitecture, "quantumfoo"),
        (lambda d, s: d / "missing.gguf", ModelMissing, "does not exist"),
        (lambda d, s: d, ModelMissing, "folder"),
    ],
    ids=["empty", "random-bytes", "truncated", "truncated-header", "unknown-arch", "missing", "folder"],
)
def test_bad_files_give_clear_errors(tmp_path, smollm2, make, error, words):
    path = make(tmp_path, smollm2)
    with pytest.raises(error) as info:
        LlamaEngine(path, LoadParams(n_ctx=512))
    message = info.value.user_message
    assert words in message
    assert "Traceback" not in message and "\n" not in message
    assert isinstance(info.value, AppError)


def test_inspect_reads_metadata_without_loading(smollm2):
    info = inspect_model_file(smollm2)
    assert info.architecture == "llama" and info.block_count == 30
    assert info.context_length == 8192 and info.has_chat_template
    assert info.size_bytes == smollm2.stat().st_size


def test_tiny_phi3_loads_and_streams_with_builtin_format(tiny_phi3):
    info = inspect_model_file(tiny_phi3)
    assert info.architecture == "phi3" and not info.has_chat_template
    messages = [Message("user", "Hello")]
    with LlamaEngine(tiny_phi3, LoadParams(n_ctx=512)) as engine:
        assert engine.n_layers == 2
        rendered = engine.render(messages)
        assert rendered.template == "builtin" and rendered.text == render_builtin(messages)
        events = list(engine.stream(messages, GenParams(max_tokens=8, seed=1, reply_reserve=8)))
    stats = events[-1].stats
    assert stats.generated_tokens + (stats.finish_reason == "stop") >= 1
    assert stats.finish_reason in ("stop", "length") and stats.template == "builtin"


def test_closed_engine_refuses_politely(smollm2):
    engine = LlamaEngine(smollm2, LoadParams(n_ctx=512))
    engine.close()
    engine.close()  # twice is fine
    with pytest.raises(AppError, match="unloaded"):
        engine.stream([Message("user", "hi")])


def test_an_unchanged_file_is_parsed_once_and_a_changed_one_again(tmp_path, smollm2, monkeypatch):
    import shutil

    from app.core import model_file

    copy = shutil.copy(smollm2, tmp_path / "m.gguf")
    parses = []
    real = model_file.read_header
    monkeypatch.setattr(model_file, "read_header", lambda *a, **k: parses.append(1) or real(*a, **k))
    first = inspect_model_file(copy)
    assert inspect_model_file(copy) == first and len(parses) == 1
    with open(copy, "r+b") as fh:  # cut it short: a different file now
        fh.truncate(first.size_bytes // 2)
    with pytest.raises(CorruptModel):
        inspect_model_file(copy)
    assert len(parses) == 2
