"""Downloads against a local Hub (tests/hub_server.py) with the real huggingface_hub client.

Each test passes `endpoint=hub.url`: huggingface_hub reads HF_ENDPOINT once at import,
so the per-call argument is how one process talks to a different Hub per test; child
processes get HF_ENDPOINT in their environment instead.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import try_to_load_from_cache

from app.core import download as dl
from app.core import partial_files
from app.core.catalog import CatalogFile, Source
from app.core.errors import (
    AccessDenied,
    ChecksumMismatch,
    DiskFull,
    DownloadCancelled,
    NoNetwork,
    NotFoundOnHub,
    OfflineMode,
    ServerError,
)
from app.core.hub import RetryPolicy
from app.core.verify import VerifiedStore
from tests.hub_server import LocalHub

REPO, FILE = "someone/Tiny-GGUF", "Tiny-Q4_K_M.gguf"
ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=3, base_delay=0.0)


def payload(size: int = 3_000_000, seed: int = 1) -> bytes:
    return np.random.default_rng(seed).bytes(size)


@pytest.fixture
def data(hub) -> bytes:
    blob = payload()
    hub.add(REPO, FILE, blob)
    return blob


@pytest.fixture
def store(tmp_path) -> VerifiedStore:
    return VerifiedStore(tmp_path / "verified.json")


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "hf-cache"


def fetch(hub, store, cache, repo=REPO, filename=FILE, **kw):
    kw.setdefault("retry", FAST)
    return dl.download_file(repo, filename, store=store, cache_dir=cache, endpoint=hub.url, **kw)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.incomplete")] if folder.exists() else []


def test_download_lands_verified_in_the_shared_hf_cache(hub, data, store, cache):
    seen = []
    result = fetch(hub, store, cache, progress=seen.append)
    assert result.fetched and result.resumed_from == 0
    assert result.path.read_bytes() == data and result.sha256 == sha(data)
    # Laid out as huggingface_hub lays it out: other tools find it, and so does its own lookup.
    assert result.path.is_symlink() and Path(os.path.realpath(result.path)).name == sha(data)
    assert try_to_load_from_cache(REPO, FILE, cache_dir=str(cache)) == str(result.path)
    assert store.state(result.path, sha(data)) == "verified"
    assert [p.done for p in seen] == sorted(p.done for p in seen) and seen[-1].done == seen[-1].total == len(data)
    assert not partials(cache)
    # The redirect to the CDN was followed and the bytes came from there.
    assert [s.status for s in hub.requests("cdn", "GET")] == [200]

    hub.clear()
    again = fetch(hub, store, cache)
    assert not again.fetched and again.path == result.path
    assert hub.requests("cdn") == []  # verified once, remembered: no bytes fetched again


def test_download_into_a_chosen_folder(hub, data, store, tmp_path):
    folder = tmp_path / "my models"
    result = dl.download_file(REPO, FILE, store=store, dest_dir=folder, endpoint=hub.url, retry=FAST)
    assert result.path == folder / FILE and result.path.read_bytes() == data
    assert [p.name for p in folder.iterdir()] == [FILE]


def test_network_drop_mid_file_resumes_with_a_range_request(hub, data, store, cache):
    hub.faults.drop_after = 1_000_000
    result = fetch(hub, store, cache)
    assert result.path.read_bytes() == data
    gets = hub.requests("cdn", "GET")
    assert len(gets) == 2 and gets[0].range is None
    start = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= 1_000_000 and gets[1].status == 206


def test_server_that_ignores_range_is_started_over_not_spliced(hub, data, store, cache):
    hub.faults.drop_after = 1_000_000
    hub.faults.ignore_range = True
    result = fetch(hub, store, cache)
    assert result.path.read_bytes() == data
    assert [g.status for g in hub.requests("cdn", "GET")] == [200, 200]


def _download_in_child(hub: LocalHub, home: Path, cache: Path, dest: Path | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "app", "models", "download", f"{REPO}/{FILE}"]
    if dest is not None:
        cmd += ["--dir", str(dest)]
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cache), PONDER_HOME=str(home))
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, folder: Path, at_least: int) -> int:
    """SIGKILL the child once its partial file holds `at_least` bytes; returns what it left."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sizes = [p.stat().st_size for p in partials(folder) if p.exists()]
        if sizes and max(sizes) >= at_least:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            return max(p.stat().st_size for p in partials(folder))
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)  # polling a file another process writes
    proc.kill()
    raise AssertionError("the download never reached the kill point")


