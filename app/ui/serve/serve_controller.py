"""The local server as the window runs it: on and off with Settings, its token, and what
it is doing now (for the settings page and the status bar).

The HTTP side is the headless server's (app/core/serve), on a thread of uvicorn's; the
requests run on the window's own model thread through WindowRunner, so other apps and
the window share one loaded model. Starting takes a moment on the GUI thread (binding
the port, uvicorn's start-up); stopping cuts the reply being generated and waits a
bounded time, so closing the window never hangs on a client.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app import paths
from app.core.errors import AppError
from app.core.secrets import SERVICE, NoKeychain, SecretStore
from app.core.serve.server import TOKEN_BYTES, LocalServer, PortInUse, is_loopback
from app.core.serve.worker import ServedModel, served_names
from app.ui.serve.examples import base_url
from app.ui.serve.serve_dialogs import ServeDialogs
from app.ui.serve.window_runner import WindowRunner
from app.ui.thread_exit import CLOSE_WAIT_MS

log = logging.getLogger(__name__)

TOKEN_NAME = "serve-token"
STOP_WAIT_S = 5.0  # turning it off in Settings; closing the window waits CLOSE_WAIT_MS instead


@dataclass(frozen=True, slots=True)
class ServeState:
    on: bool = False
    host: str = ""
    port: int = 0
    error: str = ""  # why it is not on, for people
    running: int = 0  # requests from other apps being answered (0 or 1)
    waiting: int = 0  # and waiting for their turn
    window_waits: bool = False  # the window's own reply waits for another app's request

    @property
    def url(self) -> str:
        return base_url(self.host, self.port) if self.port else ""

    @property
    def exposed(self) -> bool:
        """Listening where other computers can reach it."""
        return self.on and not is_loopback(self.host)

    def activity(self) -> str:
        """'Serving 1 request from another app; 2 waiting', or 'No requests from other apps now'."""
        if not self.running and not self.waiting:
            return "No requests from other apps now"
        parts = []
        if self.running:
            parts.append(f"Serving {self.running} request from another app")
        if self.waiting:
            parts.append(f"{self.waiting} waiting" if parts else f"{self.waiting} requests from other apps waiting")
        return "; ".join(parts)

    def line(self) -> str:
        """The settings page's live line."""
        if self.error:
            return self.error
        if not self.on:
            return "Off: other apps cannot use the model."
        return f"On at {self.url}. {self.activity()}."


