"""Connections…: add, test (away from the GUI thread, against a stand-in server), keep the
key in the keychain or, asked first, a private file; rename and remove."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends import fail

from app.core.remote.connections import Connection, Connections
from app.core.secrets import FILE_NAME as SECRETS_FILE
from app.core.secrets import SecretStore
from app.ui.dialogs import Dialogs
from app.ui.models.connections_dialog import ConnectionsDialog
from tests.core.remote.standin import StandIn
from tests.core.test_secrets import MemoryKeychain

KEY = "sk-dialog-41c9e7"
WAIT_MS = 20_000


@pytest.fixture
def dialog(qtbot, tmp_path):
    made = []

    def make(backend: keyring.backend.KeyringBackend) -> ConnectionsDialog:
        conns = Connections(tmp_path, SecretStore(tmp_path, backend))
        d = ConnectionsDialog(conns)
        qtbot.addWidget(d)
        made.append(d)
        return d

    yield make
    for d in made:
        d.done(0)


def fill(d: ConnectionsDialog, name: str, url: str, key: str = "") -> None:
    d.new_connection()
    d.name_edit.setText(name)
    d.url_edit.setText(url)
    d.key_edit.setText(key)


def test_test_connection_shows_the_server_and_save_keeps_the_key_in_the_keychain(qtbot, dialog):
    chain = MemoryKeychain()
    d = dialog(chain)
    with StandIn(kind="vllm", api_key=KEY) as s:
        fill(d, "gpu-box", s.url + "/v1", KEY)
        d.test()
        qtbot.waitUntil(lambda: d.test_button.isEnabled(), timeout=WAIT_MS)
    text = d.result.text()
    assert text.startswith("vLLM 0.11.0, answered in ") and " ms" in text
    assert f"Model: {s.model} (context {s.n_ctx:,} tokens)" in text and "Answer now: no" in text
    assert d.kind_label.text() == "vLLM" and d.model_box.itemText(0) == s.model
    assert d.save()
    conn = d.connections.get("gpu-box")
    assert conn.kind == "vllm" and conn.url == s.url
    assert "system keychain" in d.result.text() and d.key_edit.text() == ""
    assert d.connections.api_key(conn) == KEY and KEY not in d.connections.path.read_text()
    assert "kept in the system keychain" in d.key_status.text() and d.forget_key_button.isVisibleTo(d)


def test_a_wrong_key_is_a_sentence_not_a_hang(qtbot, dialog):
    d = dialog(MemoryKeychain())
    with StandIn(kind="llama.cpp", api_key=KEY) as s:
        fill(d, "box", s.url, "sk-wrong")
        d.test()
        qtbot.waitUntil(lambda: d.test_button.isEnabled(), timeout=WAIT_MS)
    assert "refused" in d.result.text().lower() and "sk-wrong" not in d.result.text()


def test_without_a_keychain_the_key_goes_to_a_file_only_when_agreed(qtbot, dialog, tmp_path, monkeypatch):
    answers = [False, True]
    questions = []

    def confirm(parent, title, question, action):
        questions.append(question)
        return answers.pop(0)

    monkeypatch.setattr(Dialogs, "confirm", staticmethod(confirm))
    d = dialog(fail.Keyring())
    assert "No keychain" in d.key_status.text()
    fill(d, "box", "http://10.0.0.5:8080", KEY)
    assert d.save()
    assert "without its key" in d.result.text() and not (tmp_path / SECRETS_FILE).exists()
    d.key_edit.setText(KEY)
    assert d.save()
    assert "readable only by you" in d.result.text()
    assert d.connections.key_place("box") == "file" and len(questions) == 2
    assert "No keychain" in questions[0] and "a file only you can read" in questions[0]


def test_rename_and_remove(qtbot, dialog, monkeypatch):
    monkeypatch.setattr(Dialogs, "confirm", staticmethod(lambda *a: True))
    d = dialog(MemoryKeychain())
    changes = []
    d.changed.connect(lambda old, new: changes.append((old, new)))
    d.connections.put(Connection("box", "http://10.0.0.5:8080"))
    d._fill("box")
    assert d.name_edit.text() == "box"
    d.name_edit.setText("big-box")
    assert d.save() and d.connections.names() == ["big-box"]
    fill(d, "big-box", "http://10.0.0.6:8080")
    assert not d.save() and "already a connection named 'big-box'" in d.result.text()
    d._fill("big-box")
    d.remove_current()
    assert d.connections.names() == [] and changes == [("box", "big-box"), ("big-box", "")]
