"""sha256 checks of model files, remembered so a 9 GB file is hashed once, not every launch.

The record lives in a small JSON file outside the model folders (the HF cache may be
shared or read-only). A file counts as verified only while its path, size and mtime
are the ones that were hashed; any change means hashing again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from app.core.atomic_write import write_atomic
from app.core.errors import ChecksumMismatch, DownloadCancelled

log = logging.getLogger(__name__)
CHUNK = 4 << 20


def is_sha256(value: str | None) -> bool:
    return bool(value) and len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower())


def sha256_file(path: Path, cancel: threading.Event | None = None,
                progress: Callable[[int, int], None] | None = None) -> str:
    """Hash a file; `progress(done, total)` per chunk; `cancel` stops it (DownloadCancelled)."""
    h = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("Checking the file was cancelled.")
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return h.hexdigest()


def _key(path: Path) -> str:
    return str(Path(path).resolve())


class VerifiedStore:
    """path -> {size, mtime_ns, sha256, ok} for files that were hashed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data.get("files", {}) if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("verification record %s unreadable (%s); files will be hashed again", self.path, exc)
            return {}

    def _read_all(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write(self, files: dict | None = None, partials: dict | None = None) -> None:
        data = self._read_all()
        data["schema_version"] = 1
        if files is not None:
            data["files"] = files
        if partials is not None:
            data["partials"] = partials
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(data, indent=1), prefix=".verified-")

    def record(self, path: Path, sha256: str, ok: bool, stat: os.stat_result | None = None) -> None:
        """Remember the result for `path` as it is now (or as `stat` says it will be after a rename)."""
        st = stat or Path(path).stat()
        with self._lock:
            files = self._read()
            files[_key(path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256.lower(), "ok": ok}
            self._write(files)

    def forget(self, path: Path) -> None:
        with self._lock:
            files = self._read()
            if files.pop(_key(path), None) is not None:
                self._write(files)

    def note_partial(self, key: str, partial: Path, size: int, sha256: str) -> None:
        """Remember an unfinished download ("owner/repo/file") so listings can show it."""
        with self._lock:
            partials = self._read_all().get("partials", {})
            partials[key] = {"partial": str(partial), "size": size, "sha256": sha256}
            self._write(partials=partials)

    def clear_partial(self, key: str) -> None:
        with self._lock:
            partials = self._read_all().get("partials", {})
            if partials.pop(key, None) is not None:
                self._write(partials=partials)

    def partials(self) -> dict[str, dict]:
        """{"owner/repo/file": {partial, size, sha256, done}} for partial files still on disk."""
        out = {}
        for key, entry in self._read_all().get("partials", {}).items():
            try:
                out[key] = {**entry, "done": Path(entry["partial"]).stat().st_size}
            except (OSError, KeyError):
                continue
        return out

    def lookup(self, path: Path) -> dict | None:
        """The record for `path` if it still describes the file on disk, else None."""
        entry = self._read().get(_key(path))
        if not entry:
            return None
        try:
            st = Path(path).stat()
        except OSError:
            return None
        if entry.get("size") != st.st_size or entry.get("mtime_ns") != st.st_mtime_ns:
            return None
        return entry

    def state(self, path: Path, expected_sha256: str | None = None) -> str:
        """"verified", "corrupt" or "unverified" without hashing anything."""
        entry = self.lookup(path)
        if entry is None:
            return "unverified"
        if expected_sha256 and entry["sha256"] != expected_sha256.lower():
            return "corrupt"
        return "verified" if entry.get("ok") else "corrupt"

    def expected(self, path: Path) -> str | None:
        entry = self._read().get(_key(path))
        return entry["sha256"] if entry else None

    def verify(self, path: Path, expected_sha256: str, cancel: threading.Event | None = None,
               progress: Callable[[int, int], None] | None = None) -> Path:
        """Return `path` once its sha256 matches; raise ChecksumMismatch if it does not.

        A recorded match for the same size and mtime is trusted; otherwise the file is hashed.
        """
        expected = expected_sha256.lower()
        entry = self.lookup(path)
        if entry is not None and entry["sha256"] == expected:
            if entry.get("ok"):
                return Path(path)
            raise _mismatch(path)
        st = Path(path).stat()
        digest = sha256_file(Path(path), cancel, progress)
        ok = digest == expected
        if not ok:
            # Remember the expected hash so listings can show "corrupt" without hashing again.
            self.record(path, expected, ok=False, stat=st)
            raise _mismatch(path, actual=digest, expected=expected)
        self.record(path, expected, ok=True, stat=st)
        return Path(path)


def _mismatch(path: Path, **details) -> ChecksumMismatch:
    return ChecksumMismatch(
        f"{Path(path).name} is damaged: its checksum does not match the one published on the Hub. "
        f"Delete it and download it again.",
        path=str(path), **details,
    )