def test_resume_after_the_process_is_killed_at_random_points(hub, tmp_path):
    data = payload(4_000_000, seed=7)
    hub.add(REPO, FILE, data)
    rng = random.Random(1234)
    for round_ in range(20):
        hub.faults.chunk, hub.faults.delay = 32 * 1024, 0.002  # ~16 MB/s: a kill lands mid-file
        home, cache = tmp_path / f"home{round_}", tmp_path / f"cache{round_}"
        dest = tmp_path / f"dir{round_}" if round_ % 2 else None  # both the HF cache and a chosen folder
        where = dest or cache
        hub.clear()
        killed_at = _kill_when(_download_in_child(hub, home, cache, dest), where, rng.randint(200_000, 3_500_000))
        # Nothing usable yet: no final file, nothing in the HF cache's snapshots.
        final = dest / FILE if dest else None
        assert final is None or not final.exists()
        assert try_to_load_from_cache(REPO, FILE, cache_dir=str(cache)) is None
        hub.faults.delay = 0.0
        hub.clear()
        out, err = _download_in_child(hub, home, cache, dest).communicate(timeout=120)
        assert err.decode().count("error") == 0, err.decode()
        path = Path(out.decode().strip())
        assert path.read_bytes() == data, f"round {round_}"
        assert not partials(where)
        gets = hub.requests("cdn", "GET")
        assert gets, f"round {round_}: nothing fetched after the kill"
        start = int(gets[0].range.removeprefix("bytes=").rstrip("-"))
        assert 0 < start == killed_at and gets[0].status == 206, (round_, start, killed_at)


def test_continues_what_a_killed_hf_hub_download_left(hub, cache, store):
    # huggingface_hub 2.x itself starts over after a kill, leaving "<sha>.<random>.incomplete".
    # It writes in 10 MiB pieces, so the file must be bigger than that to leave a partial.
    big, name = payload(25_000_000, seed=3), "Big-Q8_0.gguf"
    hub.add(REPO, name, big)
    hub.faults.chunk, hub.faults.delay = 64 * 1024, 0.002
    code = f"from huggingface_hub import hf_hub_download as h; h({REPO!r}, {name!r}, cache_dir={str(cache)!r})"
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HUB_DISABLE_PROGRESS_BARS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    killed_at = _kill_when(proc, cache, 10 << 20)
    assert killed_at < len(big)
    hub.faults.delay = 0.0
    hub.clear()
    result = fetch(hub, store, cache, filename=name)
    assert result.resumed_from == killed_at
    assert result.path.read_bytes() == big and not partials(cache)
    assert hub.requests("cdn", "GET")[0].range == f"bytes={killed_at}-"


def test_bytes_damaged_in_transit_are_caught_and_never_kept(hub, data, store, cache):
    hub.faults.corrupt.add(sha(data))
    with pytest.raises(ChecksumMismatch) as exc:
        fetch(hub, store, cache)
    assert "damaged" in exc.value.user_message
    assert not partials(cache) and try_to_load_from_cache(REPO, FILE, cache_dir=str(cache)) is None
    assert not (cache / f"models--{REPO.replace('/', '--')}" / "blobs" / sha(data)).exists()
    hub.faults.corrupt.clear()
    assert fetch(hub, store, cache).path.read_bytes() == data


def test_a_file_damaged_on_disk_is_not_returned_but_fetched_again(hub, data, store, cache):
    path = fetch(hub, store, cache).path
    blob = Path(os.path.realpath(path))
    with open(blob, "r+b") as fh:
        fh.seek(12345)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ChecksumMismatch):
        store.verify(path, sha(data))
    assert store.state(path, sha(data)) == "corrupt"
    hub.clear()
    again = fetch(hub, store, cache)
    assert again.fetched and again.path.read_bytes() == data
    assert len(hub.requests("cdn", "GET")) == 1


@pytest.mark.parametrize("setup, error", [
    (lambda h: None, NotFoundOnHub),  # no such file
    (lambda h: h.repos.pop(REPO), NotFoundOnHub),  # no such repository (the Hub answers 401)
    (lambda h: h.faults.gated.add(REPO), AccessDenied),  # 403 GatedRepo
    (lambda h: h.faults.unauthorized.add(REPO), AccessDenied),  # bare 401
])
def test_hub_refusals_become_readable_errors(hub, data, store, cache, setup, error):
    setup(hub)
    filename = "Missing-Q4_K_M.gguf" if error is NotFoundOnHub and REPO in hub.repos else FILE
    with pytest.raises(error) as exc:
        fetch(hub, store, cache, filename=filename)
    assert exc.value.user_message and "Traceback" not in exc.value.user_message
    assert len(hub.requests("hub")) == 1  # refusals are final: not retried


