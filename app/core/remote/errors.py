"""What goes wrong talking to a model server, in words people can act on.

Every failure at the HTTP boundary becomes one of these (`translate` for transport
errors, `from_status` for an HTTP status). Text the server sent is shown as plain text,
stripped of control characters, cut short, and with the API key blanked out if a
server echoes it back.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import socket
import ssl
import time

import httpx2

from app.core.errors import AppError

SERVER_TEXT_CHARS = 300  # of a server's own error text, in a message
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


class RemoteError(AppError):
    """A model server could not be used."""


class ServerUnreachable(RemoteError):
    """Nothing answered at the address (refused, no route, connect timeout)."""


class HostNotFound(ServerUnreachable):
    """The host name does not resolve (DNS)."""


class SecureConnectionFailed(RemoteError):
    """TLS failed: a bad certificate, or https spoken to a plain-http server."""


class AuthRejected(RemoteError):
    """401/403: the API key is missing, wrong, or lacks access."""


class ModelNotFound(RemoteError):
    """404 for the model (or the server has no model to offer)."""


class RateLimited(RemoteError):
    """429: too many requests; `retry_after` seconds to wait, when the server said."""

    def __init__(self, user_message: str, retry_after: float | None = None, **details: object) -> None:
        super().__init__(user_message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class ServerFailed(RemoteError):
    """5xx, or an error the server reported inside the stream."""


class RequestRefused(RemoteError):
    """Another 4xx: the server refused the request as sent (too long a prompt, bad option)."""


class StreamCut(RemoteError):
    """The connection ended in the middle of a reply."""


class StreamMalformed(RemoteError):
    """The server sent lines that are not its protocol (too long, or too many unreadable)."""


class ServerIdle(RemoteError):
    """The server stopped sending for longer than the idle limit."""


class NotAModelServer(RemoteError):
    """Something answered, but not as any model server Ponder knows."""


def server_text(raw: bytes | str, secret: str | None = None) -> str:
    """A server's error body as one short plain line: the `message` of a JSON error
    when there is one (OpenAI, vLLM, llama.cpp and Ollama shapes), else the text."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text[:65536]
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    message = _message_of(data) if data is not None else None
    return clean(message if message is not None else text, secret)


def _message_of(data: object) -> str | None:
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, str):
            return err
        if isinstance(err, dict):
            for key in ("message", "detail", "error"):
                if isinstance(err.get(key), str):
                    return err[key]
        if isinstance(data.get("message"), str):
            return data["message"]
        if isinstance(data.get("detail"), str):
            return data["detail"]
    return None


def clean(text: str, secret: str | None = None) -> str:
    """Plain, one line, at most SERVER_TEXT_CHARS, never the key."""
    if secret:
        text = text.replace(secret, "***")
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(text) > SERVER_TEXT_CHARS:
        text = text[: SERVER_TEXT_CHARS - 1].rstrip() + "…"
    return text


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date (None if neither)."""
    if not value:
        return None
    value = value.strip()[:64]
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, min(seconds, 86400.0))


def from_status(status: int, body: bytes, headers: httpx2.Headers | dict, where: str,
                secret: str | None = None, model: str | None = None) -> RemoteError:
    """The error for an HTTP `status` answered by the server at `where`."""
    said = server_text(body, secret) if body else ""
    tail = f" The server said: {said}" if said else ""
    if status in (401, 403):
        return AuthRejected(f"{where} refused the request (HTTP {status}): the API key is missing, wrong, or has "
                            f"no access. Check the key and the environment variable it comes from.{tail}",
                            status=status)
    if status == 404:
        what = f"the model {model!r}" if model else "what was asked for"
        return ModelNotFound(f"{where} does not have {what} (HTTP 404). Check the model name, or list the server's "
                             f"models with: python -m app engines test URL.{tail}", status=status)
    if status == 429:
        wait = retry_after(headers.get("retry-after"))
        when = f"try again in {wait:.0f} seconds" if wait is not None else "wait a little and try again"
        return RateLimited(f"{where} is getting too many requests (HTTP 429): {when}.{tail}", wait, status=status)
    if 500 <= status < 600:
        return ServerFailed(f"{where} failed with HTTP {status}. Try again; if it keeps failing, the server's own "
                            f"log says why.{tail}", status=status)
    return RequestRefused(f"{where} refused the request (HTTP {status}).{tail}", status=status)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def translate(exc: BaseException, where: str, idle_seconds: float | None = None,
              mid_reply: bool = False) -> RemoteError:
    """The RemoteError for an httpx2 (or socket) failure while talking to `where`."""
    if isinstance(exc, RemoteError):
        return exc
    causes = list(_chain(exc))
    if any(isinstance(c, socket.gaierror) for c in causes):
        return HostNotFound(f"The host of {where} could not be found. Check the address (and the network).")
    if any(isinstance(c, ssl.SSLError) for c in causes):
        reason = next(clean(str(c)) for c in causes if isinstance(c, ssl.SSLError))
        return SecureConnectionFailed(f"A secure (https) connection to {where} could not be set up: {reason}. "
                                      f"If the server speaks plain http, use an http:// address.")
    if isinstance(exc, httpx2.ConnectTimeout):
        return ServerUnreachable(f"{where} did not answer in time. Check that the server is running and that "
                                 f"the address and port are right.")
    if isinstance(exc, httpx2.ConnectError):
        return ServerUnreachable(f"Could not connect to {where}: {clean(str(exc)) or 'connection failed'}. Check that "
                                 f"the server is running and that the address and port are right.")
    if isinstance(exc, (httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.PoolTimeout)):
        seconds = f" for {idle_seconds:.0f} seconds" if idle_seconds else ""
        return ServerIdle(f"{where} stopped sending{seconds}, so the reply was given up. The server may be "
                          f"overloaded or stuck; try again.")
    if mid_reply or isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return StreamCut(f"The connection to {where} was lost in the middle of the reply; the text so far is kept. "
                         f"Try again.")
    return RemoteError(f"Talking to {where} failed: {clean(str(exc)) or type(exc).__name__}.")
