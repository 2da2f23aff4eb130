"""API keys and server tokens: kept in the operating system's keychain, never in settings.

The `keyring` package reaches macOS Keychain, Windows Credential Locker and the Secret
Service (GNOME Keyring, KWallet) on Linux. Where none is available (a Linux session with
no secret service, CI), `put` refuses unless the caller says the person agreed to a file
that only this user can read (`allow_file=True`); the window asks first.

Secrets are looked up by a short name ("remote:gpu-box", "serve-token"); values are
never logged, and read errors name the place, not the value.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

import keyring
import keyring.backend
import keyring.errors

from app.core.atomic_write import write_atomic
from app.core.errors import AppError

log = logging.getLogger(__name__)

SERVICE = "Ponder"
FILE_NAME = "secrets.json"
MAX_FILE_BYTES = 256 * 1024  # far above any real use; a bigger file is not ours
MAX_SECRET_CHARS = 16 * 1024

Place = Literal["keychain", "file"]


class NoKeychain(AppError):
    """No keychain works here and the person has not agreed to a file."""


def _usable(backend: keyring.backend.KeyringBackend) -> bool:
    # keyring's own scale: below 1 is the "fail" backend (nothing found) or a plain-text
    # file some package registered; neither is a keychain in the sense people expect.
    try:
        return float(backend.priority) >= 1
    except Exception:  # a backend whose priority check raises is not available
        return False


class SecretStore:
    """One place to put, find and forget secrets.

    `folder` holds the fallback file (the config folder in the app); `backend` is the
    keyring backend (the system's by default; tests pass an in-memory one)."""

    def __init__(self, folder: Path, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._file = Path(folder) / FILE_NAME
        self._backend = backend if backend is not None else keyring.get_keyring()

    # --- the keychain ---

    def keychain_problem(self) -> str | None:
        """None when a keychain is available, else a sentence saying there is none."""
        if _usable(self._backend):
            return None
        return ("No keychain is available on this system (on Linux: no Secret Service such as GNOME Keyring "
                "or KWallet is running), so a key can only be kept in a file that only you can read.")

    @property
    def file_path(self) -> Path:
        return self._file

    # --- the operations ---

    def get(self, name: str) -> str | None:
        """The secret, from the keychain or the file; None when it is in neither."""
        if _usable(self._backend):
            try:
                value = self._backend.get_password(SERVICE, name)
            except keyring.errors.KeyringError as exc:
                log.warning("keychain read failed for %s: %s", name, type(exc).__name__)
                value = None
            if value:
                return value
        return self._read_file().get(name)

    def where(self, name: str) -> Place | None:
        if _usable(self._backend):
            try:
                if self._backend.get_password(SERVICE, name):
                    return "keychain"
            except keyring.errors.KeyringError:
                pass
        return "file" if name in self._read_file() else None

    def put(self, name: str, value: str, *, allow_file: bool = False) -> Place:
        """Keep `value` under `name`; returns where it went. Raises NoKeychain or AppError."""
        value = value.strip()
        if not value:
            raise AppError("The key is empty.")
        if len(value) > MAX_SECRET_CHARS:
            raise AppError(f"The key is longer than {MAX_SECRET_CHARS:,} characters; that is not an API key.")
        if _usable(self._backend):
            try:
                self._backend.set_password(SERVICE, name, value)
            except keyring.errors.KeyringError as exc:
                if not allow_file:
                    raise NoKeychain(f"The keychain refused to keep the key ({type(exc).__name__}).") from exc
            else:
                self._forget_in_file(name)  # one place only: an old file copy would outlive a change
                return "keychain"
        elif not allow_file:
            raise NoKeychain(self.keychain_problem() or "No keychain is available.")
        data = self._read_file()
        data[name] = value
        self._write_file(data)
        return "file"

    def delete(self, name: str) -> None:
        """Forget the secret everywhere; forgetting one that is not kept is fine."""
        if _usable(self._backend):
            try:
                self._backend.delete_password(SERVICE, name)
            except keyring.errors.PasswordDeleteError:
                pass
            except keyring.errors.KeyringError as exc:
                log.warning("keychain delete failed for %s: %s", name, type(exc).__name__)
        self._forget_in_file(name)

    # --- the file ---

    def _forget_in_file(self, name: str) -> None:
        data = self._read_file()
        if name in data:
            del data[name]
            self._write_file(data)

    def _read_file(self) -> dict[str, str]:
        try:
            with open(self._file, "rb") as f:
                raw = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read %s: %s", self._file, exc.strerror)
            return {}
        if len(raw) > MAX_FILE_BYTES:
            log.warning("%s is larger than %d bytes; ignored", self._file, MAX_FILE_BYTES)
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            log.warning("%s is not valid JSON; ignored", self._file)
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def _write_file(self, data: dict[str, str]) -> None:
        # write_atomic's file is private from its first byte, so the secret is never readable
        # by others, not even for a moment, and a full disk leaves the old file whole.
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._file, json.dumps(data), prefix=".secrets-")
        except OSError as exc:
            raise AppError(f"Could not write {self._file}: {exc.strerror or exc}") from exc
