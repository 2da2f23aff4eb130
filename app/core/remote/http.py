"""HTTP plumbing for remote engines: clients with timeouts, the API key, bounded
bodies, and a cancel that closes a connection a read is blocked on.

A blocked `recv` does not notice a flag, and closing a socket from another thread
does not wake it (the kernel keeps the file open until the call returns). Shutting the
socket down does: the read returns at once and the server sees the connection close.
`CancelWatch` records each socket a streaming request connects (httpcore's `trace`
request extension reports it) and shuts it down when the cancel event is set, so a
cancel lands within CANCEL_POLL_SECONDS even while the server is silent.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from urllib.parse import urlsplit

import httpx2

from app.core.remote.errors import NotAModelServer, RemoteError, from_status, translate

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0
IDLE_SECONDS = 120.0  # a server that sends nothing for this long is stuck (prompt reading included)
SMALL_BODY_BYTES = 4 << 20  # model lists, /props (with its chat template), /api/show
ERROR_BODY_BYTES = 64 << 10
CANCEL_POLL_SECONDS = 0.05
DEFAULT_KEY_ENV = "PONDER_API_KEY"
KEY_ENV_BY_KIND = {"openrouter": "OPENROUTER_API_KEY"}


def resolve_key(api_key: str | None, env_name: str | None, kind: str | None) -> str | None:
    """The API key: the argument, else the named environment variable, else the kind's
    usual one (OPENROUTER_API_KEY), else PONDER_API_KEY; None when none is set."""
    if api_key:
        return api_key.strip() or None
    names = [env_name] if env_name else [KEY_ENV_BY_KIND.get(kind or ""), DEFAULT_KEY_ENV]
    for name in names:
        value = os.environ.get(name or "", "").strip()
        if value:
            return value
    return None


def where(url: str) -> str:
    """The server as people name it in messages: scheme://host:port (no path, no credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "the server"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else host


class Http:
    """One server's clients: a pooled one for small requests, and one per stream
    without keep-alive (each stream gets its own connection, closed with it)."""

    def __init__(self, root: str, api_key: str | None, connect_seconds: float = CONNECT_SECONDS,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.root = root.rstrip("/")
        self.where = where(root)
        self.idle_seconds = idle_seconds
        self._key = api_key
        self._small = httpx2.Client(timeout=httpx2.Timeout(connect_seconds, read=min(idle_seconds, 30.0)),
                                    follow_redirects=False)
        self._streams = httpx2.Client(timeout=httpx2.Timeout(connect_seconds, read=idle_seconds),
                                      limits=httpx2.Limits(max_keepalive_connections=0), follow_redirects=False)

    @property
    def secret(self) -> str | None:
        return self._key

    def headers(self) -> dict:
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def close(self) -> None:
        self._small.close()
        self._streams.close()

    def get_json(self, path: str, model: str | None = None, timeout: float | None = None) -> dict:
        """GET root+path as a JSON object; RemoteError for any failure (status included)."""
        return self._small_json("GET", path, None, model, timeout)

    def post_json(self, path: str, body: dict, model: str | None = None, timeout: float | None = None) -> dict:
        return self._small_json("POST", path, body, model, timeout)

    def _small_json(self, method: str, path: str, body: dict | None, model: str | None,
                    timeout: float | None) -> dict:
        url = self.root + path
        kwargs = {"timeout": timeout} if timeout is not None else {}
        try:
            with self._small.stream(method, url, json=body, headers=self.headers(), **kwargs) as resp:
                if resp.status_code != 200:
                    raise from_status(resp.status_code, read_bounded(resp, ERROR_BODY_BYTES), resp.headers,
                                      self.where, self._key, model)
                raw = read_bounded(resp, SMALL_BODY_BYTES)
        except RemoteError:
            raise
        except (httpx2.HTTPError, OSError) as exc:
            raise translate(exc, self.where, timeout or self.idle_seconds) from exc
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise NotAModelServer(f"{self.where} answered {path} with something other than JSON.")
        return data

    def stream(self, path: str, body: dict, cancel: threading.Event) -> StreamCall:
        return StreamCall(self, self._streams, self.root + path, body, cancel)


def read_bounded(resp: httpx2.Response, limit: int) -> bytes:
    """At most `limit` bytes of a response body (the rest is left unread)."""
    out = bytearray()
    for chunk in resp.iter_bytes():
        out += chunk[: limit - len(out)]
        if len(out) >= limit:
            break
    return bytes(out)


class CancelWatch:
    """Shuts down the connections of one streaming request when `cancel` is set."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="remote-cancel", daemon=True)

    def trace(self, event: str, info: dict) -> None:
        """httpcore's trace hook: keep each socket the request connects."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
        if self.cancel.is_set():
            self._shutdown()

    def __enter__(self) -> CancelWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.cancel.wait(CANCEL_POLL_SECONDS):
                self._shutdown()
                return

    def _shutdown(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                # socket.socket's own shutdown, also for a TLS socket: it acts on the
                # descriptor and leaves the TLS object to the reading thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class StreamCall:
    """One streaming POST: `with call as response:`; a status other than 200 raises
    the RemoteError for it, connection failures raise translated."""

    def __init__(self, http: Http, client: httpx2.Client, url: str, body: dict, cancel: threading.Event) -> None:
        self._http = http
        self._client = client
        self._url = url
        self._body = body
        self.watch = CancelWatch(cancel)
        self._cm = None

    def __enter__(self) -> httpx2.Response:
        self.watch.__enter__()
        try:
            self._cm = self._client.stream("POST", self._url, json=self._body, headers=self._http.headers(),
                                           extensions={"trace": self.watch.trace})
            resp = self._cm.__enter__()
        except Exception as exc:
            self._cm = None
            self.watch.__exit__(None, None, None)
            if isinstance(exc, (httpx2.HTTPError, OSError)):
                raise translate(exc, self._http.where, self._http.idle_seconds) from exc
            raise
        if resp.status_code != 200:
            try:
                body = read_bounded(resp, ERROR_BODY_BYTES)
            except (httpx2.HTTPError, OSError):
                body = b""
            err = from_status(resp.status_code, body, resp.headers, self._http.where, self._http.secret,
                              self._body.get("model"))
            self.__exit__(None, None, None)
            raise err
        return resp

    def __exit__(self, *exc: object) -> None:
        try:
            if self._cm is not None:
                cm, self._cm = self._cm, None
                try:
                    cm.__exit__(None, None, None)
                except (httpx2.HTTPError, OSError):
                    pass  # closing a connection that was shut down
        finally:
            self.watch.__exit__(None, None, None)
