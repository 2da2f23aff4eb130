"""Repository ids, file names, revisions and commits that are safe to turn into paths.

Every one of them comes from outside (a command line, a catalog file, a server's
header) and ends up joined onto a folder. A name is checked before the first request,
and a commit from the server before it is used in any path, so nothing can point a
download at a file outside the folder it was meant for.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from app.core.errors import DownloadError

MAX_COMPONENT_BYTES = 255  # one path component: the limit of ext4, APFS, NTFS
MAX_FILENAME_BYTES = 1024  # a whole file name in a repository: far above any real one, far below PATH_MAX
MAX_REPO_ID = 96  # the Hub's own limit (huggingface_hub.utils.validate_repo_id)
MAX_REVISION = 255
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REPO_PART = re.compile(r"[A-Za-z0-9._-]+")


class InvalidName(DownloadError):
    """A repository id, file name or revision that cannot be used as a path."""


def _shown(value: str, limit: int = 80) -> str:
    """A name from outside as it can be quoted in a message: bounded, control characters escaped."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)


def _path_problem(value: str) -> str | None:
    """Why `value` (slash-separated) cannot be joined onto a folder, or None."""
    if not value:
        return "it is empty"
    if "\x00" in value:
        return "it contains a NUL character"
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return "it contains a control character"
    if "\\" in value:
        return "it contains a backslash"
    if value.startswith("/") or PurePosixPath(value).is_absolute() or PureWindowsPath(value).drive:
        return "it is an absolute path"
    parts = value.split("/")
    if any(p == "" for p in parts):
        return "it has an empty part ('//' or a '/' at the end)"
    if any(p in (".", "..") for p in parts):
        return "it contains '.' or '..' as a folder"
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES for p in parts):
        return f"a part of it is longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def check_repo_id(repo_id: str) -> str:
    """`repo_id` ("owner/name") if it is a valid Hub repository id; else InvalidName."""
    problem = _path_problem(repo_id) if isinstance(repo_id, str) else "it is not text"
    if problem is None:
        parts = repo_id.split("/")
        if len(repo_id) > MAX_REPO_ID:
            problem = f"it is longer than {MAX_REPO_ID} characters"
        elif len(parts) > 2:
            problem = "it has more than one '/' (it should be OWNER/NAME)"
        elif not all(_REPO_PART.fullmatch(p) for p in parts):
            problem = "only letters, digits, '-', '_' and '.' are allowed"
        elif "--" in repo_id or ".." in repo_id:
            problem = "it contains '--' or '..'"
        elif any(p[0] in "-." or p[-1] in "-." for p in parts):
            problem = "a part of it starts or ends with '-' or '.'"
    if problem:
        raise InvalidName(f"{_shown(str(repo_id))} is not a valid repository id: {problem}.", name=str(repo_id)[:200])
    return repo_id


def check_filename(filename: str, repo_id: str = "") -> str:
    """`filename` (a path inside a repository, "/"-separated) if it stays inside any folder it
    is joined onto; else InvalidName."""
    problem = _path_problem(filename) if isinstance(filename, str) else "it is not text"
    if problem is None and len(filename.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        problem = f"it is longer than {MAX_FILENAME_BYTES} bytes"
    if problem:
        where = f" in {repo_id}" if repo_id else ""
        raise InvalidName(f"The file name {_shown(str(filename))}{where} cannot be downloaded: {problem}.",
                          name=str(filename)[:200])
    return filename


def check_revision(revision: str) -> str:
    """A branch, tag or commit name: it becomes refs/<revision> in the Hugging Face cache."""
    problem = _path_problem(revision) if isinstance(revision, str) else "it is not text"
    if problem is None and len(revision) > MAX_REVISION:
        problem = f"it is longer than {MAX_REVISION} characters"
    if problem:
        raise InvalidName(f"{_shown(str(revision))} is not a valid revision: {problem}.", name=str(revision)[:200])
    return revision


def is_commit(value: object) -> bool:
    """A full git commit id: exactly 40 lowercase hex characters."""
    return isinstance(value, str) and _COMMIT.fullmatch(value) is not None


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path`, with every link resolved, is `folder` (resolved) or lies under it."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
