"""Checks on a model file before llama.cpp sees it.

llama.cpp only says "failed to load" (the reason is in its log); reading the header
first gives people a precise message for the common cases: a wrong path, a file that
is not a GGUF, and a download that stopped half-way. The header is read by
gguf_header, which bounds the time and memory a hostile file can cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import CorruptModel, ModelFileError, ModelMissing, NotAGGUF
from app.core.gguf_header import GGUFHeader, HeaderError, read_header

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


def _text(header: GGUFHeader, key: str) -> str | None:
    value = header.value(key)
    return value if isinstance(value, str) else None


def _count(header: GGUFHeader, key: str) -> int | None:
    value = header.value(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


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
# (engine), and a slider change loads again; a header is read once per version.
_checked: dict[tuple, ModelFileInfo] = {}


def _version(p: Path) -> tuple:
    st = p.stat()
    return (str(p.resolve()), st.st_size, st.st_mtime_ns)


def open_model_file(path: str | Path) -> tuple[ModelFileInfo, GGUFHeader]:
    """Like inspect_model_file, also returning the parsed header (metadata and tensor
    table) for callers that need more than the basics."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelMissing(f"The model file {p} does not exist.", path=str(p))
    if p.is_dir():
        raise ModelMissing(f"{p} is a folder, not a model file.", path=str(p))
    if not p.is_file():  # a FIFO, a device, a socket: reading it could block or never end
        raise ModelFileError(f"{p} is not a regular file, so it is not a model file.", path=str(p))
    size = p.stat().st_size
    if size == 0:
        raise NotAGGUF(f"{p.name} is empty (0 bytes); it is not a model.", path=str(p))
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelFileError(f"{p.name} could not be read ({exc.strerror or exc}).", path=str(p)) from exc
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
        header = read_header(p)
    except HeaderError as exc:
        raise CorruptModel(
            f"{p.name} is damaged or incomplete (perhaps an interrupted download), or is not a valid "
            f"model file: its header {exc}. Download it again or choose another file.",
            path=str(p), reason=str(exc),
        ) from exc
    except OSError as exc:
        raise ModelFileError(f"{p.name} could not be read ({exc.strerror or exc}).", path=str(p)) from exc
    data_end = max((t.data_offset + t.n_bytes for t in header.tensors), default=0)
    if data_end > size:
        raise CorruptModel(incomplete, path=str(p), expected_bytes=data_end, size_bytes=size)
    # Strings from the file are kept exactly as written: whoever shows them shows plain text.
    arch = _text(header, "general.architecture") or ""
    info = ModelFileInfo(
        path=p,
        size_bytes=size,
        architecture=arch,
        name=_text(header, "general.name") or p.stem,
        block_count=_count(header, f"{arch}.block_count"),
        context_length=_count(header, f"{arch}.context_length"),
        has_chat_template=_text(header, "tokenizer.chat_template") is not None,
    )
    if len(_checked) > 64:
        _checked.clear()
    _checked[_version(p)] = info
    return info, header
