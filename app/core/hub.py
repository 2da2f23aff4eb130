"""Talking to the Hugging Face Hub: a file's size, sha256 and commit, and errors in plain words.

Every call takes `endpoint`: huggingface_hub reads HF_ENDPOINT once, at import, into
`huggingface_hub.constants.ENDPOINT`, so a per-call endpoint is the supported way to
point one call elsewhere (tests use a local Hub that way). None means HF_ENDPOINT or
huggingface.co.
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass

import httpx2
from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from app.core.errors import (
    AccessDenied,
    AppError,
    DiskFull,
    DownloadCancelled,
    DownloadError,
    NoNetwork,
    NotFoundOnHub,
    OfflineMode,
    ServerError,
)
from app.core.names import check_filename, check_repo_id, check_revision, is_commit
from app.core.retry import RetryPolicy  # noqa: F401 (part of this module's API)
from app.core.verify import is_sha256

TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    filename: str
    commit: str
    sha256: str
    size: int
    url: str  # the resolve URL pinned to `commit`, so the bytes cannot change under a resume


def is_offline() -> bool:
    """HF_HUB_OFFLINE, read now (the library's constant is read at import) or at import."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return constants.is_offline_mode() or value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def translate(exc: BaseException, what: str) -> AppError:
    """The AppError for an exception raised by huggingface_hub or httpx2 while fetching `what`."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, OfflineModeIsEnabled):
        return OfflineMode(f"Offline mode is on (HF_HUB_OFFLINE), and {what} is not downloaded yet.")
    if isinstance(exc, GatedRepoError):
        return AccessDenied(
            f"{what} is in a gated repository: accept its terms on huggingface.co and log in "
            f"(hf auth login), or pick another source.", status=_status(exc))
    if isinstance(exc, (RemoteEntryNotFoundError, RevisionNotFoundError)):
        return NotFoundOnHub(f"{what} was not found on the Hub.", status=_status(exc))
    if isinstance(exc, RepositoryNotFoundError):
        # The Hub answers 401 for missing and private repositories alike.
        return NotFoundOnHub(f"The repository of {what} was not found on the Hub (or it is private).",
                             status=_status(exc))
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc)
        if status in (401, 403):
            return AccessDenied(f"The Hub refused access to {what} (HTTP {status}); it may need a token.",
                                status=status)
        if status == 404:
            return NotFoundOnHub(f"{what} was not found on the Hub.", status=status)
        if status in TRANSIENT_STATUS:
            return ServerError(f"The Hub is having trouble (HTTP {status}) serving {what}. Try again later.",
                               status=status)
        return DownloadError(f"The Hub answered HTTP {status} for {what}.", status=status)
    if isinstance(exc, httpx2.TimeoutException):
        return NoNetwork(f"The connection timed out while fetching {what}. Check your network and try again.")
    if isinstance(exc, (httpx2.NetworkError, httpx2.RemoteProtocolError, httpx2.ProxyError)):
        return NoNetwork(f"No connection to the Hub while fetching {what}. Check your network and try again.",
                         reason=str(exc))
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DiskFull(f"The disk filled up while downloading {what}. Free some space and resume the download.")
    return DownloadError(f"Downloading {what} failed: {exc}")


def _status(exc: HfHubHTTPError) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def retryable(err: AppError) -> bool:
    return isinstance(err, ServerError) or (isinstance(err, NoNetwork) and not isinstance(err, OfflineMode))


def wait(cancel: threading.Event | None, seconds: float) -> None:
    """Sleep for a backoff, waking at once on cancel."""
    if cancel is None:
        threading.Event().wait(seconds)
    elif cancel.wait(seconds):
        raise DownloadCancelled("The download was cancelled.")


def remote_file(repo_id: str, filename: str, *, revision: str = "main", endpoint: str | None = None,
                token: str | bool | None = None, retry: RetryPolicy = RetryPolicy(),
                cancel: threading.Event | None = None) -> RemoteFile:
    """Size, sha256 and commit of a file on the Hub, from its HEAD /resolve answer.

    The sha256 of an LFS file is its ETag (X-Linked-Etag when redirected to the CDN).
    Server errors are retried `retry.attempts` times; a refused connection is not
    (that is "no network", which people should hear about at once).
    """
    check_repo_id(repo_id)
    check_filename(filename, repo_id)
    check_revision(revision)
    what = f"{repo_id}/{filename}"
    if is_offline():
        raise OfflineMode(f"Offline mode is on (HF_HUB_OFFLINE), and {what} is not downloaded yet.")
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    failures = 0
    while True:
        try:
            meta = get_hf_file_metadata(url, token=token, endpoint=endpoint, timeout=constants.HF_HUB_ETAG_TIMEOUT)
            break
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AppError here
            err = translate(exc, what)
            failures += 1
            if not isinstance(err, ServerError) or failures >= retry.attempts:
                if isinstance(err, ServerError):
                    err = ServerError(f"{err.user_message} (gave up after {failures} tries)", **err.details)
                raise err from exc
            wait(cancel, retry.delay(failures))
    if not meta.commit_hash:
        raise DownloadError(f"{endpoint or constants.ENDPOINT} does not look like a Hugging Face Hub "
                            f"(no X-Repo-Commit header for {what}).")
    if not is_commit(meta.commit_hash):
        # It becomes a folder name in the cache (snapshots/<commit>): "../.." there would
        # put the file anywhere.
        shown = repr(meta.commit_hash[:60])
        raise DownloadError(f"{endpoint or constants.ENDPOINT} sent {shown} as the commit of {what}, which is not "
                            f"a commit id (40 hex characters); nothing was downloaded.")
    if not is_sha256(meta.etag) or meta.size is None:
        raise DownloadError(f"The Hub gave no sha256 checksum or size for {what}, so it could not be verified; "
                            f"only files stored with Git LFS (as GGUF files are) can be downloaded.")
    return RemoteFile(repo_id=repo_id, filename=filename, commit=meta.commit_hash, sha256=meta.etag.lower(),
                      size=int(meta.size), url=hf_hub_url(repo_id, filename, revision=meta.commit_hash,
                                                          endpoint=endpoint))


def remote_sizes(repo_id: str, filenames: list[str], *, endpoint: str | None = None,
                 token: str | bool | None = None) -> dict[str, tuple[int, str | None]]:
    """{filename: (size, sha256)} for the files of one repository, in one request (paths-info)."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    if is_offline():
        return {}
    try:
        infos = HfApi(endpoint=endpoint).get_paths_info(repo_id, filenames, token=token)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc, repo_id) from exc
    out = {}
    for info in infos:
        lfs = getattr(info, "lfs", None)
        size = getattr(info, "size", None)
        if size is not None:
            out[info.path] = (int(lfs.size if lfs else size), lfs.sha256 if lfs else None)
    return out
