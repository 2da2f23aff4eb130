"""Running the local server: where it listens, who may use it, and stopping it cleanly.

Safety rules (docs/local-server.md tells people the same):
- It listens on 127.0.0.1 unless told otherwise; only programs on this computer reach it.
- Listening anywhere else needs a bearer token: from the environment variable named by
  --token-env, or made here and printed once. A non-loopback address with no way to
  get a token is refused before anything listens.
- Without a token, requests must name a loopback host (see asgi.Guard).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping, Sequence

import uvicorn

from app.core.engine_contract import Engine
from app.core.errors import AppError
from app.core.serve import DEFAULT_HOST, DEFAULT_PORT
from app.core.serve.asgi import MAX_BODY_BYTES, create_app
from app.core.serve.worker import MAX_WAITING, JobRunner, Worker

log = logging.getLogger(__name__)

TOKEN_BYTES = 32


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; any other name counts as reachable from outside."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token_env: str | None, environ: Mapping[str, str] = os.environ,
                  announce: Callable[[str], None] | None = None) -> str | None:
    """The bearer token requests must carry, or None for an open loopback server.

    With `token_env`, the variable's value (which must be set). Otherwise a loopback
    host needs none, and any other host gets a new random token passed to `announce`
    (which prints it); with no `announce` there is no way to learn the token, so the
    address is refused. Raises AppError."""
    if token_env:
        token = environ.get(token_env, "").strip()
        if not token:
            raise AppError(f"The environment variable {token_env} is empty or not set, so there is no token for "
                           f"the server. Set it to a long random string, or leave out --token-env.")
        return token
    if is_loopback(host):
        return None
    if announce is None:
        raise AppError(f"Listening on {host} would let other computers use the model, and that needs a token: "
                       f"set one in an environment variable and pass its name with --token-env.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    announce(token)
    return token


class PortInUse(AppError):
    """Another program (or another Ponder) listens on the port already."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"Port {port} on {host} is already in use; choose another with --port.")
        self.host, self.port = host, port


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free one). Raises AppError."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise AppError(f"{host!r} is not an address of this computer; use 127.0.0.1 or an address of one of "
                       f"its network interfaces.") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows this would let a second server take the same port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise AppError(f"Could not listen on {host} port {port}: {exc.strerror or exc}.") from None
    sock.setblocking(False)
    return sock


class LocalServer:
    """The OpenAI-compatible server for one engine, on one socket.

    `serve_forever` runs it on this thread until Ctrl+C (the CLI); `start` runs it on a
    thread of its own until `stop` (tests, and the window). Either way, stopping cancels
    the reply being generated and answers waiting requests with 503, so it never waits on
    a long generation. The engine stays the caller's to close.

    With `engine`, a Worker thread of the server's own owns it (headless). With `runner`
    instead, requests go to a runner that already has a thread owning a model (the
    window's, shared with its own chats)."""

    def __init__(self, engine: Engine | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 runner: JobRunner | None = None, token: str | None = None, cors_origins: Sequence[str] = (),
                 max_waiting: int = MAX_WAITING, max_body: int = MAX_BODY_BYTES, names: Sequence[str] | None = None,
                 sock: socket.socket | None = None) -> None:
        if token is None and not is_loopback(host):
            raise AppError(f"Listening on {host} needs a token (see --token-env).")
        if (engine is None) == (runner is None):
            raise ValueError("give an engine or a runner")
        self.engine = engine
        self.host = host
        self.worker: JobRunner = runner if runner is not None else Worker(engine, max_waiting, names)
        app = create_app(self.worker, token=token, cors_origins=cors_origins, max_body=max_body)
        self._socket = sock if sock is not None else bind(host, port)  # `sock`: bound by the caller already
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(app, http="h11", ws="none", lifespan="off", log_config=None, access_log=False,
                                server_header=False, timeout_graceful_shutdown=10)
        self._uvicorn = _Uvicorn(config, self.worker)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def serve_forever(self) -> None:
        """Serve on this thread until SIGINT/SIGTERM (uvicorn's handlers), then stop cleanly."""
        self.worker.start()
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._finish()

    def start(self) -> None:
        """Serve on a thread of its own; returns once requests are being accepted."""
        self.worker.start()
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self._socket]},
                                        name="serve-http", daemon=True)
        self._thread.start()
        while not self._uvicorn.ready.wait(0.05):
            if not self._thread.is_alive():
                self._finish()
                raise AppError("The server stopped while starting; its log has the details.")

    def stop(self, timeout: float = 30.0) -> None:
        self._uvicorn.request_exit()
        if self._thread is not None:
            self._thread.join(timeout)
        self._finish()

    def _finish(self) -> None:
        self.worker.stop(timeout=30.0)
        self._socket.close()

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Uvicorn(uvicorn.Server):
    """uvicorn that cancels the generations in flight as soon as it is asked to stop:
    by default it would wait for every open response to finish first."""

    def __init__(self, config: uvicorn.Config, worker: JobRunner) -> None:
        super().__init__(config)
        self.worker = worker
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)
        self.ready.set()

    def handle_exit(self, sig, frame) -> None:  # SIGINT/SIGTERM, on the main thread
        super().handle_exit(sig, frame)
        self._cancel_work()

    def request_exit(self) -> None:
        self.should_exit = True
        self._cancel_work()

    def _cancel_work(self) -> None:
        # worker.stop takes a lock the interrupted code may hold: run it from the loop instead.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.worker.stop, 0)
                return
            except RuntimeError:
                pass
        threading.Thread(target=self.worker.stop, args=(0,), daemon=True).start()
