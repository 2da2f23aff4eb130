"""Each conversation's read prompt, kept on disk, so reopening it reads only what is new.

Reading a long prompt is the slow part of a reply on a laptop (a 16k-token document takes
minutes on a CPU); loading the context state llama.cpp built while reading it takes
seconds. The engine saves a conversation's state here after a reply and before it reads
another conversation, and looks here before reading a prompt.

A state is only ever a cache: whatever is wrong with one (another model file or version
of it, another context size or cache precision, another llama.cpp, a damaged, truncated
or half-written file) makes it a miss, and the prompt is read as if it had never been
saved. Each entry is two files named by the key's digest: `<key>-<id>.state` (llama.cpp's
own sequence-state file) and `<key>-<id>.json` (the tokens it holds, its size and CRC-32).
The state is renamed into place before its description is written, both atomically, so a
crash or a full disk leaves at worst an orphan that is never loaded and is swept later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic_write import write_atomic

log = logging.getLogger(__name__)

FORMAT = 1
GB = 1000**3
DEFAULT_BUDGET_BYTES = 10 * GB
MIN_TOKENS = 256  # shorter prompts read in well under a second anywhere: not worth a file
MAX_META_BYTES = 8 * 1024 * 1024  # a description holds the token ids: 4 bytes each, base64
MAX_TOKENS = 1 << 21
DISK_HEADROOM = 1 * GB  # never fill the disk to the last byte for a cache
ORPHAN_SECONDS = 3600  # a temporary file this old belongs to no save in progress
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StateKey:
    """Everything a saved state depends on besides the tokens: another value is another state.
    Offload (layers on the GPU, micro-batch, threads) is left out: the state is the same."""

    model_path: str
    model_size: int
    model_mtime_ns: int
    n_ctx: int
    cache_type: str  # "f16" or "q8_0"
    flash_attn: str  # the setting: the cache's layout follows it
    runtime: str  # llama.cpp's state-format version and the binding's version

    @property
    def digest(self) -> str:
        text = json.dumps([FORMAT, self.model_path, self.model_size, self.model_mtime_ns, self.n_ctx,
                           self.cache_type, self.flash_attn, self.runtime])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class SavedState:
    """A state on disk that shares `common` leading tokens with a prompt."""

    path: Path  # the .state file
    tokens: tuple[int, ...]  # what the state holds, in order
    size: int
    crc: int
    common: int

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")


def _tokens_bytes(tokens: Sequence[int]) -> bytes:
    arr = array("i", tokens)
    if sys.byteorder != "little":
        arr.byteswap()
    return arr.tobytes()


def _tokens_from(data: bytes) -> tuple[int, ...]:
    arr = array("i")
    arr.frombytes(data)
    if sys.byteorder != "little":
        arr.byteswap()
    return tuple(arr)


def common_prefix(a: bytes, b: bytes) -> int:
    """Length in bytes of the longest shared prefix (bisection over memcmp-speed slices)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def file_crc(path: Path) -> tuple[int, int]:
    """(CRC-32, size) of a file, read in chunks (a state can be gigabytes)."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


class StateStore:
    """Saved states under `root`, at most `budget_bytes` of them (least recently used go first).

    Safe to share between threads (a lock guards the folder); each call does its own I/O and
    reports trouble by returning a miss or False, never by raising: a cache must not break a reply.
    """

    def __init__(self, root: Path, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.root = Path(root)
        self.budget_bytes = budget_bytes
        self._lock = threading.RLock()
        self._rates_path = self.root / "rates.json"
        self._rates: dict[str, dict[str, float]] | None = None
        self._sweep_orphans()

    # -- finding -----------------------------------------------------------------------------

    def find(self, key: StateKey, tokens: Sequence[int], min_common: int = 1) -> SavedState | None:
        """The saved state sharing the most leading tokens with `tokens` (at least `min_common`),
        or None. Only the description is read here; `verify` checks the state file itself."""
        if self.budget_bytes <= 0:
            return None
        want = _tokens_bytes(tokens)
        best: SavedState | None = None
        with self._lock:
            for meta_path in self._metas(key):
                entry = self._read_meta(meta_path, key)
                if entry is None:
                    continue
                common = common_prefix(want, _tokens_bytes(entry.tokens)) // 4
                if common >= min_common and (best is None or common > best.common):
                    best = SavedState(entry.path, entry.tokens, entry.size, entry.crc, common)
        return best

    def verify(self, state: SavedState) -> bool:
        """Whether the state file is whole and unchanged since it was saved (size and CRC-32).
        A damaged one is deleted. Reading it also brings it into the page cache for the load."""
        try:
            crc, size = file_crc(state.path)
        except OSError:
            crc, size = -1, -1
        if (crc, size) != (state.crc, state.size):
            log.warning("saved state %s is damaged; reading the prompt instead", state.path.name)
            self.discard(state)
            return False
        return True

    def used(self, state: SavedState) -> None:
        """Mark `state` as just used (eviction goes by least recent use)."""
        try:
            os.utime(state.meta_path)
        except OSError:
            pass

    def discard(self, state: SavedState) -> None:
        with self._lock:
            _remove(state.meta_path)
            _remove(state.path)

    # -- saving ------------------------------------------------------------------------------

    def save(self, key: StateKey, tokens: Sequence[int], expected_bytes: int,
             write: Callable[[Path], bool]) -> bool:
        """Keep the state of `tokens`: `write(path)` writes llama.cpp's file there. States of the
        same key that hold a prefix of `tokens` are replaced by this one. False when it was not
        kept (too short, larger than the budget, no disk room, or the write failed)."""
        if self.budget_bytes <= 0 or len(tokens) < MIN_TOKENS or len(tokens) > MAX_TOKENS:
            return False
        if expected_bytes > self.budget_bytes:
            return False
        with self._lock:
            try:
                # A state holds what the conversation read (documents included): this user's only.
                self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._evict(self.budget_bytes - expected_bytes)
                if shutil.disk_usage(self.root).free < expected_bytes + DISK_HEADROOM:
                    log.info("not saving a context state: the disk is nearly full")
                    return False
                name = f"{key.digest}-{uuid.uuid4().hex[:12]}"
                tmp = self.root / f"tmp-{os.getpid()}-{name}.state"
                try:
                    if not write(tmp):
                        return False
                    os.chmod(tmp, 0o600)  # llama.cpp creates it with the process's umask
                    # llama.cpp's writer may not report a failed final flush: the size and CRC
                    # read back are what the description promises, and what a load checks.
                    crc, size = file_crc(tmp)
                    if size == 0:
                        return False
                    with open(tmp, "rb+") as f:
                        os.fsync(f.fileno())
                    final = self.root / f"{name}.state"
                    os.replace(tmp, final)
                finally:
                    _remove(tmp)
                meta = {"format": FORMAT, "key": key.digest, "n_tokens": len(tokens), "size": size, "crc": crc,
                        "tokens": base64.b64encode(_tokens_bytes(tokens)).decode("ascii"), "saved": time.time()}
                try:
                    write_atomic(final.with_suffix(".json"), json.dumps(meta), prefix=".state-")
                except OSError:
                    _remove(final)
                    raise
                self._drop_prefixes(key, tokens, keep=final)
                self._evict(self.budget_bytes)
                return True
            except OSError as exc:
                log.warning("could not save a context state: %s", exc)
                return False

    # -- the folder --------------------------------------------------------------------------

    def usage_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size, _ in self._entries())

    def clear(self) -> int:
        """Delete every saved state; returns the bytes freed."""
        with self._lock:
            freed = 0
            for meta, size, _ in self._entries():
                freed += size
                _remove(meta)
                _remove(meta.with_suffix(".state"))
            self._sweep_orphans(all_of_them=True)
            return freed

    def trim(self) -> int:
        """Evict least recently used states until the rest fit the budget (after it was lowered);
        returns the bytes freed. Waits for a save in progress (the lock)."""
        with self._lock:
            before = self.usage_bytes()
            self._evict(max(self.budget_bytes, 0))
            return before - self.usage_bytes()

    def _evict(self, budget: int) -> None:
        entries = sorted(self._entries(), key=lambda e: e[2])  # least recently used first
        total = sum(size for _, size, _ in entries)
        for meta, size, _ in entries:
            if total <= budget:
                break
            _remove(meta)
            _remove(meta.with_suffix(".state"))
            total -= size

    def _drop_prefixes(self, key: StateKey, tokens: Sequence[int], keep: Path) -> None:
        """A state holding a prefix of the new one's tokens is of no more use: the new one
        serves every prompt it served."""
        new = _tokens_bytes(tokens)
        for meta_path in self._metas(key):
            if meta_path.with_suffix(".state") == keep:
                continue
            entry = self._read_meta(meta_path, key)
            if entry is not None and new.startswith(_tokens_bytes(entry.tokens)):
                self.discard(entry)

    def _entries(self) -> list[tuple[Path, int, float]]:
        """(description, state bytes, last use) of each entry; a state without its description
        counts too (it is removed by the sweep)."""
        out = []
        try:
            names = list(self.root.glob("*.json"))
        except OSError:
            return out
        for meta in names:
            if meta.name == self._rates_path.name:
                continue
            try:
                size = meta.with_suffix(".state").stat().st_size
                out.append((meta, size, meta.stat().st_mtime))
            except OSError:
                _remove(meta)  # a description whose state is gone
        return out

    def _metas(self, key: StateKey) -> list[Path]:
        try:
            return list(self.root.glob(f"{key.digest}-*.json"))
        except OSError:
            return []

    def _read_meta(self, meta_path: Path, key: StateKey) -> SavedState | None:
        try:
            if meta_path.stat().st_size > MAX_META_BYTES:
                raise ValueError("too large")
            meta = json.loads(meta_path.read_bytes())
            if meta.get("format") != FORMAT or meta.get("key") != key.digest:
                raise ValueError("another format or key")
            raw = base64.b64decode(meta["tokens"], validate=True)
            n, size, crc = meta["n_tokens"], meta["size"], meta["crc"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, size, crc)):
                raise ValueError("bad numbers")
            if len(raw) != 4 * n or not 0 < n <= MAX_TOKENS:
                raise ValueError("token count")
            state = meta_path.with_suffix(".state")
            if state.stat().st_size != size:
                raise ValueError("state size")
            return SavedState(state, _tokens_from(raw), size, crc, 0)
        except FileNotFoundError:
            _remove(meta_path)
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            log.warning("dropping saved state %s: %s", meta_path.name, exc)
            _remove(meta_path)
            _remove(meta_path.with_suffix(".state"))
            return None

    def _sweep_orphans(self, all_of_them: bool = False) -> None:
        """States without a description (a crash between the two renames) and old temporary files."""
        now = time.time()
        try:
            for path in self.root.glob("*.state"):
                try:
                    old = now - path.stat().st_mtime > ORPHAN_SECONDS
                except OSError:
                    continue
                temporary = path.name.startswith("tmp-")
                if (temporary and (old or all_of_them)) or (not temporary and not path.with_suffix(".json").exists()
                                                             and (old or all_of_them)):
                    _remove(path)
        except OSError:
            pass

    # -- speeds ------------------------------------------------------------------------------
    # Whether loading a state beats reading its tokens depends on the disk, the backend and the
    # offload: the engine records what it measured (per model and offload), and asks before loading.

    def rate(self, name: str, which: str) -> float | None:
        with self._lock:
            value = self._load_rates().get(name, {}).get(which)
        return value if isinstance(value, int | float) and value > 0 else None

    def record_rate(self, name: str, which: str, value: float) -> None:
        if not value > 0:
            return
        with self._lock:
            rates = self._load_rates()
            rates.setdefault(name, {})[which] = float(value)
            if len(rates) > 256:  # one per model and offload: keep the newest few
                for old in list(rates)[:-256]:
                    del rates[old]
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                write_atomic(self._rates_path, json.dumps(rates), prefix=".rates-")
            except OSError:
                pass

    def _load_rates(self) -> dict[str, dict[str, float]]:
        if self._rates is None:
            try:
                data = json.loads(self._rates_path.read_bytes()[:MAX_META_BYTES])
                self._rates = {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._rates = {}
        return self._rates


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