def test_catalog_download_falls_back_to_the_next_repository(hub, data, store, cache):
    hub.add("second/Tiny-GGUF", "second_Tiny-Q4_K_M.gguf", data)
    cfile = CatalogFile("tiny", "Tiny", "Q4_K_M", (Source("first/Missing-GGUF", FILE),
                                                   Source("second/Tiny-GGUF", "second_Tiny-Q4_K_M.gguf")), None)
    result = dl.download_catalog_file(cfile, store=store, cache_dir=cache, endpoint=hub.url, retry=FAST)
    assert result.repo_id == "second/Tiny-GGUF" and result.path.read_bytes() == data
    hub.faults.gated.add("second/Tiny-GGUF")
    with pytest.raises(AccessDenied):
        dl.download_catalog_file(CatalogFile("t", "T", "Q", (Source("second/Tiny-GGUF", "x.gguf"),), None),
                                 store=store, cache_dir=cache, endpoint=hub.url, retry=FAST)


@pytest.mark.parametrize("listener", ["hub", "cdn"])
def test_server_errors_are_retried_a_bounded_number_of_times(hub, data, store, cache, listener):
    hub.faults.status[listener] = (500, -1)
    with pytest.raises(ServerError) as exc:
        fetch(hub, store, cache, retry=RetryPolicy(attempts=4, base_delay=0.0))
    assert "4 tries" in exc.value.user_message
    method = "HEAD" if listener == "hub" else "GET"
    assert len(hub.requests(listener, method)) == 4


def test_a_passing_server_error_is_ridden_out(hub, data, store, cache):
    hub.faults.status["cdn"] = (503, 2)
    assert fetch(hub, store, cache, retry=RetryPolicy(attempts=3, base_delay=0.0)).path.read_bytes() == data
    assert len(hub.requests("cdn", "GET")) == 3


def test_cancel_keeps_a_partial_that_the_next_call_continues(hub, data, store, cache):
    hub.faults.chunk, hub.faults.delay = 16 * 1024, 0.005  # slow server
    cancel = threading.Event()

    def on_progress(p):
        if p.done >= 300_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        fetch(hub, store, cache, progress=on_progress, cancel=cancel)
    (part,) = partials(cache)
    kept = part.stat().st_size
    assert 300_000 <= kept < len(data)
    assert try_to_load_from_cache(REPO, FILE, cache_dir=str(cache)) is None
    hub.faults.delay = 0.0
    hub.clear()
    result = fetch(hub, store, cache)
    assert result.resumed_from == kept and result.path.read_bytes() == data
    assert hub.requests("cdn", "GET")[0].range == f"bytes={kept}-"


def test_not_enough_space_is_refused_before_any_byte(hub, data, store, cache, monkeypatch):
    monkeypatch.setattr(partial_files, "free_bytes", lambda path: 1_000_000)
    with pytest.raises(DiskFull) as exc:
        fetch(hub, store, cache)
    assert "Not enough disk space" in exc.value.user_message
    assert hub.requests("cdn") == []


class _FillsUp:
    """A partial file on a disk that fills up after `room` more bytes."""

    def __init__(self, path: Path, room: int) -> None:
        self.fh, self.room = open(path, "ab", buffering=0), room

    def write(self, b) -> int:
        if len(b) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(b)
        return self.fh.write(b)

    def fileno(self) -> int:
        return self.fh.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


def test_disk_full_mid_way_stops_at_once_and_resumes_later(hub, data, store, cache, monkeypatch):
    monkeypatch.setattr(partial_files, "open_partial", lambda path: _FillsUp(path, 1_000_000))
    with pytest.raises(DiskFull) as exc:
        fetch(hub, store, cache)
    assert "filled up" in exc.value.user_message
    assert len(hub.requests("cdn", "GET")) == 1  # a full disk is not retried (it would never end)
    (part,) = partials(cache)
    kept = part.stat().st_size
    assert 0 < kept <= 1_000_000
    monkeypatch.undo()
    hub.clear()
    assert fetch(hub, store, cache).path.read_bytes() == data
    assert hub.requests("cdn", "GET")[0].range == f"bytes={kept}-"


def test_offline_mode_uses_what_is_on_disk_and_asks_nobody(hub, data, store, cache, monkeypatch):
    first = fetch(hub, store, cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.clear()
    again = fetch(hub, store, cache)
    assert again.path == first.path and not again.fetched
    with pytest.raises(OfflineMode):
        fetch(hub, store, cache, filename="Other-Q8_0.gguf")
    assert hub.requests() == []


def test_no_network_is_said_plainly(store, cache):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NoNetwork) as exc:
        dl.download_file(REPO, FILE, store=store, cache_dir=cache, endpoint=f"http://127.0.0.1:{port}", retry=FAST)
    assert "network" in exc.value.user_message
