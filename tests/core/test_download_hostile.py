"""Downloads stay inside their folder: hostile names, hostile servers, links planted in a
shared folder, and servers that never let a download finish.

Every test runs the real downloader against the local Hub (tests/hub_server.py) and
checks the disk afterwards: what must not exist outside the folder, what must be unchanged.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core import download as dl
from app.core import partial_files
from app.core.errors import DownloadError, ServerError
from app.core.names import InvalidName, check_filename, check_repo_id, is_commit
from app.core.retry import MAX_TRIES, RetryPolicy
from app.core.verify import VerifiedStore
from tests.hub_server import LocalHub

REPO, FILE = "someone/Tiny-GGUF", "Tiny-Q4_K_M.gguf"
FAST = RetryPolicy(base_delay=0.0)


@pytest.fixture
def data(hub) -> bytes:
    blob = np.random.default_rng(5).bytes(2_000_000)
    hub.add(REPO, FILE, blob)
    return blob


@pytest.fixture
def store(tmp_path) -> VerifiedStore:
    return VerifiedStore(tmp_path / "verified.json")


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")} if folder.exists() else set()


# -- names ---------------------------------------------------------------------------------

BAD_FILENAMES = [
    ("../../escaped.gguf", "'..'"),
    ("sub/../../escaped.gguf", "'..'"),
    ("./x.gguf", "'.'"),
    ("/ABS/escaped.gguf", "absolute"),
    ("a//b.gguf", "empty part"),
    ("dir/", "empty part"),
    ("", "empty"),
    ("..\\..\\escaped.gguf", "backslash"),
    ("x\x00.gguf", "NUL"),
    ("x\n.gguf", "control character"),
    ("C:escaped.gguf", "absolute"),
    ("x" * 300 + ".gguf", "longer than 255 bytes"),
    ("é" * 130 + ".gguf", "longer than 255 bytes"),  # 260 bytes in UTF-8, 135 characters
    ("/".join(["d" * 200] * 6) + "/x.gguf", "longer than 1024 bytes"),
]


@pytest.mark.parametrize("mode", ["dir", "cache"])
@pytest.mark.parametrize("filename, why", BAD_FILENAMES)
def test_file_names_that_leave_the_folder_are_refused_before_any_request(hub, data, store, tmp_path, mode,
                                                                          filename, why):
    filename = filename.replace("/ABS", str(tmp_path))
    hub.add(REPO, filename, data)  # the server would happily serve it
    dest = tmp_path / "a" / "b" / "models"
    kw = {"dest_dir": dest} if mode == "dir" else {"cache_dir": dest}
    before = files_under(tmp_path)
    with pytest.raises(InvalidName) as exc:
        dl.download_file(REPO, filename, store=store, endpoint=hub.url, retry=FAST, **kw)
    message = exc.value.user_message
    assert why in message and "cannot be downloaded" in message and REPO in message
    assert len(message) < 300  # the name is quoted, bounded
    assert hub.requests() == []
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("repo_id, why", [
    ("someone/..", "'..'"),
    ("../someone", "'..'"),
    ("someone/a..b", "'..'"),
    ("someone/a--b", "'--'"),
    ("/someone/x", "absolute"),
    ("someone//x", "empty part"),
    ("a/b/c", "more than one '/'"),
    ("someone\\x", "backslash"),
    ("some one/x", "only letters"),
    ("someone/x\x00", "NUL"),
    ("someone/" + "r" * 300, "longer than 255 bytes"),
    ("someone/" + "r" * 100, "longer than 96"),
    ("someone/-x", "starts or ends"),
])
def test_repository_ids_that_could_be_paths_are_refused(hub, store, tmp_path, repo_id, why):
    with pytest.raises(InvalidName) as exc:
        dl.download_file(repo_id, FILE, store=store, cache_dir=tmp_path / "cache", endpoint=hub.url, retry=FAST)
    assert why in exc.value.user_message and "not a valid repository id" in exc.value.user_message
    assert hub.requests() == [] and not (tmp_path / "cache").exists()


def test_a_revision_that_is_a_path_is_refused(hub, data, store, tmp_path):
    with pytest.raises(InvalidName) as exc:
        dl.download_file(REPO, FILE, revision="../../../escaped", store=store, cache_dir=tmp_path / "c",
                         endpoint=hub.url, retry=FAST)
    assert "not a valid revision" in exc.value.user_message and hub.requests() == []


def test_the_catalog_and_real_names_still_pass():
    from app.core.catalog import load_catalog

    for f in load_catalog().files():
        for s in f.sources:
            assert check_repo_id(s.repo_id) == s.repo_id and check_filename(s.filename) == s.filename
    assert check_filename("Q4_K_M/model-00001-of-00002.gguf")
    assert check_filename("x" * 255)


# -- what the server says ------------------------------------------------------------------

@pytest.mark.parametrize("commit", [
    "../../../../escaped",
    "../../../../" + "a" * 28,
    "a" * 39,
    "a" * 41,
    "g" * 40,
    "A" * 40,
    "a" * 40 + "/../x",
])
def test_a_commit_from_the_server_is_used_only_if_it_is_a_commit_id(hub, data, store, tmp_path, commit):
    hub.faults.commit = commit
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(DownloadError) as exc:
        dl.download_file(REPO, FILE, store=store, cache_dir=cache, endpoint=hub.url, retry=FAST)
    assert "not a commit id" in exc.value.user_message and "nothing was downloaded" in exc.value.user_message
    assert hub.requests("cdn") == []
    assert files_under(tmp_path) <= {tmp_path / "verified.json"}
    assert not is_commit(commit) and is_commit(LocalHub.commit(REPO))


def test_a_cached_link_that_points_outside_the_cache_is_not_trusted_offline(hub, data, store, tmp_path,
                                                                              monkeypatch):
    cache = tmp_path / "cache"
    pointer = dl.download_file(REPO, FILE, store=store, cache_dir=cache, endpoint=hub.url, retry=FAST).path
    # In a shared cache, someone swaps the snapshot's link for one to a file of their own,
    # named after its own sha256 as a blob is.
    evil = b"GGUF something else entirely"
    outside = tmp_path / "elsewhere" / sha(evil)
    outside.parent.mkdir()
    outside.write_bytes(evil)
    pointer.unlink()
    os.symlink(outside, pointer)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="Offline mode"):
        dl.download_file(REPO, FILE, store=store, cache_dir=cache, endpoint=hub.url, retry=FAST)


# -- links in a shared folder ----------------------------------------------------------------

def _partial_path(folder: Path, mode: str, data: bytes) -> Path:
    if mode == "dir":
        return folder / f".{FILE}.{sha(data)[:16]}.incomplete"
    return folder / "models--someone--Tiny-GGUF" / "blobs" / f"{sha(data)}.incomplete"


@pytest.mark.parametrize("mode", ["dir", "cache"])
@pytest.mark.parametrize("plant", ["symlink", "dangling symlink", "hard link"])
def test_a_link_planted_at_the_partial_name_is_never_written_through(hub, data, store, tmp_path, mode, plant):
    shared = tmp_path / "shared"
    partial = _partial_path(shared, mode, data)
    partial.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    if plant == "dangling symlink":
        os.symlink(victim, partial)
    else:
        victim.write_bytes(b"someone's precious file")
        os.symlink(victim, partial) if plant == "symlink" else os.link(victim, partial)
    kw = {"dest_dir": shared} if mode == "dir" else {"cache_dir": shared}
    with pytest.raises(DownloadError) as exc:
        dl.download_file(REPO, FILE, store=store, endpoint=hub.url, retry=FAST, **kw)
    assert "is not a partial download" in exc.value.user_message and str(partial) in exc.value.user_message
    if plant == "dangling symlink":
        assert not os.path.lexists(victim)
    else:
        assert victim.read_bytes() == b"someone's precious file"
    assert hub.requests("cdn") == []
    # Once the link is gone, the download goes ahead.
    partial.unlink()
    assert dl.download_file(REPO, FILE, store=store, endpoint=hub.url, retry=FAST, **kw).path.read_bytes() == data


def test_a_link_planted_just_before_the_partial_is_created_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    planted = tmp_path / ".x.incomplete"
    os.symlink(victim, planted)
    # open_partial looked (nothing there) and creates with O_EXCL: a link planted in between loses.
    with pytest.raises(DownloadError, match="not a partial download"):
        partial_files.open_no_follow(planted, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL)
    with pytest.raises(DownloadError, match="not a partial download"):
        partial_files.open_no_follow(planted, os.O_WRONLY | os.O_APPEND)
    assert victim.read_bytes() == b"precious"


def test_a_folder_link_inside_the_destination_is_not_followed_out(hub, data, store, tmp_path):
    dest, elsewhere = tmp_path / "models", tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, dest / "sub")
    hub.add(REPO, "sub/Tiny-Q4_K_M.gguf", data)
    with pytest.raises(DownloadError) as exc:
        dl.download_file(REPO, "sub/Tiny-Q4_K_M.gguf", store=store, dest_dir=dest, endpoint=hub.url, retry=FAST)
    assert "outside" in exc.value.user_message and str(dest) in exc.value.user_message
    assert list(elsewhere.iterdir()) == []


def test_a_model_file_that_is_a_link_to_outside_the_folder_is_not_handed_out(hub, data, store, tmp_path):
    dest, elsewhere = tmp_path / "models", tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    (elsewhere / FILE).write_bytes(data)
    os.symlink(elsewhere / FILE, dest / FILE)
    with pytest.raises(DownloadError, match="outside"):
        dl.download_file(REPO, FILE, store=store, dest_dir=dest, endpoint=hub.url, retry=FAST)


def test_the_lock_of_a_folder_download_is_kept_in_the_users_own_folder(hub, data, store, tmp_path, app_home):
    dest = tmp_path / "shared"
    dl.download_file(REPO, FILE, store=store, dest_dir=dest, endpoint=hub.url, retry=FAST)
    assert dl.lock_dir().is_relative_to(app_home)
    assert [p.name for p in dest.iterdir()] == [FILE]


@pytest.mark.parametrize("mode", ["dir", "cache"])
def test_a_looping_lock_link_is_a_readable_error(hub, data, store, tmp_path, mode):
    where = tmp_path / "w"
    if mode == "dir":
        lock = dl.lock_dir() / f"{sha(data)}.lock"
        kw = {"dest_dir": where}
    else:
        lock = where / ".locks" / "models--someone--Tiny-GGUF" / f"{sha(data)}.lock"
        kw = {"cache_dir": where}
    lock.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(lock.name, lock)  # points at itself
    with pytest.raises(DownloadError) as exc:
        dl.download_file(REPO, FILE, store=store, endpoint=hub.url, retry=FAST, **kw)
    assert "lock file" in exc.value.user_message and "Remove it" in exc.value.user_message


def test_other_disk_errors_are_readable(hub, data, store, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(DownloadError) as exc:
        dl.download_file(REPO, FILE, store=store, dest_dir=blocker / "models", endpoint=hub.url, retry=FAST)
    assert "could not be saved" in exc.value.user_message and str(blocker) in exc.value.user_message


# -- servers that never let a download finish -------------------------------------------------

def _guarded(hub: LocalHub, most: int = 40):
    """A cancel event that trips once the server has been asked `most` times, so a download
    that would retry forever ends as DownloadCancelled instead of hanging the suite."""
    cancel = threading.Event()

    def on_progress(_p) -> None:
        if len(hub.requests("cdn", "GET")) > most:
            cancel.set()

    return cancel, on_progress


def test_a_server_that_ignores_range_and_cuts_off_half_way_is_not_asked_forever(hub, data, store, tmp_path):
    hub.faults.ignore_range = True
    hub.faults.cut_every = len(data) // 2
    cancel, progress = _guarded(hub)
    dest = tmp_path / "models"
    with pytest.raises(ServerError) as exc:
        dl.download_file(REPO, FILE, store=store, dest_dir=dest, endpoint=hub.url, retry=FAST, cancel=cancel,
                         progress=progress)
    gets = hub.requests("cdn", "GET")
    assert not cancel.is_set() and len(gets) <= MAX_TRIES
    assert f"kept ending the download of {REPO}/{FILE} early ({len(gets)} tries); try again later" in (
        exc.value.user_message)
    assert not (dest / FILE).exists()


def test_a_server_that_cuts_off_a_little_further_each_time_stops_after_max_tries(hub, data, store, tmp_path):
    hub.faults.cut_every = 200_000  # Range is honoured: every try brings new bytes
    dest = tmp_path / "models"
    with pytest.raises(ServerError) as exc:
        dl.download_file(REPO, FILE, store=store, dest_dir=dest, endpoint=hub.url,
                         retry=RetryPolicy(base_delay=0.0, max_tries=3))
    assert "(3 tries)" in exc.value.user_message and "will continue from" in exc.value.user_message
    assert len(hub.requests("cdn", "GET")) == 3
    (part,) = dest.glob("*.incomplete")
    kept = part.stat().st_size
    assert 400_000 < kept <= 600_000
    # Kept: the next call continues from there.
    hub.faults.cut_every = None
    hub.clear()
    result = dl.download_file(REPO, FILE, store=store, dest_dir=dest, endpoint=hub.url, retry=FAST)
    assert result.resumed_from == kept and result.path.read_bytes() == data


def test_time_without_new_bytes_is_bounded(hub, data, store, tmp_path):
    hub.faults.ignore_range = True
    hub.faults.cut_every = len(data) // 2
    cancel, progress = _guarded(hub)
    with pytest.raises(ServerError, match="kept ending the download"):
        dl.download_file(REPO, FILE, store=store, dest_dir=tmp_path / "m", endpoint=hub.url, cancel=cancel,
                         progress=progress, retry=RetryPolicy(base_delay=0.0, attempts=100, max_tries=100,
                                                              max_stalled_s=0.0))
    # The first try brought new bytes; the second brought none and the clock had run out.
    assert len(hub.requests("cdn", "GET")) == 2


def test_a_drop_now_and_then_is_still_ridden_out(hub, data, store, tmp_path):
    hub.faults.drop_after = 500_000
    result = dl.download_file(REPO, FILE, store=store, dest_dir=tmp_path / "m", endpoint=hub.url, retry=FAST)
    assert result.path.read_bytes() == data and len(hub.requests("cdn", "GET")) == 2


def test_the_default_policy_is_bounded():
    policy = RetryPolicy()
    assert policy.max_tries == MAX_TRIES <= 10 and 0 < policy.max_stalled_s <= 600
