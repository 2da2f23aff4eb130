"""Reading several files in a row, with progress and cancel, for a worker thread.

Plain Python (no Qt): the GUI runs `ExtractionJob.run` on a worker thread and turns
the callbacks into signals; the CLI calls it directly. Callbacks run on the thread
that calls `run`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.documents.errors import ExtractionCancelled
from app.core.documents.extract import DEFAULT_MAX_BYTES, extract_file
from app.core.documents.model import Document, failed


@dataclass(frozen=True, slots=True)
class ExtractionProgress:
    file_index: int  # 0-based, of file_count
    file_count: int
    name: str
    done: int  # PDF: pages read; other formats: parts read (1 of 1 for text)
    total: int
    unit: str  # "page" or "part"


class ExtractionJob:
    """Extract `paths` in order. One file's failure never stops the others.

    `known(sha256)` may return an already extracted Document (e.g. from the store):
    the same file dropped twice is then read (to hash it) but not extracted again.
    It is called on the thread running the job, so a store lookup there needs its
    own connection.
    """

    def __init__(self, paths: Sequence[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 cancel: threading.Event | None = None,
                 on_progress: Callable[[ExtractionProgress], None] | None = None,
                 on_document: Callable[[int, Document], None] | None = None,
                 known: Callable[[str], Document | None] | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.max_bytes = max_bytes
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.on_document = on_document
        self.known = known

    def run(self) -> list[Document]:
        """One Document per path, in order; those not reached before a cancel carry
        the error "Reading was cancelled."."""
        results: list[Document] = []
        count = len(self.paths)
        for index, path in enumerate(self.paths):
            doc = self._one(index, count, path)
            results.append(doc)
            if self.on_document is not None:
                self.on_document(index, doc)
        return results

    def _one(self, index: int, count: int, path: Path) -> Document:
        if self.cancel.is_set():
            return failed(path.name, ExtractionCancelled("Reading was cancelled."), path=str(path))
        unit = "page" if path.suffix.lower() == ".pdf" else "part"

        def progress(done: int, total: int) -> None:
            if self.on_progress is not None:
                self.on_progress(ExtractionProgress(index, count, path.name, done, total, unit))

        try:
            return extract_file(path, max_bytes=self.max_bytes, progress=progress, cancel=self.cancel,
                                known=self.known)
        except ExtractionCancelled as exc:
            return failed(path.name, exc, path=str(path))


def extract_files(paths: Sequence[str | Path], **kwargs) -> list[Document]:
    """ExtractionJob(paths, **kwargs).run(), for callers that need no thread."""
    return ExtractionJob(paths, **kwargs).run()
