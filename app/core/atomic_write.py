"""Replacing a small file whole: written to a temporary file beside it, then renamed.

A crash or a full disk midway leaves the old file as it was, never half a file; the
temporary file is made by mkstemp, so it (and the file it becomes) is readable by this
user only, from the first byte.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, *, prefix: str) -> None:
    """Put `text` (UTF-8) at `path`; `prefix` names the temporary file (".settings-").
    Raises OSError; nothing is left behind when it does."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
