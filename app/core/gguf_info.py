"""A model's shape and the bytes of each layer, read from the GGUF without loading weights.

The fit estimate needs what llama.cpp will put on each device: the tensors of every
block, the output layer, and the sizes that set the KV cache (blocks, KV heads, head
dims). All of it is in the header (read with bounds by gguf_header); the weights stay
on disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.core.gguf_header import GGUFHeader
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


def _value(header: GGUFHeader, key: str, default: int = 0) -> int:
    """A count from the header; `default` when absent or not a count at all."""
    value = header.value(key)
    if isinstance(value, list):  # per-layer arrays (some archs vary heads per layer)
        value = max((v for v in value if _is_count(v)), default=None)
    return value if _is_count(value) else default


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _file_type_name(code) -> str:
    from gguf import LlamaFileType

    try:
        return LlamaFileType(int(code)).name.removeprefix("MOSTLY_")
    except (TypeError, ValueError):
        return "unknown"


def read_layout(path: str | Path) -> ModelLayout:
    """Shape and per-layer bytes of a GGUF. Raises the same errors as inspect_model_file."""
    info, header = open_model_file(path)  # precise messages for missing/not GGUF/truncated
    arch = info.architecture
    # Every block has tensors: a larger count is a damaged file, not a reason for a huge list.
    blocks = min(info.block_count or 0, len(header.tensors))
    block_bytes = [0] * blocks
    output = input_ = other = 0
    token_embd = 0
    has_output_weight = False
    for t in header.tensors:
        n = t.n_bytes
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
    n_embd = _value(header, f"{arch}.embedding_length")
    n_head = _value(header, f"{arch}.attention.head_count")
    n_head_kv = _value(header, f"{arch}.attention.head_count_kv", n_head)
    head_dim = n_embd // n_head if n_head else 0
    n_vocab = header.array_len("tokenizer.ggml.tokens") or 0
    return ModelLayout(
        path=info.path,
        architecture=arch,
        name=info.name,
        quant=_file_type_name(_value(header, "general.file_type", -1)),
        size_bytes=info.size_bytes,
        context_length=int(info.context_length or 0),
        block_count=blocks,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=_value(header, f"{arch}.attention.key_length", head_dim),
        head_dim_v=_value(header, f"{arch}.attention.value_length", head_dim),
        n_ff=_value(header, f"{arch}.feed_forward_length"),
        n_vocab=n_vocab,
        block_bytes=tuple(block_bytes),
        output_bytes=output,
        input_bytes=input_,
        other_bytes=other,
        has_chat_template=info.has_chat_template,
    )
