"""A model's shape and the bytes of each layer, read from the GGUF without loading weights.

The fit estimate needs what llama.cpp will put on each device: the tensors of every
block, the output layer, and the sizes that set the KV cache (blocks, KV heads, head
dims). The gguf package reads all of it from the header; the weights stay on disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.core.model_file import open_model_file

_BLOCK = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True, slots=True)
class ModelLayout:
    path: Path
    architecture: str
    name: str
    quant: str  # the file type, "Q4_K_M"; "unknown" if the file does not say
    size_bytes: int
    context_length: int
    block_count: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    n_ff: int
    n_vocab: int
    block_bytes: tuple[int, ...]  # weights of blk.0 .. blk.N-1
    output_bytes: int  # output head + final norm: the "+1" layer
    input_bytes: int  # token embeddings: always kept in host memory by llama.cpp
    other_bytes: int  # anything else (rope factors and the like)
    has_chat_template: bool

    @property
    def layer_count(self) -> int:
        """Steps of the layers slider: every block plus the output layer."""
        return self.block_count + 1

    def kv_bytes_per_token_per_block(self, kv_type_bytes: float = 2.0) -> float:
        return self.n_head_kv * (self.head_dim_k + self.head_dim_v) * kv_type_bytes


def _value(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        return default
    try:
        value = field.contents()
    except Exception:
        return default
    if isinstance(value, list):  # per-layer arrays (some archs vary heads per layer)
        return max(value) if value else default
    return value


def _file_type_name(code) -> str:
    from gguf import LlamaFileType

    try:
        return LlamaFileType(int(code)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        return "unknown"


def read_layout(path: str | Path) -> ModelLayout:
    """Shape and per-layer bytes of a GGUF. Raises the same errors as inspect_model_file."""
    info, reader = open_model_file(path)  # precise messages for missing/not GGUF/truncated
    arch = info.architecture
    blocks = int(info.block_count or 0)
    block_bytes = [0] * blocks
    output = input_ = other = 0
    token_embd = 0
    has_output_weight = False
    for t in reader.tensors:
        n = int(t.n_bytes)
        m = _BLOCK.match(t.name)
        if m and int(m.group(1)) < blocks:
            block_bytes[int(m.group(1))] += n
        elif t.name.startswith("output"):  # output.weight, output_norm.weight (+ bias)
            output += n
            has_output_weight |= t.name == "output.weight"
        elif t.name.startswith("token_embd"):
            input_ += n
            if t.name == "token_embd.weight":
                token_embd = n
        else:
            other += n
    if not has_output_weight:
        # Tied embeddings: llama.cpp reuses token_embd as the output head and puts a
        # copy of it wherever the output layer runs.
        output += token_embd
    n_embd = int(_value(reader, f"{arch}.embedding_length", 0))
    n_head = int(_value(reader, f"{arch}.attention.head_count", 0))
    n_head_kv = int(_value(reader, f"{arch}.attention.head_count_kv", n_head))
    head_dim = n_embd // n_head if n_head else 0
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    n_vocab = len(tokens.data) if tokens is not None else 0
    return ModelLayout(
        path=info.path,
        architecture=arch,
        name=info.name,
        quant=_file_type_name(_value(reader, "general.file_type")),
        size_bytes=info.size_bytes,
        context_length=int(info.context_length or 0),
        block_count=blocks,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=int(_value(reader, f"{arch}.attention.key_length", head_dim)),
        head_dim_v=int(_value(reader, f"{arch}.attention.value_length", head_dim)),
        n_ff=int(_value(reader, f"{arch}.feed_forward_length", 0)),
        n_vocab=n_vocab,
        block_bytes=tuple(block_bytes),
        output_bytes=output,
        input_bytes=input_,
        other_bytes=other,
        has_chat_template=info.has_chat_template,
    )
