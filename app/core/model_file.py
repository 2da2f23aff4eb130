"""Checks on a model file before llama.cpp sees it, read with the gguf package.

llama.cpp only says "failed to load" (the reason is in its log); reading the header
first gives people a precise message for the common cases: a wrong path, a file that
is not a GGUF, and a download that stopped half-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import CorruptModel, ModelMissing, NotAGGUF

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, slots=True)
class ModelFileInfo:
    path: Path
    size_bytes: int
    architecture: str
    name: str
    block_count: int | None
    context_length: int | None
    has_chat_template: bool


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    try:
        return field.contents()
    except Exception:
        return None


def inspect_model_file(path: str | Path) -> ModelFileInfo:
    """Validate `path` as a complete GGUF and return its basic metadata.

    Raises ModelMissing, NotAGGUF or CorruptModel with a plain-language message.
    A file already read unchanged (same size and modification time) is not parsed again.
    """
    p = Path(path).expanduser()
    try:
        info = _checked.get(_version(p))
    except OSError:
        info = None  # open_model_file says what is wrong with it
    return info if info is not None else open_model_file(p)[0]


# Files read so far, by version: a load reads the layout (worker) and then checks the file
# (engine), and a slider change loads again; parsing a 100k-token vocabulary takes seconds.
_checked: dict[tuple, ModelFileInfo] = {}


def _version(p: Path) -> tuple:
    st = p.stat()
    return (str(p.resolve()), st.st_size, st.st_mtime_ns)


def open_model_file(path: str | Path):
    """Like inspect_model_file, also returning the gguf reader (parsing the header of
    a big vocabulary takes seconds, so callers that need more than the basics reuse it)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelMissing(f"The model file {p} does not exist.", path=str(p))
    if not p.is_file():
        raise ModelMissing(f"{p} is a folder, not a model file.", path=str(p))
    size = p.stat().st_size
    if size == 0:
        raise NotAGGUF(f"{p.name} is empty (0 bytes); it is not a model.", path=str(p))
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise NotAGGUF(
            f"{p.name} is not a GGUF model file. This app runs GGUF files, such as "
            f"Phi-4-reasoning Q4_K_M.",
            path=str(p),
        )
    incomplete = (
        f"{p.name} is damaged or incomplete (perhaps an interrupted download). "
        f"Download it again."
    )
    try:
        from gguf import GGUFReader

        reader = GGUFReader(p)
        data_end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    except Exception as exc:
        raise CorruptModel(incomplete, path=str(p), reason=str(exc)) from exc
    if data_end > size:
        raise CorruptModel(incomplete, path=str(p), expected_bytes=data_end, size_bytes=size)
    arch = _field(reader, "general.architecture") or ""
    info = ModelFileInfo(
        path=p,
        size_bytes=size,
        architecture=str(arch),
        name=str(_field(reader, "general.name") or p.stem),
        block_count=_field(reader, f"{arch}.block_count"),
        context_length=_field(reader, f"{arch}.context_length"),
        has_chat_template=_field(reader, "tokenizer.chat_template") is not None,
    )
    if len(_checked) > 64:
        _checked.clear()
    _checked[_version(p)] = info
    return info, reader
