"""Models on the GUI thread: the catalog, what is on disk, the one running download, and the
check before a file is first loaded.

It outlives the models dialog (a download goes on while the dialog is closed and the
status bar shows it) and owns two worker threads, started on first use: one for
downloads, one for Hub sizes and sha256 checks, so a size lookup or a check never
waits behind a 9 GB download. A corrupt file is never handed to the model loader.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from app.core.catalog import Catalog, CatalogFile
from app.core.local_models import CatalogState, FoundModel, ImportedModels, catalog_states, discover
from app.core.verify import is_sha256
from app.ui.models.download_worker import DownloadPlace, DownloadWorker
from app.ui.thread_exit import end_thread

log = logging.getLogger(__name__)


@dataclass
class ActiveDownload:
    file: CatalogFile
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: object = None  # the last core Progress
    delete_partial: bool = False  # cancelled: remove the partial once the worker let go of it


class ModelManager(QObject):
    states_changed = Signal()  # something on disk changed: listings should be read again
    download_started = Signal(str)  # catalog file id
    download_progressed = Signal(str, object)  # catalog file id, Progress
    download_finished = Signal(str, str)  # catalog file id, verified path
    download_stopped = Signal(str, bool)  # catalog file id, partial deleted
    download_failed = Signal(str, str, str)  # catalog file id, message, kind (see failure_kind)
    sizes_ready = Signal(object)  # {"owner/repo/file": exact size}
    verify_started = Signal(str)  # path
    verify_progressed = Signal(str, object, object)  # path, done, total
    model_ready = Signal(str)  # a path that may be loaded now (verified, or nothing to check against)
    model_refused = Signal(str, str)  # path, why (damaged: offer to download it again)

    _download_requested = Signal(object, object)
    _verify_requested = Signal(str, str, object)
    _sizes_requested = Signal(object)

    def __init__(self, catalog: Catalog, place: DownloadPlace, imported: ImportedModels,
                 models_dir: Path | None = None, lmstudio: list[Path] | None = None) -> None:
        super().__init__()
        self.catalog = catalog
        self.place = place
        self.store = place.store
        self.imported = imported
        self.models_dir = models_dir
        self.lmstudio = lmstudio
        self.active: ActiveDownload | None = None
        self.exact_sizes: dict[str, int] = {}
        self._verifying: dict[str, threading.Event] = {}
        self._threads: list[QThread] = []
        self._downloader: DownloadWorker | None = None
        self._checker: DownloadWorker | None = None

    # -- threads, started on first use ---------------------------------------------------

    def _worker(self, name: str) -> DownloadWorker:
        worker = DownloadWorker(self.place)
        thread = QThread()
        thread.setObjectName(name)
        worker.moveToThread(thread)
        thread.finished.connect(worker.deleteLater)
        thread.start()
        self._threads.append(thread)
        return worker

    def _download_worker(self) -> DownloadWorker:
        if self._downloader is None:
            w = self._downloader = self._worker("model-download")
            self._download_requested.connect(w.download)
            w.download_progressed.connect(self._on_progress)
            w.download_finished.connect(self._on_finished)
            w.download_stopped.connect(self._on_stopped)
            w.download_failed.connect(self._on_failed)
        return self._downloader

    def _check_worker(self) -> DownloadWorker:
        if self._checker is None:
            w = self._checker = self._worker("model-check")
            self._verify_requested.connect(w.verify)
            self._sizes_requested.connect(w.sizes)
            w.verify_progressed.connect(self.verify_progressed)
            w.verify_finished.connect(self._on_verified)
            w.sizes_ready.connect(self._on_sizes)
        return self._checker

    def shutdown(self) -> None:
        """Stop the download (its partial is kept) and any check, and end the threads."""
        if self.active is not None:
            self.active.cancel.set()
        for cancel in self._verifying.values():
            cancel.set()
        for thread in self._threads:
            end_thread(thread)  # bounded: a stalled network read must not hold the window open
        self._threads.clear()
        self._downloader = self._checker = None

    # -- listings ---------------------------------------------------------------------------

    def states(self) -> list[CatalogState]:
        cache = self.place.cache_dir or _hf_cache()
        return catalog_states(self.catalog, self.store, cache, self.place.dest_dir or self.models_dir)

    def found(self) -> list[FoundModel]:
        """GGUFs on this computer that are not catalog downloads: imported first, then others to add."""
        catalog_paths = {_real(s.path) for s in self.states() if s.path is not None}
        imported = self.imported.found()
        seen = catalog_paths | {_real(m.path) for m in imported}
        cache = self.place.cache_dir or _hf_cache()
        others = [m for m in discover(cache, self.models_dir, self.lmstudio) if _real(m.path) not in seen]
        return imported + others

    def fetch_sizes(self) -> None:
        wanted: dict[str, list[str]] = {}
        for f in self.catalog.files():
            wanted.setdefault(f.primary.repo_id, []).append(f.primary.filename)
        self._check_worker()
        self._sizes_requested.emit(wanted)

    def _on_sizes(self, sizes: dict) -> None:
        self.exact_sizes.update(sizes)
        self.sizes_ready.emit(sizes)

    # -- downloads -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.active is not None

    def start_download(self, cfile: CatalogFile) -> bool:
        """Download (or resume) `cfile`; False while another download runs (one at a time)."""
        if self.active is not None:
            return False
        self.active = ActiveDownload(cfile)
        self._download_worker()
        self._download_requested.emit(cfile, self.active.cancel)
        self.download_started.emit(cfile.id)
        return True

    def pause(self) -> None:
        """Stop the download and keep the partial file; start_download continues it."""
        if self.active is not None:
            self.active.cancel.set()

    def cancel(self, cfile: CatalogFile, delete_partial: bool) -> None:
        """Stop `cfile`'s download, or forget its paused partial; delete the partial if asked."""
        if self.active is not None and self.active.file.id == cfile.id:
            self.active.delete_partial = delete_partial
            self.active.cancel.set()  # the partial goes once the worker has stopped writing it
        elif delete_partial:
            self._delete_partial(cfile)
            self.download_stopped.emit(cfile.id, True)
            self.states_changed.emit()

    def _delete_partial(self, cfile: CatalogFile) -> None:
        partials = self.store.partials()
        for source in cfile.sources:
            entry = partials.get(source.spec)
            if entry:
                Path(entry["partial"]).unlink(missing_ok=True)
                self.store.clear_partial(source.spec)

    def _on_progress(self, file_id: str, progress) -> None:
        if self.active is not None and self.active.file.id == file_id:
            self.active.progress = progress
        self.download_progressed.emit(file_id, progress)

    def _end(self, file_id: str) -> ActiveDownload | None:
        active, self.active = self.active, None
        return active if active is not None and active.file.id == file_id else None

    def _on_finished(self, file_id: str, path: str) -> None:
        self._end(file_id)
        self.states_changed.emit()
        self.download_finished.emit(file_id, path)

    def _on_stopped(self, file_id: str) -> None:
        active = self._end(file_id)
        deleted = bool(active and active.delete_partial)
        if deleted:
            self._delete_partial(active.file)
        self.states_changed.emit()
        self.download_stopped.emit(file_id, deleted)

    def _on_failed(self, file_id: str, message: str, kind: str) -> None:
        self._end(file_id)
        self.states_changed.emit()
        self.download_failed.emit(file_id, message, kind)

    # -- before a file is loaded -------------------------------------------------------------

    def expected_sha256(self, path: Path) -> str | None:
        """The sha256 a file should have: an HF cache blob is named by it, or a download recorded it."""
        blob = Path(os.path.realpath(path)).name
        return blob if is_sha256(blob) else self.store.expected(path)

    def prepare(self, path: str) -> None:
        """model_ready(path) once it is safe to load: at once when verified or when there is
        nothing to check against (a file opened by hand), after hashing when not yet verified;
        model_refused(path, why) when it is damaged."""
        sha = self.expected_sha256(Path(path)) if Path(path).is_file() else None
        if sha is None:
            self.model_ready.emit(path)
            return
        state = self.store.state(Path(path), sha)
        if state == "verified":
            self.model_ready.emit(path)
        elif state == "corrupt":
            self.model_refused.emit(path, _damaged(path))
        elif path not in self._verifying:
            self._verifying[path] = threading.Event()
            self._check_worker()
            self.verify_started.emit(path)
            self._verify_requested.emit(path, sha, self._verifying[path])

    def _on_verified(self, path: str, ok: bool, message: str) -> None:
        cancel = self._verifying.pop(path, None)
        self.states_changed.emit()
        if ok:
            self.model_ready.emit(path)
        elif cancel is not None and not cancel.is_set():
            self.model_refused.emit(path, message or _damaged(path))

    def catalog_file_for(self, path: str) -> CatalogFile | None:
        """The catalog entry a downloaded file belongs to (to offer downloading it again)."""
        real = _real(Path(path))
        for st in self.states():
            if st.path is not None and _real(st.path) == real:
                return st.file
        return None


def _damaged(path: str) -> str:
    return (f"{Path(path).name} is damaged: its checksum does not match the one published on the Hub, "
            f"so it was not loaded. Download it again.")


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _hf_cache() -> Path:
    from app.core.download import default_cache_dir

    return default_cache_dir()
