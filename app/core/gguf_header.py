"""A GGUF header read with every count checked before it is trusted.

Model files come from strangers. The gguf package's GGUFReader believes the counts a
header declares: an array said to hold 2**61 items in a 118-byte file makes it loop
and grow memory for ever, and it builds a numpy view per item (a million metadata
strings: 68 s and 1.5 GB). This reader walks the header in pieces with struct, checks
each count and length against the bytes left before reading, keeps only what the app
uses (scalars, short arrays, the length of long ones, tensor shapes), and gives the
whole walk a ceiling in bytes and seconds. The rules follow llama.cpp's own loader
(gguf.cpp), so a file refused here is one llama.cpp would refuse or choke on.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"GGUF"
MAX_KV = 1 << 16  # real models carry under a hundred keys
MAX_TENSORS = 1 << 18  # real models: hundreds to a few thousand
MAX_KEY_BYTES = 1 << 16
MAX_TENSOR_NAME = 63  # llama.cpp's GGML_MAX_NAME is 64 with the terminating NUL
MAX_STRING_BYTES = 64 << 20  # one metadata value (chat templates are kilobytes)
# Key/value and tensor sections together. A 262k-token vocabulary with its scores,
# types and merges is about 20 MB; past this the file is not a model.
MAX_HEADER_BYTES = 512 << 20
READ_SECONDS = 10.0  # a real header is read in well under a second
KEEP_ITEMS = 4096  # longer arrays (vocabularies) are counted, not kept
_CHUNK = 1 << 20
_CHECK_EVERY = 4096  # items between looks at the clock
_MAX_DIMS = 4

# GGUF value types: struct code, or None for string (8) and array (9).
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class HeaderError(Exception):
    """The header cannot be right; str() is a plain phrase completing "its header ..."."""


@dataclass(frozen=True, slots=True)
class LongArray:
    """An array too long to keep (a vocabulary): its item type and length only."""

    item_type: int
    count: int


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    ggml_type: int
    shape: tuple[int, ...]  # ggml order: ne[0] (the row) first
    n_bytes: int
    data_offset: int  # absolute, in the file


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    version: int
    fields: dict  # key -> int/float/bool/str, a list (short arrays) or LongArray
    tensors: tuple[TensorInfo, ...]
    data_offset: int

    def value(self, key: str, default=None):
        """A scalar, or a short array as a list; `default` when absent or too long to keep."""
        v = self.fields.get(key, default)
        return default if isinstance(v, LongArray) else v

    def array_len(self, key: str) -> int | None:
        v = self.fields.get(key)
        if isinstance(v, LongArray):
            return v.count
        return len(v) if isinstance(v, list) else None


class _Cursor:
    """Reads a file front to back in chunks; refuses any read past `end`."""

    def __init__(self, fh, size: int, deadline: float) -> None:
        self.fh, self.size, self.deadline = fh, size, deadline
        self.end = size  # lowered to MAX_HEADER_BYTES once the counts are read
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.pos = 0  # index into buf

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def left(self) -> int:
        return self.end - self.offset

    def past_end(self, what: str) -> HeaderError:
        if self.end < self.size:
            return HeaderError(f"is over {MAX_HEADER_BYTES >> 20} MB, far more than any model's")
        return HeaderError(f"ends inside {what}")

    def need(self, n: int, what: str) -> None:
        if n > self.left():
            raise self.past_end(what)
        if self.pos + n > len(self.buf):
            self.fh.seek(self.offset)
            self.base, self.pos = self.offset, 0
            self.buf = self.fh.read(max(n, _CHUNK))
            if len(self.buf) < n:  # the file shrank while being read
                raise HeaderError(f"ends inside {what}")

    def unpack(self, st: struct.Struct, what: str):
        self.need(st.size, what)
        out = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return out

    def take(self, n: int, what: str) -> bytes:
        self.need(n, what)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def skip(self, n: int, what: str) -> None:
        if n > self.left():
            raise self.past_end(what)
        if self.pos + n <= len(self.buf):
            self.pos += n
        else:
            self.base, self.buf, self.pos = self.offset + n, b"", 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise HeaderError(f"took too long to read (over {READ_SECONDS:g} seconds)")


class _Reader:
    def __init__(self, cur: _Cursor, order: str) -> None:
        self.cur = cur
        self.u32 = struct.Struct(order + "I")
        self.u64 = struct.Struct(order + "Q")
        self.scalars = {t: struct.Struct(order + c) for t, c in _SCALAR.items()}

    def string(self, limit: int, what: str) -> bytes:
        (n,) = self.cur.unpack(self.u64, what)
        if n > limit:
            raise HeaderError(f"declares a {n:,}-byte {what}, longer than any model's")
        return self.cur.take(n, what)

    def value(self, vtype: int, key: str):
        if vtype == _STRING:
            return self.string(MAX_STRING_BYTES, f"the value of {key!r}").decode("utf-8", "replace")
        st = self.scalars.get(vtype)
        if st is None:
            raise HeaderError(f"gives {key!r} an unknown value type ({vtype})")
        return self.cur.unpack(st, f"the value of {key!r}")[0]

    def array(self, key: str):
        (item_type,) = self.cur.unpack(self.u32, f"the array {key!r}")
        (count,) = self.cur.unpack(self.u64, f"the array {key!r}")
        if item_type == _ARRAY:
            raise HeaderError(f"nests arrays in {key!r}, which llama.cpp does not read")
        if item_type == _STRING:
            min_size = 8  # each string's length
        elif item_type in self.scalars:
            min_size = self.scalars[item_type].size
        else:
            raise HeaderError(f"gives the array {key!r} an unknown item type ({item_type})")
        if count * min_size > self.cur.left():
            if count * min_size <= self.cur.size - self.cur.offset:
                raise self.cur.past_end(f"the array {key!r}")
            raise HeaderError(
                f"declares {count:,} items for {key!r} but only {self.cur.left():,} bytes follow"
            )
        keep = count <= KEEP_ITEMS
        if item_type != _STRING:
            if not keep:
                self.cur.skip(count * min_size, f"the array {key!r}")
                return LongArray(item_type, count)
            st = self.scalars[item_type]
            raw = self.cur.take(count * st.size, f"the array {key!r}")
            return [v[0] for v in st.iter_unpack(raw)] if count else []
        return self._strings(key, count, keep)

    def _strings(self, key: str, count: int, keep: bool):
        cur, u64 = self.cur, self.u64
        out = [] if keep else None
        what = f"the array {key!r}"
        for i in range(count):
            if i % _CHECK_EVERY == 0:
                cur.tick()
            # Inline of string(): this loop runs once per vocabulary token.
            if cur.pos + 8 <= len(cur.buf):
                (n,) = u64.unpack_from(cur.buf, cur.pos)
                cur.pos += 8
            else:
                (n,) = cur.unpack(u64, what)
            if n > MAX_STRING_BYTES:
                raise HeaderError(f"declares a {n:,}-byte string in {key!r}, longer than any model's")
            if (count - i - 1) * 8 + n > cur.left():
                raise cur.past_end(what)
            if keep:
                out.append(cur.take(n, what).decode("utf-8", "replace"))
            else:
                cur.skip(n, what)
        return out if keep else LongArray(_STRING, count)

    def tensor(self, seen: set) -> tuple[str, int, tuple[int, ...], int]:
        name_raw = self.string(MAX_TENSOR_NAME, "tensor name")
        name = name_raw.decode("utf-8", "replace")
        if name in seen:
            raise HeaderError(f"names the tensor {name!r} twice")
        seen.add(name)
        (n_dims,) = self.cur.unpack(self.u32, f"the tensor {name!r}")
        if n_dims > _MAX_DIMS:
            raise HeaderError(f"gives the tensor {name!r} {n_dims} dimensions (at most {_MAX_DIMS})")
        shape = tuple(self.cur.unpack(self.u64, f"the tensor {name!r}")[0] for _ in range(n_dims))
        (ggml_type,) = self.cur.unpack(self.u32, f"the tensor {name!r}")
        (offset,) = self.cur.unpack(self.u64, f"the tensor {name!r}")
        return name, ggml_type, shape, offset


def read_header(path: str | Path) -> GGUFHeader:
    """Read a GGUF's metadata and tensor table. Raises HeaderError (a plain reason) or OSError.

    Time and memory are bounded whatever the file says: counts are checked against the
    bytes present, long arrays are skipped, and the walk stops past MAX_HEADER_BYTES or
    READ_SECONDS.
    """
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        cur = _Cursor(fh, size, time.monotonic() + READ_SECONDS)
        if cur.take(4, "the file type") != MAGIC:
            raise HeaderError("does not start with GGUF")
        (version,) = struct.unpack("<I", cur.take(4, "the version"))
        order = "<"
        if version & 0xFFFF == 0:  # written on a machine of the other byte order
            order, version = ">", struct.unpack(">I", struct.pack("<I", version))[0]
        if version not in (2, 3):
            raise HeaderError(f"has GGUF version {version}, which this app cannot read")
        r = _Reader(cur, order)
        n_tensors, n_kv = cur.unpack(struct.Struct(order + "QQ"), "the counts")
        if n_kv > MAX_KV:
            raise HeaderError(f"declares {n_kv:,} metadata keys (at most {MAX_KV:,})")
        if n_tensors > MAX_TENSORS:
            raise HeaderError(f"declares {n_tensors:,} tensors (at most {MAX_TENSORS:,})")
        # Each key needs at least its length, one byte and a type; each tensor a name
        # length, a dimension count, a type and an offset.
        if n_kv * 13 + n_tensors * 24 > cur.left():
            raise HeaderError(f"declares {n_kv:,} keys and {n_tensors:,} tensors, more than the file holds")
        cur.end = min(size, MAX_HEADER_BYTES)
        fields: dict = {}
        for _ in range(n_kv):
            cur.tick()
            key = r.string(MAX_KEY_BYTES, "a metadata key").decode("utf-8", "replace")
            if not key:
                raise HeaderError("has an empty metadata key")
            if key in fields:
                raise HeaderError(f"has the key {key!r} twice")
            (vtype,) = cur.unpack(r.u32, f"the type of {key!r}")
            fields[key] = r.array(key) if vtype == _ARRAY else r.value(vtype, key)
        alignment = fields.get("general.alignment", 32)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise HeaderError(f"gives an alignment of {alignment!r}, not a power of two")
        raw_tensors, seen = [], set()
        for i in range(n_tensors):
            if i % 256 == 0:
                cur.tick()
            raw_tensors.append(r.tensor(seen))
        data_offset = -(-cur.offset // alignment) * alignment if n_tensors else cur.offset
        tensors = []
        for name, ggml_type, shape, offset in raw_tensors:
            try:
                block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
            except (ValueError, KeyError):
                raise HeaderError(f"gives the tensor {name!r} an unknown type ({ggml_type})") from None
            n = 1
            for d in shape:
                n *= d
            if n >= 1 << 63 or any(d >= 1 << 63 for d in shape):
                raise HeaderError(f"gives the tensor {name!r} an impossible shape")
            if shape and shape[0] % block:
                raise HeaderError(f"gives the tensor {name!r} rows that do not fit its type")
            tensors.append(TensorInfo(name, ggml_type, shape, n * type_size // block, data_offset + offset))
    return GGUFHeader(version, fields, tuple(tensors), data_offset)
