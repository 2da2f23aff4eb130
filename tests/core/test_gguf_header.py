"""Model file headers are read with bounds: hostile counts are refused before any reading."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from app.core import gguf_header
from app.core.errors import CorruptModel
from app.core.gguf_header import LongArray, read_header
from app.core.gguf_info import read_layout
from app.core.model_file import inspect_model_file
from tests import model_files as mf
from tests.model_files import kv_array_start, kv_string, kv_u32, tensor_info, write_raw_gguf

ROOT = Path(__file__).resolve().parents[2]
# A child that reads a hostile header gets 1 GB of address space: reading without bounds
# dies of MemoryError there instead of taking the machine's memory.
LIMITED = "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "


def run_limited(code: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PONDER_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", LIMITED + code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_models_info_refuses_a_header_declaring_2_61_items(tmp_path, app_home):
    path = mf.make_huge_array_header(tmp_path / "huge.gguf")
    assert path.stat().st_size == 118
    code = f"sys.argv = ['app', 'models', 'info', {str(path)!r}]; runpy.run_module('app', run_name='__main__')"
    done = run_limited(code, app_home)
    assert done.returncode == 1, done.stderr
    assert "huge.gguf is damaged" in done.stderr and "not a valid model file" in done.stderr
    assert "2,305,843,009,213,693,952 items" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_million_metadata_strings_read_in_little_memory(tmp_path, app_home):
    path = mf.make_many_strings(tmp_path / "vocab.gguf", 1_000_000)
    code = (f"from app.core.model_file import open_model_file; info, h = open_model_file({str(path)!r}); "
            f"print(info.architecture, h.array_len('tokenizer.ggml.tokens'))")
    done = run_limited(code, app_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["llama", "1000000"]


ARCH = kv_string("general.architecture", "llama")


@pytest.mark.parametrize(
    "parts, words",
    [
        ({"kvs": [ARCH, kv_array_start("x", 6, 10**9)]}, "declares 1,000,000,000 items for 'x'"),
        ({"kvs": [ARCH, kv_array_start("x", 8, 2) + mf.gguf_string("a") + struct.pack("<Q", 100)]},
         "ends inside the array 'x'"),
        ({"kvs": [ARCH, mf.gguf_string("k") + struct.pack("<IQ", 8, 2**40) + b"abc"]}, "1,099,511,627,776-byte"),
        ({"kvs": [ARCH], "n_kv": 2**40}, "1,099,511,627,776 metadata keys"),
        ({"kvs": [ARCH], "n_kv": 1000}, "more than the file holds"),
        ({"kvs": [ARCH], "n_tensors": 2**32}, "4,294,967,296 tensors"),
        ({"kvs": [ARCH, kv_array_start("x", 9, 1) + struct.pack("<IQ", 0, 0)]}, "nests arrays"),
        ({"kvs": [ARCH, kv_string("general.architecture", "x")]}, "twice"),
        ({"kvs": [ARCH, mf.gguf_string("k") + struct.pack("<II", 13, 0)]}, "unknown value type"),
        ({"kvs": [ARCH, mf.gguf_string("") + struct.pack("<II", 4, 0)]}, "empty metadata key"),
        ({"kvs": [ARCH], "tensors": [tensor_info("t" * 64, (32,))]}, "64-byte tensor name"),
        ({"kvs": [ARCH], "tensors": [tensor_info("t", (1, 1, 1, 1, 1))]}, "5 dimensions"),
        ({"kvs": [ARCH], "tensors": [tensor_info("t", (2**40, 2**40))]}, "impossible shape"),
        ({"kvs": [ARCH], "tensors": [tensor_info("t", (32,), ggml_type=999)]}, "unknown type"),
        ({"kvs": [ARCH], "tensors": [tensor_info("t", (32,)), tensor_info("t", (32,))]}, "'t' twice"),
        ({"kvs": [ARCH, kv_u32("general.alignment", 48)]}, "not a power of two"),
        ({"kvs": [ARCH], "version": 1}, "version 1"),
    ],
    ids=["array-count", "strings-past-end", "string-length", "kv-count", "kv-count-vs-size", "tensor-count",
         "nested-array", "duplicate-key", "value-type", "empty-key", "tensor-name", "tensor-dims",
         "tensor-shape", "tensor-type", "duplicate-tensor", "alignment", "version"],
)
def test_impossible_headers_are_refused_with_the_reason(tmp_path, parts, words):
    path = write_raw_gguf(tmp_path / "bad.gguf", **parts)
    with pytest.raises(CorruptModel) as info:
        inspect_model_file(path)
    message = info.value.user_message
    assert message.startswith("bad.gguf is damaged") and "not a valid model file" in message
    assert words in message and "\n" not in message


def test_a_header_over_the_size_ceiling_is_refused(smollm2, monkeypatch):
    monkeypatch.setattr(gguf_header, "MAX_HEADER_BYTES", 1 << 20)  # SmolLM2's header is 1.7 MB
    with pytest.raises(gguf_header.HeaderError, match="over 1 MB"):
        read_header(smollm2)


def test_a_header_over_the_time_budget_is_refused(tmp_path, monkeypatch):
    path = mf.make_many_strings(tmp_path / "vocab.gguf", 10_000)
    monkeypatch.setattr(gguf_header, "READ_SECONDS", -1.0)
    with pytest.raises(CorruptModel, match="took too long to read"):
        inspect_model_file(path)


@pytest.mark.parametrize("model", ["smollm2", "tiny_phi3"])
def test_real_models_read_the_same_as_the_gguf_package(model, request):
    path = request.getfixturevalue(model)
    ours, theirs = read_header(path), gguf.GGUFReader(path)
    assert ours.data_offset == theirs.data_offset
    assert [(t.name, t.n_bytes, t.data_offset) for t in ours.tensors] == [
        (t.name, int(t.n_bytes), int(t.data_offset)) for t in theirs.tensors
    ]
    for key, field in theirs.fields.items():
        if key.startswith("GGUF."):
            continue
        value = ours.fields[key]
        if isinstance(value, LongArray):
            assert value.count == len(field.data) > gguf_header.KEEP_ITEMS
        else:
            assert value == field.contents(), key
    assert ours.array_len("tokenizer.ggml.tokens") == 49152


def test_strings_are_kept_as_written_and_wrong_types_ignored(tmp_path):
    name = "<b>Bold</b> & <script>x</script>"
    path = write_raw_gguf(tmp_path / "odd.gguf", [
        ARCH, kv_string("general.name", name), kv_string("llama.block_count", "many"),
        kv_string("llama.embedding_length", "wide"),
        mf.gguf_string("llama.context_length") + struct.pack("<IQ", 10, 1 << 62),
    ])
    info = inspect_model_file(path)
    assert info.name == name and info.architecture == "llama"
    assert info.block_count is None and info.context_length == 1 << 62
    layout = read_layout(path)
    assert layout.name == name and layout.block_count == 0 and layout.n_embd == 0


def test_an_unknown_architecture_is_named_on_one_short_line(tmp_path):
    from app.core.errors import UnsupportedArchitecture
    from app.core.local_models import check_model_file

    arch = "<i>evil</i>\nline two " + "x" * 10_000
    path = write_raw_gguf(tmp_path / "alien.gguf", [kv_string("general.architecture", arch)])
    assert inspect_model_file(path).architecture == arch  # the data itself is kept as written
    with pytest.raises(UnsupportedArchitecture) as info:
        check_model_file(path)
    message = info.value.user_message
    assert "'<i>evil</i> line two xxx" in message and "\n" not in message and len(message) < 200


def test_models_info_prints_names_from_the_file_without_control_codes(tmp_path, app_home):
    name = "Nice\x1b]0;owned\x07 <b>model</b>\r\nfake line"
    path = write_raw_gguf(tmp_path / "odd.gguf", [ARCH, kv_string("general.name", name)])
    code = f"sys.argv = ['app', 'models', 'info', {str(path)!r}]; runpy.run_module('app', run_name='__main__')"
    done = run_limited(code, app_home)
    assert done.returncode == 0, done.stderr
    assert "name           Nice ]0;owned  <b>model</b>  fake line\n" in done.stdout
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
