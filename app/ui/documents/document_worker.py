"""Reading attached files on a thread of their own.

Not the generation worker's thread: that one may be busy with a reply for minutes,
and a dropped file should be read at once. Each file is one queued job with its own
cancel event, so one chip can be cancelled without touching the others; a job
cancelled before its turn comes ends at once.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.core.documents import ExtractionJob, ExtractionProgress
from app.core.documents.model import Document
from app.core.documents.persist import known_documents
from app.core.store import Store
from app.ui.thread_exit import end_thread

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.05  # at most ~20 chip updates a second, however fast pages come


class DocumentWorker(QObject):
    progressed = Signal(int, int, int, str)  # job id, done, total, unit ("page" / "part")
    extracted = Signal(int, object)  # job id, Document (error set when it failed or was cancelled)

    def __init__(self, db_path: Path | None) -> None:
        super().__init__()
        self._db_path = db_path
        self._store: Store | None = None  # this thread's own connection (sqlite3's rule)

    def _known(self):
        if self._db_path is None:
            return None
        try:
            if self._store is None:
                self._store = Store(self._db_path)
            return known_documents(self._store)
        except Exception:  # reading the file again is the fallback, not an error
            log.exception("document reuse lookup unavailable")
            return None

    @Slot(int, str, object)
    def extract(self, job_id: int, path: str, cancel: threading.Event) -> None:
        last = [0.0]

        def progress(p: ExtractionProgress) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or p.done >= p.total:
                last[0] = now
                self.progressed.emit(job_id, p.done, p.total, p.unit)

        try:
            doc = ExtractionJob([path], cancel=cancel, on_progress=progress, known=self._known()).run()[0]
        except Exception as exc:  # the core turns failures into Documents; this is the last net
            log.exception("reading %s failed", path)
            doc = Document(name=Path(path).name, error=f"{Path(path).name} could not be read: {exc}", path=path)
        self.extracted.emit(job_id, doc)

    @Slot()
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class DocumentReader(QObject):
    """Owns the reading thread on the GUI side: queue files, cancel them, shut down."""

    progressed = Signal(int, int, int, str)
    extracted = Signal(int, object)
    _extract_requested = Signal(int, str, object)

    def __init__(self, db_path: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next = 0
        self._cancels: dict[int, threading.Event] = {}
        self._thread = QThread()
        self._thread.setObjectName("documents")
        self._worker = DocumentWorker(db_path)
        self._worker.moveToThread(self._thread)
        # Direct: the worker's own connection is closed on its thread as the loop ends.
        self._thread.finished.connect(self._worker.close, Qt.ConnectionType.DirectConnection)
        self._extract_requested.connect(self._worker.extract)
        self._worker.progressed.connect(self._progressed)
        self._worker.extracted.connect(self._extracted)
        self._thread.start()

    def read(self, path: str) -> int:
        """Queue `path`; returns the job id its signals carry."""
        self._next += 1
        self._cancels[self._next] = threading.Event()
        self._extract_requested.emit(self._next, path, self._cancels[self._next])
        return self._next

    def cancel(self, job_id: int) -> None:
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()

    @property
    def reading(self) -> int:
        return len(self._cancels)

    def _progressed(self, job_id: int, done: int, total: int, unit: str) -> None:
        if job_id in self._cancels:
            self.progressed.emit(job_id, done, total, unit)

    def _extracted(self, job_id: int, doc: Document) -> None:
        if self._cancels.pop(job_id, None) is not None:
            self.extracted.emit(job_id, doc)

    def shutdown(self) -> None:
        """Cancel what is queued or running, close the worker's store, end the thread."""
        if not self._thread.isRunning():
            return
        for event in self._cancels.values():
            event.set()
        self._cancels.clear()
        end_thread(self._thread)
