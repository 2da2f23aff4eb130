"""`python -m app models ...` end to end, in subprocesses, against a local Hub.

The child finds the Hub through HF_ENDPOINT (huggingface_hub reads it at import) and
keeps its files under HF_HUB_CACHE and PONDER_HOME in the test's folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.catalog import load_catalog
from tests import model_files
from tests.hub_server import LocalHub

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"id", "repo_id", "filename", "quant", "size_bytes", "downloaded", "state"}


@pytest.fixture
def hub():
    with LocalHub() as h:
        yield h


@pytest.fixture
def env(tmp_path, app_home, hub) -> dict:
    e = dict(os.environ, HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hf"), PONDER_HOME=str(app_home),
             HF_HUB_DISABLE_PROGRESS_BARS="1")
    e.pop("HF_HUB_OFFLINE", None)
    return e


def app(env: dict, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "models", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, **kw)


def rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_list_json_is_one_object_per_catalog_file(env):
    proc = app({**env, "HF_HUB_OFFLINE": "1"}, "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = rows(proc.stdout)
    assert [r["id"] for r in listed] == [f.id for f in load_catalog().files()]
    for r in listed:
        assert KEYS <= r.keys() and r["downloaded"] is None and r["state"] == "absent"
        assert isinstance(r["size_bytes"], int) and r["size_bytes"] > 1e9 and r["size_exact"] is False
    assert {"id": "phi-4-reasoning:Q4_K_M", "repo_id": "unsloth/Phi-4-reasoning-GGUF",
            "filename": "Phi-4-reasoning-Q4_K_M.gguf"}.items() <= listed[2].items()


def test_list_reads_exact_sizes_from_the_hub(env, hub):
    hub.add("unsloth/Phi-4-reasoning-GGUF", "Phi-4-reasoning-Q4_K_M.gguf", b"GGUF" + bytes(1234))
    listed = {r["id"]: r for r in rows(app(env, "list", "--json").stdout)}
    assert listed["phi-4-reasoning:Q4_K_M"]["size_bytes"] == 1238 and listed["phi-4-reasoning:Q4_K_M"]["size_exact"]
    assert listed["phi-4-reasoning:Q8_0"]["size_exact"] is False  # not on this Hub: the estimate stays


def test_download_a_catalog_model_shows_progress_and_then_lists_it(env, hub, tiny_phi3):
    cfile = load_catalog().find("phi-4-mini-reasoning:Q4_K_M")
    data = Path(tiny_phi3).read_bytes()
    hub.add(cfile.sources[1].repo_id, cfile.sources[1].filename, data)  # the first source lacks it
    hub.faults.chunk, hub.faults.delay = 256 * 1024, 0.02
    proc = app(env, "download", "phi-4-mini-reasoning")
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.read_bytes() == data and path.name == cfile.sources[1].filename
    assert "MB/s" in proc.stderr and "ETA" in proc.stderr and "100.0%" in proc.stderr
    assert "verified" in proc.stderr
    listed = {r["id"]: r for r in rows(app({**env, "HF_HUB_OFFLINE": "1"}, "list", "--json").stdout)}
    mini = listed["phi-4-mini-reasoning:Q4_K_M"]
    assert (mini["downloaded"], mini["state"], mini["repo_id"]) == (str(path), "verified", cfile.sources[1].repo_id)
    assert mini["size_bytes"] == len(data)
    # Offline, the same download command answers from disk.
    again = app({**env, "HF_HUB_OFFLINE": "1"}, "download", "phi-4-mini-reasoning:Q4_K_M")
    assert again.returncode == 0 and Path(again.stdout.strip()) == path, again.stderr
    info = app(env, "info", "phi-4-mini-reasoning:Q4_K_M", "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["architecture"] == "phi3", info.stderr


def test_download_to_a_folder_and_errors_are_one_line(env, hub, tmp_path):
    hub.add("someone/X-GGUF", "X-Q8_0.gguf", b"GGUF" + bytes(50_000))
    proc = app(env, "download", "someone/X-GGUF/X-Q8_0.gguf", "--dir", str(tmp_path / "d"))
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == tmp_path / "d" / "X-Q8_0.gguf"
    for args in (["someone/X-GGUF/Nope.gguf"], ["phi-5"], ["phi-4-reasoning", "--quant", "Q1"]):
        bad = app(env, "download", *args)
        assert bad.returncode == 1 and bad.stdout == ""
        last = bad.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "Traceback" not in bad.stderr, bad.stderr


def test_ctrl_c_stops_and_the_same_command_resumes(env, hub, tmp_path):
    data = model_files.make_random_bytes(tmp_path / "blob", 3_000_000).read_bytes()
    hub.add("someone/Y-GGUF", "Y-Q4_K_M.gguf", data)
    hub.faults.chunk, hub.faults.delay = 16 * 1024, 0.005
    dest = tmp_path / "d"
    cmd = [sys.executable, "-m", "app", "models", "download", "someone/Y-GGUF/Y-Q4_K_M.gguf", "--dir", str(dest)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 200_000 for p in dest.glob("*.incomplete")) if dest.exists() else True:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)  # polling a file the child writes
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command again" in err and out == ""
    (part,) = dest.glob("*.incomplete")
    kept = part.stat().st_size
    hub.faults.delay = 0
    hub.clear()
    again = app(env, "download", "someone/Y-GGUF/Y-Q4_K_M.gguf", "--dir", str(dest))
    assert again.returncode == 0 and "resumed" in again.stderr, again.stderr
    assert Path(again.stdout.strip()).read_bytes() == data
    assert hub.requests("cdn", "GET")[0].range == f"bytes={kept}-"


def test_info_on_smollm2_and_a_tiny_phi3(env, smollm2, tiny_phi3):
    s = json.loads(app(env, "info", str(smollm2), "--json").stdout)
    assert (s["architecture"], s["blocks"], s["chat_template"]) == ("llama", 30, True)
    assert s["size_bytes"] == smollm2.stat().st_size and s["quant"] == "Q4_1"
    p = json.loads(app(env, "info", str(tiny_phi3), "--json").stdout)
    assert (p["architecture"], p["blocks"], p["context_length"], p["chat_template"]) == ("phi3", 2, 4096, False)
    if p["memory"] is not None:  # present where the fit estimate is built in
        assert p["memory"]["ram_bytes_cpu_only"] > 0
    text = app(env, "info", str(tiny_phi3))
    assert text.returncode == 0 and "phi3" in text.stdout and "no (the built-in Phi-4 format" in text.stdout


def test_import_then_list_found(env, tiny_phi3, tmp_path):
    proc = app(env, "import", str(tiny_phi3))
    assert proc.returncode == 0 and Path(proc.stdout.strip()) == Path(tiny_phi3).resolve(), proc.stderr
    found = [r for r in rows(app({**env, "HF_HUB_OFFLINE": "1"}, "list", "--json", "--found").stdout)
             if r.get("kind") == "found"]
    assert {"origin": "imported", "path": str(Path(tiny_phi3).resolve())}.items() <= found[0].items()
    bad = app(env, "import", str(model_files.make_unknown_arch(tmp_path / "odd.gguf")))
    assert bad.returncode == 1 and "quantumfoo" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec", [
    # The client collapses the '..' in the URL, so a Hub sees .../resolve/main/escaped.gguf
    # while the name on disk climbs out of --dir.
    "own/repo/../../resolve/main/escaped.gguf",
    "own/repo/sub/../../../resolve/main/escaped.gguf",
    "own/repo//ABS/escaped.gguf",
    "own/repo/" + "x" * 300 + ".gguf",
    "own/../escaped.gguf",
    "own/re..po/escaped.gguf",
    "own/repo/a\\..\\..\\escaped.gguf",
])
def test_download_names_that_would_leave_the_folder_are_refused(env, hub, tmp_path, spec):
    spec = spec.replace("/ABS", str(tmp_path / "abs"))
    repo_id, filename = "/".join(spec.split("/")[:2]), "/".join(spec.split("/")[2:])
    for name in (filename, "escaped.gguf"):  # a hostile Hub would serve it
        hub.add(repo_id, name, b"GGUF" + bytes(10_000))
    dest = tmp_path / "a" / "b" / "d"
    proc = app(env, "download", spec, "--dir", str(dest))
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in proc.stderr
    assert "not a valid repository id" in last or "cannot be downloaded" in last
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".gguf"]
    assert hub.requests() == []


def test_a_looping_lock_link_is_one_line_not_a_traceback(env, hub, tmp_path):
    data = b"GGUF" + bytes(20_000)
    sha = hub.add("someone/L-GGUF", "L-Q8_0.gguf", data)
    lock = Path(env["HF_HUB_CACHE"]) / ".locks" / "models--someone--L-GGUF" / f"{sha}.lock"
    lock.parent.mkdir(parents=True)
    lock.symlink_to(lock.name)  # a link to itself
    proc = app(env, "download", "someone/L-GGUF/L-Q8_0.gguf")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: The lock file ")
    lock.unlink()
    proc = app(env, "download", "someone/L-GGUF/L-Q8_0.gguf")
    assert proc.returncode == 0 and Path(proc.stdout.strip()).read_bytes() == data, proc.stderr
