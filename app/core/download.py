"""Model downloads that resume, verify, and fail with a reason instead of a traceback.

Why not just hf_hub_download: in huggingface_hub 2.x every call writes to a new
"<sha256>.<random>.incomplete" file and deletes it on failure, so a download killed
with the app or cut off by the network starts again from zero next time (only a
drop inside one call is resumed). Here the partial file has a stable name (the
blob's name plus ".incomplete"), survives any exit, and the next run asks for the
rest with an HTTP Range. Everything else is huggingface_hub's: the HEAD call for the
size/sha256/commit, its HTTP session (proxies, offline mode, user agent), its error
classes, and its cache layout (blobs/, snapshots/, refs/), so files land where other
tools look for them.

A file is only ever returned after its sha256 matched the Hub's; a file that does not
match is deleted (or reported "corrupt" by the listing) and never handed out.

Names and the server's commit are checked before they become paths (app.core.names);
the partial file is never opened through a symlink, and every path is checked to stay
inside the folder it was meant for: a download folder may be shared with other people.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx2
from huggingface_hub import constants
from huggingface_hub.utils import WeakFileLock, build_hf_headers, get_session, hf_raise_for_status

from app.core import hub
from app.core import download_layout as layout
from app.core import partial_files as files
from app.core.download_layout import default_cache_dir, lock_dir  # noqa: F401 (re-exported)
from app.core.catalog import CatalogFile
from app.core.errors import (
    AccessDenied,
    AppError,
    ChecksumMismatch,
    DiskFull,
    DownloadCancelled,
    DownloadError,
    NotFoundOnHub,
    ServerError,
)
from app.core.names import check_filename, check_repo_id, check_revision
from app.core.verify import VerifiedStore

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.1
SPEED_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class Progress:
    done: int  # bytes on disk, including what an earlier run left
    total: int
    speed: float  # bytes/s over the last few seconds of this run
    eta: float | None  # seconds, None while the speed is unknown

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Downloaded:
    path: Path
    repo_id: str
    filename: str
    sha256: str
    size: int
    resumed_from: int  # bytes already on disk when this run started (0: from scratch)
    fetched: bool  # False when the file was already there


ProgressFn = Callable[[Progress], None]


class _Meter:
    """Turns bytes written into throttled Progress reports."""

    def __init__(self, total: int, start: int, report: ProgressFn | None) -> None:
        self.total, self.done, self.report = total, start, report
        self.samples: deque[tuple[float, int]] = deque([(time.monotonic(), start)])
        self.last = 0.0

    def add(self, n: int, force: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if self.report is None or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > SPEED_WINDOW_S:
            self.samples.popleft()
        t0, d0 = self.samples[0]
        speed = (self.done - d0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - self.done) / speed if speed > 0 else None
        self.report(Progress(self.done, self.total, speed, eta))

    def restart(self) -> None:
        self.done = 0
        self.samples = deque([(time.monotonic(), 0)])


def _transfer(remote: hub.RemoteFile, t: layout.Target, *, token, retry: hub.RetryPolicy,
              cancel: threading.Event, meter: _Meter) -> str:
    """Bring the partial file up to `remote.size` bytes; return the sha256 of all of it.

    Tries are bounded three ways (see app.core.retry): failures in a row without new bytes,
    requests in all, and time without a byte past the furthest one reached. "New" means past
    that point: a server that ignores Range sends bytes every time, but never new ones.
    """
    import hashlib

    hasher = hashlib.sha256()
    have = files.hash_prefix(t.partial, hasher) if os.path.lexists(t.partial) else 0
    if have > remote.size:  # not ours to continue
        t.partial.unlink()
        hasher, have = hashlib.sha256(), 0
    what = f"{remote.repo_id}/{remote.filename}"
    best, last_new = have, time.monotonic()
    tries = failures = 0
    with files.open_partial(t.partial) as fh:
        while have < remote.size:
            if cancel.is_set():
                raise DownloadCancelled("The download was cancelled; it will continue where it stopped.")
            headers = build_hf_headers(token=token)
            headers["Accept-Encoding"] = "identity"  # a compressed answer would break byte offsets
            if have:
                headers["Range"] = f"bytes={have}-"
            tries += 1
            best_before, received = best, 0
            err: AppError | None = None
            cause: BaseException | None = None
            try:
                # The resolve URL, not the CDN address from the HEAD: signed CDN links expire, and
                # httpx2 drops the Authorization header when the redirect leaves the Hub.
                with get_session().stream("GET", remote.url, headers=headers, follow_redirects=True,
                                          timeout=httpx2.Timeout(constants.HF_HUB_DOWNLOAD_TIMEOUT)) as resp:
                    hf_raise_for_status(resp)
                    if have and not _continues_at(resp, have):
                        log.warning("%s: the server ignored the range request; starting over", what)
                        fh.seek(0)
                        fh.truncate()
                        hasher, have = hashlib.sha256(), 0
                        meter.restart()
                    for chunk in resp.iter_bytes():
                        if cancel.is_set():
                            raise DownloadCancelled("The download was cancelled; it will continue where it stopped.")
                        chunk = chunk[: remote.size - have]
                        files.write_all(fh, chunk)
                        hasher.update(chunk)
                        have += len(chunk)
                        received += len(chunk)
                        meter.add(len(chunk))
                        if have > best:  # new bytes reset the count: only a stuck download gives up
                            best, last_new, failures = have, time.monotonic(), 0
                        if have >= remote.size:
                            break
            except (DownloadCancelled, DiskFull):
                raise
            except (OSError, httpx2.HTTPError) as exc:
                err, cause = hub.translate(exc, what), exc
                if not hub.retryable(err):
                    raise err from exc
            if have >= remote.size:
                break
            # This try ended before the end of the file: an error, or a body that simply stopped.
            failures += 1
            stalled = best == best_before and time.monotonic() - last_new > retry.max_stalled_s
            if failures >= retry.attempts or tries >= retry.max_tries or stalled:
                later = f"the download will continue from {files.gb(have)} next time"
                if err is None or received:
                    raise ServerError(f"The server kept ending the download of {what} early ({tries} tries); "
                                      f"try again later ({later}).", tries=tries) from cause
                n = failures if failures >= retry.attempts else tries
                raise type(err)(f"{err.user_message} (gave up after {n} tries; {later})") from cause
            reason = err.user_message if err is not None else "the server ended the answer early"
            log.warning("%s: %s; retry %d (at most %d tries)", what, reason, tries, retry.max_tries)
            hub.wait(cancel, retry.delay(failures))
        os.fsync(fh.fileno())
    meter.add(0, force=True)
    return hasher.hexdigest()


def _continues_at(resp, offset: int) -> bool:
    if resp.status_code != 206:
        return False
    content_range = resp.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    try:
        return int(content_range.split()[1].split("-")[0]) == offset
    except (IndexError, ValueError):
        return False


def download_file(repo_id: str, filename: str, *, store: VerifiedStore, revision: str = "main",
                  cache_dir: Path | None = None, dest_dir: Path | None = None, endpoint: str | None = None,
                  token: str | bool | None = None, progress: ProgressFn | None = None,
                  cancel: threading.Event | None = None, retry: hub.RetryPolicy = hub.RetryPolicy()) -> Downloaded:
    """Download one file from the Hub (or find it on disk), verified by sha256.

    Into the Hugging Face cache (`cache_dir`, default HF_HUB_CACHE) or, with `dest_dir`,
    into that folder as-is. `progress` is called from this thread (~10 Hz). Setting
    `cancel` stops it with DownloadCancelled and keeps the partial file; calling again
    resumes it. Raises DownloadError subclasses with a plain message (InvalidName for a
    repository id, file name or revision that could lead outside the folder).
    """
    # Before anything touches the disk or the network.
    check_repo_id(repo_id)
    check_filename(filename, repo_id)
    check_revision(revision)
    what = f"{repo_id}/{filename}"
    try:
        return _download(repo_id, filename, store=store, revision=revision, cache_dir=cache_dir, dest_dir=dest_dir,
                         endpoint=endpoint, token=token, progress=progress, cancel=cancel or threading.Event(),
                         retry=retry)
    except OSError as exc:  # the disk's answer (a permission, a name too long, a link loop), never a traceback
        raise _disk_error(exc, what) from exc


def _disk_error(exc: OSError, what: str) -> DownloadError:
    if exc.errno == errno.ENOSPC:
        return DiskFull(f"The disk filled up while downloading {what}. Free some space and resume the download.")
    where = f" ({exc.filename})" if exc.filename else ""
    return DownloadError(f"{what} could not be saved: {exc.strerror or exc}{where}. Check that the folder "
                         f"exists and can be written to, or choose another one.", errno=exc.errno)


def _download(repo_id: str, filename: str, *, store: VerifiedStore, revision: str, cache_dir: Path | None,
              dest_dir: Path | None, endpoint: str | None, token, progress: ProgressFn | None,
              cancel: threading.Event, retry: hub.RetryPolicy) -> Downloaded:
    what = f"{repo_id}/{filename}"
    try:
        remote = hub.remote_file(repo_id, filename, revision=revision, endpoint=endpoint, token=token,
                                 retry=retry, cancel=cancel)
    except DownloadError as err:
        # Offline or no network: a copy already on disk and verified is still good to use.
        local = None if isinstance(err, (NotFoundOnHub, AccessDenied)) else layout.local_copy(
            repo_id, filename, revision, cache_dir, dest_dir)
        if local is None:
            raise
        path, sha = local
        sha = sha or store.expected(path)
        if sha is None:
            raise
        store.verify(path, sha, cancel)
        return Downloaded(path, repo_id, filename, sha, path.stat().st_size, 0, fetched=False)
    t = layout.target(remote, cache_dir, dest_dir)
    root = layout.root_of(t, dest_dir)
    for p in (t.final.parent, *(() if t.pointer is None else (t.pointer.parent,))):
        layout.ensure_inside(p, root, what)
    existing = t.final if t.final.exists() else (t.pointer if t.pointer is not None and t.pointer.exists() else None)
    if existing is not None:
        layout.ensure_inside(existing, root, what)
        try:
            store.verify(existing, remote.sha256, cancel)
            path = layout.link_into_cache(t, remote, revision) if t.pointer is not None else existing
            return Downloaded(path, repo_id, filename, remote.sha256, remote.size, 0, fetched=False)
        except ChecksumMismatch:
            log.warning("%s on disk is damaged; downloading it again", existing)
            _remove(existing, t, store)
    t.final.parent.mkdir(parents=True, exist_ok=True)
    layout.ensure_inside(t.final.parent, root, what)
    t.lock.parent.mkdir(parents=True, exist_ok=True)
    if os.path.islink(t.lock):
        # filelock 3.x opens the lock with O_TRUNC, which through a link empties the link's target;
        # 4.x refuses the link with a bare OSError. Either way: a plain message, and nothing touched.
        raise DownloadError(f"The lock file {t.lock} is a link, so {what} was not downloaded. Remove it and try "
                            f"again.", path=str(t.lock))
    try:
        with WeakFileLock(t.lock, timeout=1.0):
            return _fetch(remote, t, root, store=store, revision=revision, token=token, progress=progress,
                          cancel=cancel, retry=retry)
    except TimeoutError as exc:  # filelock.Timeout: another process is downloading this very file
        raise DownloadError(f"{what} is already being downloaded by another process.") from exc


def _remove(existing: Path, t: layout.Target, store: VerifiedStore) -> None:
    for p in {existing, t.final, *(() if t.pointer is None else (t.pointer,))}:
        store.forget(p)
        p.unlink(missing_ok=True)


def _fetch(remote: hub.RemoteFile, t: layout.Target, root: Path, *, store, revision, token, progress, cancel,
           retry) -> Downloaded:
    what = f"{remote.repo_id}/{remote.filename}"
    if t.final.exists():  # finished by another process while we waited for the lock
        layout.ensure_inside(t.final, root, what)
        store.verify(t.final, remote.sha256, cancel)
    else:
        if t.pointer is not None and not os.path.lexists(t.partial):
            _adopt_orphans(t, remote.size)
        start = files.partial_size(t.partial)
        if start > remote.size:
            start = 0
        files.check_space(t.final.parent, remote.size - start, what)
        store.note_partial(what, t.partial, remote.size, remote.sha256)
        meter = _Meter(remote.size, start, progress)
        meter.add(0, force=True)
        digest = _transfer(remote, t, token=token, retry=retry, cancel=cancel, meter=meter)
        if digest != remote.sha256:
            # Which bytes are bad is unknowable: keeping the partial would only resume into the same error.
            t.partial.unlink(missing_ok=True)
            store.clear_partial(what)
            raise ChecksumMismatch(
                f"{remote.filename} arrived damaged: its sha256 does not match the Hub's. The broken copy "
                f"was deleted; download it again.", expected=remote.sha256, actual=digest)
        # Recorded before the rename (which keeps size and mtime), so a crash in between costs one re-hash.
        store.record(t.final, remote.sha256, ok=True, stat=os.lstat(t.partial))
        os.replace(t.partial, t.final)
        store.clear_partial(what)
        # Checked above already; checked again on the finished file, in case the folder changed meanwhile.
        layout.ensure_inside(t.final, root, what)
        log.info("%s downloaded and verified (%d bytes, resumed from %d)", what, remote.size, start)
        path = layout.link_into_cache(t, remote, revision) if t.pointer is not None else t.final
        return Downloaded(path, remote.repo_id, remote.filename, remote.sha256, remote.size, start, fetched=True)
    path = layout.link_into_cache(t, remote, revision) if t.pointer is not None else t.final
    return Downloaded(path, remote.repo_id, remote.filename, remote.sha256, remote.size, 0, fetched=False)


def _adopt_orphans(t: layout.Target, size: int) -> None:
    """Continue from what a killed hf_hub_download left ("<sha256>.<random>.incomplete"):
    it never goes back to those files itself. Safe because we hold the same lock it
    takes before writing one. Only plain files: a link there is nobody's partial."""
    orphans = []
    for p in t.final.parent.glob(f"{t.final.name}.*.incomplete"):
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            orphans.append((st.st_size, p))
    orphans.sort()
    usable = [p for n, p in orphans if n <= size]
    if usable:
        os.replace(usable[-1], t.partial)
        log.info("continuing a download left by another tool (%d bytes)", os.lstat(t.partial).st_size)
    for _, p in orphans:
        if p != (usable[-1] if usable else None):
            p.unlink(missing_ok=True)


def download_catalog_file(cfile: CatalogFile, **kwargs) -> Downloaded:
    """Download a catalog file from its first source that has it; later sources are
    fallbacks for a repository (or file) that is missing, private or gated."""
    for source in cfile.sources:  # before layout.local_copy joins them onto a folder
        check_repo_id(source.repo_id)
        check_filename(source.filename, source.repo_id)
    errors: list[DownloadError] = []
    # A source already on disk goes first: no second copy of the same model, and it works offline.
    sources = sorted(cfile.sources, key=lambda s: layout.local_copy(
        s.repo_id, s.filename, kwargs.get("revision", "main"), kwargs.get("cache_dir"), kwargs.get("dest_dir")) is None)
    for source in sources:
        try:
            return download_file(source.repo_id, source.filename, **kwargs)
        except (NotFoundOnHub, AccessDenied) as err:
            log.warning("%s: %s; trying the next source", source.spec, err.user_message)
            errors.append(err)
    if len(errors) == 1:
        raise errors[0]
    tried = "; ".join(e.user_message for e in errors)
    raise type(errors[-1])(f"{cfile.model_name} {cfile.quant} is not available from any known source. {tried}")

