"""What every engine offers (the `Engine` protocol) and how a local model is loaded
(`LoadParams`), apart from llama.cpp: remote and scripted engines, and the clients that
only talk to an engine, need not import llama.cpp's bindings to know the contract."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.types import Event, GenParams, Message


@dataclass(frozen=True, slots=True)
class LoadParams:
    n_gpu_layers: int = 0  # -1: all layers
    n_ctx: int = 0  # 0: the model's training context, at most DEFAULT_CONTEXT
    n_threads: int | None = None
    # Tokens per prompt micro-batch (fit.micro_batch chooses it per backend and offload).
    n_batch: int = 512
    kv_cache_type: str = "f16"  # "f16" or "q8_0": the context cache's precision
    flash_attn: bool | None = None  # None: llama.cpp decides per backend
    chat_template: str | None = None  # overrides the template stored in the GGUF
    # Repacked CPU weight layouts (faster matmuls). None: on, except on AMX CPUs
    # (see llama_runtime.cpu_has_amx).
    cpu_repack: bool | None = None
    # Called with 0.0..1.0 as the weights load; returning False stops the load.
    progress: Callable[[float], bool] | None = None
    # Where each conversation's read prompt is kept between loads and runs (None: not kept).
    states: object | None = None  # app.core.saved_states.StateStore


class Engine(Protocol):
    """What every client (window, CLI, server) needs from a model, whatever runs it."""

    context_size: int  # tokens the loaded context holds
    name: str  # what the model bar shows: the model's file or served name
    template_problem: str | None  # why the model's own chat template is not used, for people

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """The whole rendered prompt for `messages`, in the model's tokens."""
        ...

    def count_tokens(self, text: str) -> int:
        """`text` in the model's tokens as part of a prompt (no start-of-text token)."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        params: GenParams = ...,
        cancel: threading.Event | None = None,
        answer_now: threading.Event | None = None,
    ) -> Iterator[Event]: ...

    def close(self) -> None: ...


def default_threads() -> int:
    n = os.cpu_count() or 2
    # Past 4 logical CPUs assume SMT: decode is memory-bound and extra threads on
    # sibling cores only contend.
    return n if n <= 4 else max(4, n // 2)
