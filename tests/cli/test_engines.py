"""`engines list|add|test|remove` and `ask --engine NAME`, against stand-in servers on
127.0.0.1 (tests/core/remote/standin.py). Keys never go on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keyring
import pytest

from app import cli, paths
from app.core.remote.connections import FILE_NAME, Connections
from app.core.secrets import SERVICE
from tests.cli.test_ask_remote import ROOT
from tests.core.remote.standin import ANSWER, StandIn
from tests.core.test_secrets import MemoryKeychain

KEY = "sk-cli-93be01d2f4"
NO_KEYCHAIN = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def run_app(tmp_path, *args: str, input: str = "", **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PONDER_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1", **env)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, input=input, timeout=120, check=False)


@pytest.fixture
def chain():
    previous = keyring.get_keyring()
    memory = MemoryKeychain()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)


def run_in_process(capsys, monkeypatch, *args: str, stdin: str = "") -> tuple[int, str, str]:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_keeps_the_key_in_the_keychain_and_ask_by_name_uses_it(chain, capsys, monkeypatch):
    with StandIn(kind="vllm", reasoning_field="reasoning", api_key=KEY) as s:
        code, out, err = run_in_process(capsys, monkeypatch, "engines", "add", "box", s.url, "--key-stdin",
                                        "--json", stdin=KEY + "\n")
        assert code == 0, err
        report = json.loads(out)
        assert report["saved"] and report["ok"] and report["key"] == "keychain" and report["kind"] == "vllm"
        assert chain.items[(SERVICE, "remote:box")] == KEY
        assert KEY not in (paths.config_dir() / FILE_NAME).read_text()
        code, out, err = run_in_process(capsys, monkeypatch, "ask", "--engine", "box", "--json", "What is 2+2?")
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert "".join(e["text"] for e in events if e["kind"] == "answer") == "".join(ANSWER)
        assert events[-1]["kind"] == "stats" and events[-1]["finish_reason"] == "stop"
        code, out, _ = run_in_process(capsys, monkeypatch, "engines", "list")
        assert code == 0 and out.startswith("box  http://127.0.0.1:") and "vLLM" in out and "key: keychain" in out
        code, out, _ = run_in_process(capsys, monkeypatch, "engines", "test", "box", "--json")
        assert code == 0 and json.loads(out)["name"] == "box" and json.loads(out)["models"] == [s.model]
    code, out, _ = run_in_process(capsys, monkeypatch, "engines", "remove", "box")
    assert code == 0 and (SERVICE, "remote:box") not in chain.items
    assert Connections(paths.config_dir()).names() == []
    assert KEY not in capsys.readouterr().err


def test_without_a_keychain_add_asks_for_consent_before_a_file(tmp_path):
    with StandIn(kind="llama.cpp", api_key=KEY) as s:
        refused = run_app(tmp_path, "engines", "add", "box", s.url, "--key-stdin", **NO_KEYCHAIN, input=KEY)
        assert refused.returncode == 1 and "No keychain" in refused.stderr and "--key-file-ok" in refused.stderr
        assert "Nothing was saved" in refused.stderr and "Traceback" not in refused.stderr
        listed = run_app(tmp_path, "engines", "list", **NO_KEYCHAIN)
        assert "No connections saved" in listed.stdout
        agreed = run_app(tmp_path, "engines", "add", "box", s.url, "--key-stdin", "--key-file-ok", **NO_KEYCHAIN,
                         input=KEY)
        assert agreed.returncode == 0, agreed.stderr
        assert "its key is kept in" in agreed.stdout and "server:     llama.cpp server" in agreed.stdout
        asked = run_app(tmp_path, "ask", "--engine", "box", "What is 2+2?", **NO_KEYCHAIN)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == "".join(ANSWER)
    assert KEY not in agreed.stdout + agreed.stderr + asked.stderr


def test_add_saves_a_server_that_is_down_and_says_so(tmp_path):
    proc = run_app(tmp_path, "engines", "add", "later", "http://127.0.0.1:9", "--api-key-env", "LATER_KEY",
                   **NO_KEYCHAIN)
    assert proc.returncode == 0 and "saved later" in proc.stdout
    assert "warning: saved, but the server could not be used now" in proc.stderr
    listed = run_app(tmp_path, "engines", "list", "--json", **NO_KEYCHAIN)
    row = json.loads(listed.stdout)
    assert row == {"name": "later", "url": "http://127.0.0.1:9", "kind": None, "model": None, "key": "$LATER_KEY",
                   "local": True}


def test_unknown_names_and_duplicates_are_sentences(tmp_path):
    proc = run_app(tmp_path, "ask", "--engine", "nobox", "hi")
    assert proc.returncode == 1 and "No connection named 'nobox'" in proc.stderr
    assert run_app(tmp_path, "engines", "add", "box", "http://127.0.0.1:9").returncode == 0
    again = run_app(tmp_path, "engines", "add", "box", "http://127.0.0.1:10")
    assert again.returncode == 1 and "already a connection named 'box'" in again.stderr
    gone = run_app(tmp_path, "engines", "remove", "nobox")
    assert gone.returncode == 1 and "no connection named 'nobox'" in gone.stderr
    for proc in (again, gone):
        assert "Traceback" not in proc.stderr
