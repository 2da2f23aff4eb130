"""A small file is replaced whole or not at all, and is private from its first byte."""

from __future__ import annotations

import os
import stat

import pytest

from app.core import atomic_write
from app.core.atomic_write import write_atomic


def test_the_file_is_replaced_and_private(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    write_atomic(path, "new ✓", prefix=".a-")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    path.write_text("old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_write.os, "replace", full_disk)
    with pytest.raises(OSError):
        write_atomic(path, "new", prefix=".a-")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