class ServeController(QObject):
    state_changed = Signal(object)  # ServeState
    _activity = Signal()  # from the model's or the server's thread: read the runner again

    def __init__(self, models, settings, parent: QWidget | None = None,
                 secret_store: SecretStore | None = None) -> None:
        super().__init__(parent)
        self._models = models
        self._settings = settings
        self._parent = parent
        self._store = secret_store
        self._server: LocalServer | None = None
        self._runner: WindowRunner | None = None
        self._config: tuple | None = None  # what the running server was started with
        self._token_this_run: str | None = None  # made, but the person chose not to keep it in a file
        self.state = ServeState()
        self._activity.connect(self._read_activity)
        settings.changed.connect(self._settings_changed)
        models.generating_changed.connect(self._window_generating)
        models.events_ready.connect(self._window_started)
        models.generation_failed.connect(self._window_started)
        if settings.value.serve_enabled:
            QTimer.singleShot(0, self, self.apply)  # once the window is up: a token may be shown

    # -- on and off ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def server(self) -> LocalServer | None:
        return self._server

    def _wanted(self) -> tuple | None:
        s = self._settings.value
        return (s.serve_host.strip(), s.serve_port, tuple(s.serve_cors_origins)) if s.serve_enabled else None

    def apply(self) -> None:
        """Start, stop or restart the server to match the settings."""
        wanted = self._wanted()
        if wanted == self._config and (wanted is None or self.running):
            return
        self.stop()
        if wanted is not None:
            self._start(*wanted)

    def _settings_changed(self, new, old) -> None:
        keys = ("serve_enabled", "serve_host", "serve_port", "serve_cors_origins")
        if any(getattr(new, k) != getattr(old, k) for k in keys):
            self.apply()

    def _start(self, host: str, port: int, origins: tuple[str, ...]) -> None:
        self._config = (host, port, origins)
        try:
            token = None if is_loopback(host) else self._token()
            runner = WindowRunner(self._models.run_on_model_thread, self._served, lambda r, w: self._activity.emit())
            server = LocalServer(runner=runner, host=host, port=port, token=token, cors_origins=origins)
        except PortInUse:
            self._set(ServeState(host=host, port=port, error=(
                f"Port {port} is already in use by another program (or another Ponder), so the server is off. "
                f"Choose another port.")))
            return
        except AppError as exc:
            self._set(ServeState(host=host, port=port, error=f"The server is off: {exc.user_message}"))
            return
        try:
            server.start()
        except AppError as exc:
            self._set(ServeState(host=host, port=port, error=f"The server is off: {exc.user_message}"))
            return
        self._server, self._runner = server, runner
        log.info("local server on %s (token: %s)", server.url, "yes" if token else "no")
        self._set(ServeState(on=True, host=host, port=server.port))

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop listening: the reply being generated for another app is cut, waiting ones get 503."""
        server, runner = self._server, self._runner
        self._server, self._runner, self._config = None, None, None
        if server is not None:
            runner.detach()  # the state below says it all
            server.stop(timeout)
        self._set(ServeState())

    def shutdown(self) -> None:
        """The window closes: stop within a bounded wait."""
        self.stop(CLOSE_WAIT_MS / 1000)

    # -- the token -----------------------------------------------------------------------------

    def _secrets(self) -> SecretStore:
        if self._store is None:
            self._store = SecretStore(paths.config_dir())
        return self._store

    def _token(self) -> str:
        """The token requests must carry: the kept one, or a new one shown once."""
        if self._token_this_run:
            return self._token_this_run
        try:
            kept = self._secrets().get(TOKEN_NAME)
        except Exception:  # a keychain that fails to answer: make a new one rather than not start
            log.exception("reading the server's token failed")
            kept = None
        return kept or self._make_token()

    def _make_token(self) -> str:
        store = self._secrets()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        where = (f"It is kept in this computer's keychain (\"{SERVICE}\", \"{TOKEN_NAME}\"). "
                 f"Settings > Local server can replace it with a new one.")
        try:
            store.put(TOKEN_NAME, token)
        except NoKeychain as exc:
            where = self._keep_in_file(store, token, exc.user_message)
        except AppError as exc:
            self._token_this_run = token
            where = f"It could not be kept ({exc.user_message}), so it lasts until Ponder quits."
        ServeDialogs.show_token(self._parent, token, where)
        return token

    def _keep_in_file(self, store: SecretStore, token: str, problem: str) -> str:
        if ServeDialogs.keep_in_file(self._parent, problem, str(store.file_path)):
            try:
                store.put(TOKEN_NAME, token, allow_file=True)
                return f"It is kept in {store.file_path}, which only you can read."
            except AppError as exc:
                self._token_this_run = token
                return f"It could not be kept ({exc.user_message}), so it lasts until Ponder quits."
        self._token_this_run = token
        return "It lasts until Ponder quits; a new one is made the next time the server starts."

    def new_token(self) -> None:
        """Forget the token; a server open to the network restarts with a new one (shown once)."""
        self._token_this_run = None
        try:
            self._secrets().delete(TOKEN_NAME)
        except AppError as exc:
            log.warning("could not forget the server's token: %s", exc.user_message)
        if self.state.exposed:
            self.stop()
            self.apply()

    # -- what it is doing ------------------------------------------------------------------------

    def _served(self) -> ServedModel | None:
        """The window's local model, read on the server's thread at each request."""
        m = self._models
        path, name, size = m.model_path, m.model_name, m.context_size
        if not path or size <= 0:
            return None
        return ServedModel(served_names(name or Path(path).name), size)

    def _read_activity(self) -> None:
        if self._runner is not None:
            running, waiting = self._runner.busy()
            self._set(replace(self.state, running=int(running), waiting=waiting))

    def _window_generating(self, generating: bool) -> None:
        busy = self._runner.busy() if self._runner is not None and generating else (False, 0)
        self._set(replace(self.state, window_waits=bool(busy[0] or busy[1])))

    def _window_started(self, *_) -> None:
        if self.state.window_waits:
            self._set(replace(self.state, window_waits=False))

    def _set(self, state: ServeState) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)
