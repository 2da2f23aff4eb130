"""The worker behind model downloads: Hub sizes, downloads and sha256 checks, off the GUI thread.

It lives in its own QThread (never the GenerationWorker's: a 9 GB download must not
hold up a reply, nor a reply a download). The GUI thread asks through queued signals
and stops a job with the threading.Event it passed in; the worker answers only through
its own signals. All the work is the core's (app.core.download / verify / hub).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core.catalog import CatalogFile
from app.core.errors import (
    AppError,
    ChecksumMismatch,
    DiskFull,
    DownloadCancelled,
    NoNetwork,
    OfflineMode,
)
from app.core.retry import RetryPolicy
from app.core.verify import VerifiedStore

log = logging.getLogger(__name__)
VERIFY_REPORT_EVERY_S = 0.1  # hashing reports per 4 MB chunk; the dialog needs ~10 a second


@dataclass(frozen=True)
class DownloadPlace:
    """Where downloads go and which Hub they come from (tests point these at a local Hub)."""

    store: VerifiedStore
    cache_dir: Path | None = None
    dest_dir: Path | None = None
    endpoint: str | None = None
    retry: RetryPolicy = RetryPolicy()


def failure_kind(exc: AppError) -> str:
    """"network", "offline", "disk", "checksum" or "other": what the person can do next differs."""
    if isinstance(exc, OfflineMode):
        return "offline"
    if isinstance(exc, NoNetwork):
        return "network"
    if isinstance(exc, DiskFull):
        return "disk"
    if isinstance(exc, ChecksumMismatch):
        return "checksum"
    return "other"


class DownloadWorker(QObject):
    download_progressed = Signal(str, object)  # catalog file id, core Progress
    download_finished = Signal(str, str)  # catalog file id, path of the verified file
    download_stopped = Signal(str)  # catalog file id: paused or cancelled, partial kept
    download_failed = Signal(str, str, str)  # catalog file id, user message, failure_kind()
    verify_progressed = Signal(str, object, object)  # path, bytes hashed, total (object: > 2 GB)
    verify_finished = Signal(str, bool, str)  # path, ok, user message when not ok
    sizes_ready = Signal(object)  # {"owner/repo/file": size} read from the Hub

    def __init__(self, place: DownloadPlace) -> None:
        super().__init__()
        self.place = place

    @Slot(object, object)
    def download(self, cfile: CatalogFile, cancel: threading.Event) -> None:
        p = self.place
        try:
            from app.core.download import download_catalog_file  # huggingface_hub: on first use

            result = download_catalog_file(
                cfile, store=p.store, cache_dir=p.cache_dir, dest_dir=p.dest_dir, endpoint=p.endpoint,
                retry=p.retry, cancel=cancel, progress=lambda prog: self.download_progressed.emit(cfile.id, prog))
        except DownloadCancelled:
            self.download_stopped.emit(cfile.id)
            return
        except AppError as exc:
            self.download_failed.emit(cfile.id, exc.user_message, failure_kind(exc))
            return
        except Exception as exc:  # never let a failure kill the worker thread
            log.exception("download failed")
            self.download_failed.emit(cfile.id, f"The download failed: {exc}", "other")
            return
        self.download_finished.emit(cfile.id, str(result.path))

    @Slot(str, str, object)
    def verify(self, path: str, sha256: str, cancel: threading.Event) -> None:
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= VERIFY_REPORT_EVERY_S or done >= total:
                last[0] = now
                self.verify_progressed.emit(path, done, total)

        try:
            self.place.store.verify(Path(path), sha256, cancel, report)
        except DownloadCancelled:
            self.verify_finished.emit(path, False, "")
            return
        except (AppError, OSError) as exc:
            message = exc.user_message if isinstance(exc, AppError) else f"{path} could not be read: {exc}"
            self.verify_finished.emit(path, False, message)
            return
        self.verify_finished.emit(path, True, "")

    @Slot(object)
    def sizes(self, wanted: dict) -> None:
        """`wanted`: {repo_id: [filenames]}. Offline or unreachable gives what it got (maybe nothing)."""
        out: dict[str, int] = {}
        for repo_id, names in wanted.items():
            try:
                from app.core import hub

                for name, (size, _sha) in hub.remote_sizes(repo_id, names, endpoint=self.place.endpoint).items():
                    out[f"{repo_id}/{name}"] = size
            except AppError as exc:
                log.info("sizes from the Hub unavailable for %s: %s", repo_id, exc.user_message)
                if isinstance(exc, NoNetwork):
                    break  # one unreachable repository means they all are
        self.sizes_ready.emit(out)
