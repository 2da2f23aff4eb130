"""The build and process helpers behind the real-server tests (tests/llama_servers.py):
a failed build step fails with its own output, the cache is found by its marker, and a
server that dies while starting says why."""

from __future__ import annotations

import json
import sys

import pytest

from tests import llama_servers


def test_a_failed_build_step_fails_with_its_last_lines(tmp_path):
    log = tmp_path / "build.log"
    step = [sys.executable, "-c", "import sys; print('compiling'); sys.exit('error: no compiler here')"]
    with pytest.raises(llama_servers.BuildError) as caught:
        llama_servers._run_logged(step, tmp_path, log, "cmake build", timeout=60)
    message = str(caught.value)
    assert "cmake build failed (exit 1)" in message and str(log) in message
    assert "error: no compiler here" in message


def test_cached_binaries_are_found_by_their_marker(tmp_path, monkeypatch):
    monkeypatch.setenv("PONDER_TEST_CACHE", str(tmp_path))
    assert not llama_servers.built()
    bin_dir = llama_servers.install_dir() / "bin"
    bin_dir.mkdir(parents=True)
    for name in (llama_servers.SERVER_TARGET, llama_servers.RPC_TARGET):
        (bin_dir / name).write_bytes(b"")
    marker = llama_servers.install_dir() / "built.json"
    marker.write_text(json.dumps({**llama_servers._marker(), "cmake": ["-DOTHER=ON"]}))
    assert not llama_servers.built()  # built with other flags: built again
    marker.write_text(json.dumps(llama_servers._marker()))
    assert llama_servers.built()
    assert llama_servers.build().server == bin_dir / llama_servers.SERVER_TARGET  # no build, no download


def test_a_server_that_exits_while_starting_says_why(tmp_path):
    proc = llama_servers.Process("server", [sys.executable, "-c", "print('bad model file'); raise SystemExit(3)"],
                                 tmp_path / "server.log", llama_servers.free_port())
    proc.start()
    with pytest.raises(RuntimeError) as caught:
        llama_servers.wait_for_port(proc, timeout=60)
    assert "exited (code 3)" in str(caught.value) and "bad model file" in str(caught.value)
    proc.stop()
