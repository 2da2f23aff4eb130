"""The engine's side of saved context states (app/core/saved_states.py): when to save the
conversation in the context, and putting a saved one back before a prompt is read.

It works on the engine's context and its list of cached tokens (the tokens whose keys and
values are in the context, in order), which it keeps in step with what it loads. Whether a
state is worth saving or loading is decided from the speeds measured on this model and
offload: reading tokens against loading a state's bytes.
"""

from __future__ import annotations

import ctypes
import logging
import time
from pathlib import Path

import llama_cpp

from app.core import llama_runtime
from app.core.saved_states import SavedState, StateKey, StateStore

log = logging.getLogger(__name__)

# A saved state is looked for only when it would spare reading at least this many tokens,
# and reading speed is recorded only from prompts at least this long (shorter ones are noise).
MIN_RESTORE_GAIN = 64
MIN_RATE_TOKENS = 256


class StateKeeper:
    def __init__(self, store: StateStore, key: StateKey, speed_name: str) -> None:
        self.store, self.key = store, key
        self.speed_name = speed_name  # reading and loading speeds differ with the offload
        self.saved_upto = 0  # the leading cached tokens a saved state already holds

    def truncated(self, n: int) -> None:
        """The context now keeps only its first `n` cached tokens."""
        self.saved_upto = min(self.saved_upto, n)

    def _loading_loses(self, n_bytes: int, n_tokens: int) -> bool:
        read_tps = self.store.rate(self.speed_name, "read_tps")
        load_bps = self.store.rate(self.speed_name, "load_bps")
        return bool(read_tps and load_bps and n_bytes / load_bps >= n_tokens / read_tps)

    def read(self, n_tokens: int, seconds: float) -> None:
        """A prompt's `n_tokens` were read in `seconds`."""
        if n_tokens >= MIN_RATE_TOKENS:
            self.store.record_rate(self.speed_name, "read_tps", n_tokens / max(seconds, 1e-6))

    def keep(self, ctx, cached: list[int]) -> bool:
        """Save the conversation in the context unless it is already saved, too short, or
        quicker to read again than to load. True when a state was written."""
        n = len(cached)
        if n <= self.saved_upto:
            return False
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        if self._loading_loses(size, n):
            return False
        tokens = list(cached)
        arr = (llama_cpp.llama_token * n)(*tokens)

        def write(path: Path) -> bool:
            return llama_cpp.llama_state_seq_save_file(ctx, str(path).encode(), 0, arr, n) > 0

        t0 = time.perf_counter()
        kept = self.store.save(self.key, tokens, size, write)
        if kept:
            self.saved_upto = n
            log.info("saved the context state of %d tokens in %.2f s", n, time.perf_counter() - t0)
        return kept

    def restore(self, ctx, cached: list[int], tokens: list[int], reused: int) -> tuple[int, float]:
        """Load the saved state sharing the most leading tokens with `tokens` when that beats
        reading them; return (tokens now in the context, seconds spent), or (reused, 0.0)."""
        limit = len(tokens) - 1  # the last prompt token runs again for fresh logits
        saved = self.store.find(self.key, tokens[:limit], min_common=reused + MIN_RESTORE_GAIN)
        if saved is None:
            return reused, 0.0
        if self._loading_loses(saved.size, saved.common - reused):
            log.info("reading %d tokens beats loading a %d-byte state", saved.common - reused, saved.size)
            return reused, 0.0
        t0 = time.perf_counter()
        if not self.store.verify(saved):
            return reused, 0.0
        n = self._load(ctx, cached, saved)
        seconds = time.perf_counter() - t0
        if n == 0:
            return 0, seconds  # the context was emptied by the failed load
        self.store.used(saved)
        self.store.record_rate(self.speed_name, "load_bps", saved.size / max(seconds, 1e-6))
        log.info("restored %d tokens from a saved state in %.2f s", n, seconds)
        return n, seconds

    def _load(self, ctx, cached: list[int], saved: SavedState) -> int:
        """Put `saved` into the context and drop what is past its shared prefix; the number of
        tokens now cached (0 on any mismatch: the state is deleted and the context left empty)."""
        mem = llama_cpp.llama_get_memory(ctx)
        capacity = len(saved.tokens) + 1
        out = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        cached.clear()
        self.saved_upto = 0
        mark = llama_runtime.log_mark()
        read = llama_cpp.llama_state_seq_load_file(ctx, str(saved.path).encode(), 0, out, capacity,
                                                   ctypes.byref(count))
        if not read or tuple(out[: count.value]) != saved.tokens:
            log.warning("saved state %s did not load (%s); reading the prompt instead", saved.path.name,
                        " ".join(llama_runtime.lines_since(mark))[-300:])
            self.store.discard(saved)
            llama_cpp.llama_memory_clear(mem, True)
            return 0
        if saved.common < len(saved.tokens) and not llama_cpp.llama_memory_seq_rm(mem, 0, saved.common, -1):
            llama_cpp.llama_memory_clear(mem, True)
            return 0
        cached.extend(saved.tokens[: saved.common])
        self.saved_upto = saved.common
        return saved.common
