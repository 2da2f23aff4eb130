"""The window's local server: started from the settings, on a free port, with a keychain
held in memory (the system's is never touched by tests)."""

from __future__ import annotations

import socket
import threading

import keyring.backend
import openai
import pytest

from app.core.secrets import SecretStore
from app.ui.serve.serve_dialogs import ServeDialogs

WAIT = 60  # seconds a wait may take before the test fails (never a measured time)


class MemoryKeychain(keyring.backend.KeyringBackend):
    priority = 5

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tokens_shown(monkeypatch) -> list[str]:
    """Tokens the window showed (the dialog is not opened)."""
    shown: list[str] = []
    monkeypatch.setattr(ServeDialogs, "show_token", staticmethod(lambda parent, token, kept: shown.append(token)))
    return shown


@pytest.fixture
def serving(make_app, tmp_path, tokens_shown):
    """make_app, with the server's token kept in a keychain in memory; `serve(app, **settings)`
    turns the server on (127.0.0.1 and a free port unless told) and returns the controller."""
    clients: list[openai.OpenAI] = []

    def serve(app, **changes):
        app.window.server._store = SecretStore(tmp_path / "secrets", MemoryKeychain())
        changes = {"serve_enabled": True, "serve_port": free_port(), **changes}
        app.settings.update(**changes)
        return app.window.server

    def client(server, api_key: str = "unused") -> openai.OpenAI:
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{server.state.port}/v1", api_key=api_key, max_retries=0,
                          timeout=120)
        clients.append(c)
        return c

    yield serve, client
    for c in clients:
        c.close()


def in_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread
