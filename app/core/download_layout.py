"""Where a download lives on disk: a blob in huggingface_hub's cache (with its snapshot
link and ref, laid out as huggingface_hub does) or a file in a chosen folder; its partial
file and lock; and the check that every path stays inside the folder it was meant for."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from app.core import hub
from app.core import partial_files as files
from app.core.errors import DownloadError
from app.core.names import is_inside
from app.core.verify import is_sha256


def default_cache_dir() -> Path:
    return Path(constants.HF_HUB_CACHE)


@dataclass(frozen=True, slots=True)
class Target:
    final: Path  # the verified file ends up here (a blob in the HF cache, or DIR/filename)
    partial: Path
    lock: Path
    pointer: Path | None  # cache mode: snapshots/<commit>/<filename>
    storage: Path | None  # cache mode: models--owner--name


def repo_folder(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def lock_dir() -> Path:
    """Locks of downloads into a chosen folder: the user's own cache, not the (maybe shared)
    download folder, nor the system's temp folder, where anyone can plant a link at a
    predictable name and the lock's open would truncate its target."""
    from app import paths

    return paths.cache_dir() / "download-locks"


def partial_name(final: Path, sha256: str) -> str:
    # The sha256 in the name: a partial of an older revision is never continued with newer bytes.
    name = f".{final.name}.{sha256[:16]}.incomplete"
    # A file name near the 255-byte limit leaves no room for the additions.
    return name if len(name.encode("utf-8", "surrogatepass")) <= 255 else f".{sha256}.incomplete"


def target(remote: hub.RemoteFile, cache_dir: Path | None, dest_dir: Path | None) -> Target:
    if dest_dir is not None:
        final = Path(dest_dir).expanduser() / remote.filename
        partial = final.with_name(partial_name(final, remote.sha256))
        # The lock lives outside the folder, which then holds nothing but models and partials.
        lock = lock_dir() / f"{remote.sha256}.lock"
        return Target(final, partial, lock, None, None)
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    storage = cache / repo_folder(remote.repo_id)
    blob = storage / "blobs" / remote.sha256
    lock = cache / ".locks" / repo_folder(remote.repo_id) / f"{remote.sha256}.lock"  # huggingface_hub's own lock
    pointer = storage / "snapshots" / remote.commit / Path(*remote.filename.split("/"))
    return Target(blob, blob.with_name(blob.name + ".incomplete"), lock, pointer, storage)


def root_of(t: Target, dest_dir: Path | None) -> Path:
    """The folder every path of this download must stay inside."""
    return t.storage if t.storage is not None else Path(dest_dir).expanduser()


def ensure_inside(path: Path, root: Path, what: str) -> None:
    """Refuse a path that a link (or anything else) makes resolve outside `root`."""
    if not is_inside(path, root):
        raise DownloadError(
            f"{what} would be written to {os.path.realpath(path)}, outside {root}: a link in that folder points "
            f"elsewhere. Nothing was written there; remove the link or choose another folder.", path=str(path))


def link_into_cache(t: Target, remote: hub.RemoteFile, revision: str) -> Path:
    """snapshots/<commit>/<file> -> ../../blobs/<sha256>, and refs/<revision>, as huggingface_hub lays them out."""
    assert t.pointer is not None and t.storage is not None
    what = f"{remote.repo_id}/{remote.filename}"
    t.pointer.parent.mkdir(parents=True, exist_ok=True)
    ensure_inside(t.pointer.parent, t.storage, what)
    if not t.pointer.exists():
        if os.path.islink(t.pointer):  # a dangling link: replaced, never written through
            t.pointer.unlink()
        try:
            os.symlink(os.path.relpath(t.final, t.pointer.parent), t.pointer)
        except OSError:
            # No symlinks (Windows without developer mode): huggingface_hub moves the blob
            # into the snapshot in that case; so do we.
            os.replace(t.final, t.pointer)
    ensure_inside(t.pointer, t.storage, what)
    if revision != remote.commit:
        refs = t.storage / "refs" / revision
        refs.parent.mkdir(parents=True, exist_ok=True)
        ensure_inside(refs.parent, t.storage, what)
        # Written aside and renamed: a link planted at refs/<revision> is replaced, not followed.
        tmp = refs.with_name(f".{refs.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | files.OPEN_FLAGS, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(remote.commit)
        os.replace(tmp, refs)
    return t.pointer


def local_copy(repo_id: str, filename: str, revision: str, cache_dir: Path | None,
                dest_dir: Path | None) -> tuple[Path, str | None] | None:
    """A file already on disk for this repo/file, with the sha256 it should have if known."""
    if dest_dir is not None:
        p = Path(dest_dir).expanduser() / filename
        return (p, None) if p.is_file() and is_inside(p, Path(dest_dir).expanduser()) else None
    cache = Path(cache_dir or default_cache_dir()).expanduser()
    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache), revision=revision)
    # refs/<revision> is a file on disk: what it says is checked like anything else from outside.
    if isinstance(found, str) and os.path.isfile(found) and is_inside(Path(found), cache / repo_folder(repo_id)):
        blob = Path(os.path.realpath(found))
        return Path(found), (blob.name if is_sha256(blob.name) else None)
    return None
