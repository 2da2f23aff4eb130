"""Word (.docx) text with python-docx, after checking the zip is not a bomb."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable

from app.core.documents.errors import CorruptDocument, ExtractionCancelled, FileTooLarge

# python-docx inflates every XML part into memory, so the zip's declared sizes are
# checked first: a few kilobytes can declare gigabytes.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200  # compressed XML rarely beats 20:1; a bomb is in the thousands
# zipfile builds an object per entry before any size is known: 50 MB of empty entries
# is 600,000 of them (3 s, 330 MB). A real .docx has dozens, its directory a few KB.
MAX_ENTRIES = 10_000
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
_END_OF_DIRECTORY = b"PK\x05\x06"
CANCEL_EVERY = 50  # body blocks between cancel checks


def check_zip(data: bytes, name: str, max_unpacked: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse a .docx that is not a zip, lacks a document part, or unpacks too large."""
    # The end record, found as zipfile finds it, gives the directory's size before it is parsed.
    end = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 65_557))
    if end >= 0 and int.from_bytes(data[end + 12:end + 16], "little") > MAX_DIRECTORY_BYTES:
        raise FileTooLarge(f"{name} lists far more parts than a Word document has; it is not read.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CorruptDocument(f"{name} is damaged or is not a Word document.") from None
    if len(infos) > MAX_ENTRIES:
        raise FileTooLarge(f"{name} holds {len(infos):,} parts, far more than a Word document has; it is not read.")
    if not any(i.filename == "word/document.xml" for i in infos):
        raise CorruptDocument(f"{name} is not a Word document (it has no document part).")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > max_unpacked or (total > 10 * 1024 * 1024 and total / packed > MAX_RATIO):
        raise FileTooLarge(
            f"{name} unpacks to {total / 1e6:,.0f} MB, more than Ponder reads from one document "
            f"({max_unpacked / 1e6:,.0f} MB); it may be a zip bomb."
        )


def _table_text(table) -> str:
    """Each cell's text once, row by row, from the XML as it is. python-docx's
    row.cells repeats a cell for every grid column it spans (gridSpan="2000000000"
    is two billion copies) and follows vertical merges upwards row by row."""
    from docx.table import _Cell

    rows = []
    for tr in table._tbl.tr_lst:
        cells = [_Cell(tc, table).text.replace("\n", " ").strip() for tc in tr.tc_lst]
        rows.append(" | ".join(cells))
    return "\n".join(rows)


def read_docx(data: bytes, name: str, progress: Callable[[int, int], None] | None = None,
              cancel: threading.Event | None = None) -> str:
    """Paragraphs and tables in document order, one paragraph per line."""
    import docx  # loads lxml: only when a Word file is read, not at start-up
    from docx.opc.exceptions import PackageNotFoundError
    from docx.text.paragraph import Paragraph

    check_zip(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(document.iter_inner_content())
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CorruptDocument(f"{name} is damaged or is not a Word document ({exc}).") from None
    except Exception as exc:  # lxml's XMLSyntaxError and friends from a broken part
        raise CorruptDocument(f"{name} is damaged: {type(exc).__name__}: {exc}") from None
    lines = []
    total = len(blocks)
    for i, block in enumerate(blocks):
        if i % CANCEL_EVERY == 0:
            if cancel is not None and cancel.is_set():
                raise ExtractionCancelled("Reading was cancelled.")
            if progress is not None and i:
                progress(i, total)
        if isinstance(block, Paragraph):
            lines.append(block.text)
        else:
            lines.append(_table_text(block))
    if progress is not None:
        progress(total, total)
    return "\n".join(lines)
