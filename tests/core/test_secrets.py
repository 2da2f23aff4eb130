"""Secrets go to the keychain; a file only with consent, readable by this user alone."""

from __future__ import annotations

import json
import os
import stat

import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from app.core.errors import AppError
from app.core.secrets import FILE_NAME, MAX_FILE_BYTES, SERVICE, NoKeychain, SecretStore


class MemoryKeychain(keyring.backend.KeyringBackend):
    """A working keychain held in memory (keyring's own backend base class)."""
    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.refuse = False

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        if self.refuse:
            raise keyring.errors.PasswordSetError("locked")
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.items:
            raise keyring.errors.PasswordDeleteError("not there")
        del self.items[(service, username)]


def test_keychain_keeps_the_secret_and_no_file_is_written(tmp_path):
    chain = MemoryKeychain()
    store = SecretStore(tmp_path, chain)
    assert store.keychain_problem() is None
    assert store.put("remote:box", "  sk-123  ") == "keychain"
    assert chain.items[(SERVICE, "remote:box")] == "sk-123"
    assert store.get("remote:box") == "sk-123"
    assert store.where("remote:box") == "keychain"
    assert not (tmp_path / FILE_NAME).exists()
    store.delete("remote:box")
    assert store.get("remote:box") is None and store.where("remote:box") is None
    store.delete("remote:box")  # forgetting twice is fine


def test_without_a_keychain_put_refuses_unless_a_file_was_agreed(tmp_path):
    store = SecretStore(tmp_path, fail.Keyring())
    assert "No keychain" in store.keychain_problem()
    with pytest.raises(NoKeychain):
        store.put("remote:box", "sk-1")
    assert not (tmp_path / FILE_NAME).exists()

    assert store.put("remote:box", "sk-1", allow_file=True) == "file"
    path = tmp_path / FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"remote:box": "sk-1"}
    assert store.get("remote:box") == "sk-1" and store.where("remote:box") == "file"
    store.delete("remote:box")
    assert json.loads(path.read_text()) == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".secrets-")]


def test_a_refusing_keychain_falls_back_only_with_consent(tmp_path):
    chain = MemoryKeychain()
    chain.refuse = True
    store = SecretStore(tmp_path, chain)
    with pytest.raises(NoKeychain, match="refused"):
        store.put("k", "v")
    assert store.put("k", "v", allow_file=True) == "file"
    chain.refuse = False
    # Moving to the keychain takes the copy out of the file: one place only.
    assert store.put("k", "v2") == "keychain"
    assert "k" not in json.loads((tmp_path / FILE_NAME).read_text())
    assert store.get("k") == "v2"


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[1, 2]", b"{not json", b'{"k": 5}',
                                     b" " * (MAX_FILE_BYTES + 10)])
def test_a_damaged_or_oversized_file_reads_as_empty(tmp_path, content):
    (tmp_path / FILE_NAME).write_bytes(content)
    store = SecretStore(tmp_path, fail.Keyring())
    assert store.get("k") is None
    assert store.put("k", "v", allow_file=True) == "file"  # and is replaced whole
    assert store.get("k") == "v"


def test_empty_and_absurd_values_are_refused(tmp_path):
    store = SecretStore(tmp_path, MemoryKeychain())
    with pytest.raises(AppError, match="empty"):
        store.put("k", "   ")
    with pytest.raises(AppError, match="longer"):
        store.put("k", "x" * 20000)


def test_an_unwritable_folder_is_a_sentence(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    store = SecretStore(blocker / "sub", fail.Keyring())
    with pytest.raises(AppError, match="Could not write"):
        store.put("k", "v", allow_file=True)


def test_the_system_default_backend_is_used_when_none_is_given(tmp_path):
    store = SecretStore(tmp_path)
    # Here (no secret service) or on a desktop: either a keychain or a sentence why not.
    problem = store.keychain_problem()
    assert problem is None or "keychain" in problem
