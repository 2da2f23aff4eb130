"""The server's HTTP side: an ASGI app (Starlette) speaking OpenAI's chat API.

Why Starlette on uvicorn: a real ASGI stack parses HTTP/1.1 (keep-alive, chunked
bodies, slow or cut connections) with code many servers run, where a hand-written
http.server loop would be ours to get right. Starlette is the small routing and
request layer FastAPI is built on, without FastAPI's pydantic models and schema
generation, which a handful of fixed endpoints do not need; uvicorn with h11 is
pure Python, so nothing needs a compiler. Both are plain dependencies, loaded only
when `serve` runs.

Every request for text goes through one Worker (worker.py). The event loop never
touches the engine: the worker's thread hands each event over with
call_soon_threadsafe, and each request watches its connection so a client that
leaves cancels its generation at once (uvicorn drops writes to a closed socket
silently, so waiting for a failed send would not notice).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import time
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.core.errors import AppError, ContextOverflow, PromptError
from app.core.serve import reply
from app.core.serve.chat_request import ChatRequest, parse_body, parse_chat_request
from app.core.serve.errors import ApiError, bad_request, server_error
from app.core.serve.worker import (
    ENDED,
    STARTED,
    Job,
    JobRunner,
    NoModel,
    QueueFull,
    Refused,
    ServedModel,
    ServerStopping,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 << 20  # a long conversation is well under 1 MB of text
RETRY_AFTER_SECONDS = 10  # a reasoning reply takes tens of seconds; sooner would only be refused again
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
_DISCONNECTED = object()


def create_app(worker: JobRunner, *, token: str | None = None, cors_origins: Sequence[str] = (),
               max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The ASGI app for the model behind `worker`: whichever `worker.served()` names at the
    time of each request (the window's model can change). With `token`, every request needs
    "Authorization: Bearer <token>"; without one, only requests addressed to a loopback
    name are served (a web page cannot reach the server by pointing a name it controls
    at 127.0.0.1). CORS headers are sent only for `cors_origins`."""
    api = _Api(worker, max_body)
    routes = [
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/models/{model:path}", api.model, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/health", api.health, methods=["GET"]),
    ]
    middleware = []
    if cors_origins:  # outermost: a browser's preflight carries no token
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                                     allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"]))
    middleware.append(Middleware(Guard, token=token))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={
        ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected})


class Guard:
    """Refuses requests without the bearer token (401) or, with no token, requests for a
    host name that is not a loopback one (DNS rebinding)."""

    def __init__(self, app, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            error = None
            if self.expected is not None:
                given = headers.get(b"authorization", b"")
                if not hmac.compare_digest(given.strip(), self.expected):
                    error = ApiError(401, "This server needs an API key: send 'Authorization: Bearer <token>' with "
                                          "the token the server printed or was given.", code="invalid_api_key",
                                     headers={"WWW-Authenticate": "Bearer"})
            elif _host_name(headers.get(b"host", b"").decode("latin-1")) not in LOOPBACK_HOSTS:
                error = bad_request("This server answers only requests addressed to 127.0.0.1 or localhost.")
            if error is not None:
                await _error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.split(":", 1)[0]


class _Api:
    def __init__(self, worker: JobRunner, max_body: int) -> None:
        self.worker = worker
        self.max_body = max_body
        self.created = int(time.time())

    def _model_card(self, served: ServedModel) -> dict:
        return {"id": served.names[0], "object": "model", "created": self.created, "owned_by": "ponder",
                "context_length": served.context_size}

    def _served(self) -> ServedModel:
        served = self.worker.served()
        if served is None:
            raise api_error_from(NoModel())
        return served

    async def models(self, request: Request) -> Response:
        served = self.worker.served()  # none loaded: an empty list, as OpenAI-compatible servers send
        return JSONResponse({"object": "list", "data": [self._model_card(served)] if served else []})

    async def model(self, request: Request) -> Response:
        served = self.worker.served()
        if served is None or request.path_params["model"] not in served.names:
            raise ApiError(404, f"The model {request.path_params['model'][:200]!r} is not served here.",
                           code="model_not_found")
        return JSONResponse(self._model_card(served))

    async def health(self, request: Request) -> Response:
        running, waiting = self.worker.busy()
        return JSONResponse({"status": "ok", "busy": running, "waiting": waiting})

    async def chat(self, request: Request) -> Response:
        """POST /v1/chat/completions: OpenAI's chat completion, streamed (SSE) or whole.

        Fields read: model (optional; the served name), messages (system, developer,
        user, assistant; text only), stream, stream_options.include_usage, max_tokens
        (or max_completion_tokens), temperature, top_p, seed, stop, and the llama-server
        extensions top_k, min_p, ignore_eos, cache_prompt, grammar (GBNF) and reasoning_format ("none" keeps the
        thinking inline in <think> tags in `content`; otherwise it comes separately in
        `reasoning_content`). Sampling left out follows Phi-4-reasoning's model card
        (temperature 0.8, top_p 0.95, top_k 50).

        A conversation with no system message gets Phi-4-reasoning's own system prompt
        (app.core.prompt.PHI4_REASONING_SYSTEM_PROMPT): the model card says the model may
        not reason without it. Send any system message to replace it (an empty one for none).
        """
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            # Also keeps a web page's plain form post (no CORS preflight) from starting work.
            raise ApiError(415, "Send the body as JSON with the header 'Content-Type: application/json'.")
        body = await _read_body(request, self.max_body)
        return _ChatResponse(self.worker, parse_chat_request(parse_body(body), self._served().names))


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = ApiError(413, f"The request body is larger than {limit // (1 << 20)} MB, the most this server "
                              f"reads.", code="request_too_large")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # gone before it finished sending: nobody reads the answer
        raise bad_request("The request body was cut off.") from None
    return b"".join(chunks)


def api_error_from(exc: AppError) -> ApiError:
    """The HTTP answer for an engine's refusal."""
    if isinstance(exc, ContextOverflow):
        return ApiError(
            400, f"The request is too long for the model's context: the prompt is {exc.prompt_tokens:,} tokens, "
                 f"{exc.reserved:,} more are kept free for the reply, and the context holds {exc.context_size:,}. "
                 f"Send a shorter conversation or a smaller max_tokens, or start the server with a larger --ctx.",
            code="context_length_exceeded", param="messages", prompt_tokens=exc.prompt_tokens,
            context_size=exc.context_size, reserved_tokens=exc.reserved)
    if isinstance(exc, PromptError):
        return bad_request(exc.user_message, "messages")
    if isinstance(exc, ServerStopping):
        return server_error(exc.user_message, "server_stopping", status=503)
    if isinstance(exc, NoModel):
        return server_error(exc.user_message, "model_not_loaded", status=503)
    return server_error(exc.user_message)


class _ChatResponse(Response):
    """Runs one chat request through the worker and writes its reply as it comes."""

    def __init__(self, worker: JobRunner, req: ChatRequest) -> None:
        self.worker = worker
        self.req = req
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()

        def deliver(item: object) -> None:  # on the worker's thread
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody will read this reply
                job.cancel.set()

        job = Job(self.req.messages, self.req.params, deliver, fresh_prompt=self.req.fresh_prompt)
        try:
            self.worker.submit(job)
        except QueueFull:
            await _error_response(server_error(
                f"The server is busy: {self.worker.max_waiting} requests are already waiting. Try again in "
                f"{RETRY_AFTER_SECONDS} seconds.", "queue_full", status=503))(scope, receive, send)
            return
        except (ServerStopping, NoModel) as exc:
            await _error_response(api_error_from(exc))(scope, receive, send)
            return
        watcher = asyncio.create_task(_watch(receive, job, items))
        try:
            if self.req.stream:
                await _Stream(self.req, job, items, send, self.worker).run()
            else:
                await _whole(self.req, job, items, send, self.worker)
        except OSError:  # a server that raises on a closed socket rather than dropping the write
            pass
        finally:
            job.cancel.set()  # a no-op for a finished reply; frees the worker for a cut one
            self.worker.withdraw(job)
            watcher.cancel()


async def _watch(receive: Receive, job: Job, items: asyncio.Queue) -> None:
    """Cancel the job the moment its client disconnects (the body has been read, so the
    next message can only be the disconnect)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            job.cancel.set()
            items.put_nowait(_DISCONNECTED)
            return


async def _whole(req: ChatRequest, job: Job, items: asyncio.Queue, send: Send, worker: JobRunner) -> None:
    shaper = reply.ReplyShaper(req.stops, req.raw_reasoning)
    cid, created = reply.completion_id(), int(time.time())
    while True:
        item = await items.get()
        if item is _DISCONNECTED:
            return
        if item is ENDED:
            break
        if isinstance(item, Refused):
            await _send_whole(send, _error_response(api_error_from(item.error)))
            return
        if item is not STARTED and item.kind != "progress":
            shaper.feed(item)
            if shaper.stopped:
                job.cancel.set()
    shaper.finish()
    failure = _failure(shaper, job, worker)
    await _send_whole(send, _error_response(failure) if failure is not None
                      else JSONResponse(reply.completion(cid, req.model, shaper, created)))


def _failure(shaper: reply.ReplyShaper, job: Job, worker: JobRunner) -> ApiError | None:
    """Why a finished reply is not a reply: the engine failed, or the server is stopping."""
    if shaper.error is not None and not shaper.stopped:
        return server_error(shaper.error)
    cancelled = shaper.stats is None or shaper.stats.finish_reason == "cancelled"
    if cancelled and not shaper.stopped and worker.stopping:
        return api_error_from(ServerStopping())
    if shaper.stats is None and not shaper.stopped:
        return server_error("The model gave no reply.")
    return None


class _Stream:
    """Server-sent events: a role chunk once the prompt fits, a chunk per piece of text,
    a last chunk with the finish reason, the usage chunk if asked for, then [DONE]."""

    def __init__(self, req: ChatRequest, job: Job, items: asyncio.Queue, send: Send, worker: JobRunner) -> None:
        self.req, self.job, self.items, self.send, self.worker = req, job, items, send, worker
        self.cid, self.created = reply.completion_id(), int(time.time())
        self.usage = req.include_usage

    async def run(self) -> None:
        shaper = reply.ReplyShaper(self.req.stops, self.req.raw_reasoning)
        started = ended = False
        while not ended:
            # Whatever else has arrived goes out with this item: text that piled up while
            # the loop was busy becomes one chunk, not one per token (no wait is added).
            batch = [await self.items.get()]
            while not self.items.empty():
                batch.append(self.items.get_nowait())
            text: list[tuple[str, str]] = []
            for item in batch:
                if item is _DISCONNECTED:
                    return
                if item is ENDED:
                    ended = True
                    break
                if isinstance(item, Refused):  # before any byte went out: a plain error response
                    await _send_whole(self.send, _error_response(api_error_from(item.error)))
                    return
                if item is STARTED:
                    started = True
                    await self.send({"type": "http.response.start", "status": 200, "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no")]})
                    await self._chunk({"role": "assistant", "content": ""})
                elif item.kind == "progress":  # a comment line: keeps proxies and clients from timing out
                    await self._write(f": prompt {item.done}/{item.total}\n\n".encode())
                else:
                    text += shaper.feed(item)
                    if shaper.stopped:
                        self.job.cancel.set()
            await self._text(text)
        await self._text(shaper.finish())
        failure = _failure(shaper, self.job, self.worker)
        if not started:  # ended before its turn came (the server is stopping): no stream was begun
            await _send_whole(self.send, _error_response(failure or api_error_from(ServerStopping())))
            return
        if failure is not None:  # clients (the openai library among them) raise on an error event
            await self._write(b"data: " + failure.body_bytes() + b"\n\n", more=False)
            return
        await self._chunk({}, shaper.finish_reason())
        if self.usage:
            await self._data(reply.usage_chunk(self.cid, self.req.model, self.created, shaper.stats))
        await self._write(b"data: [DONE]\n\n", more=False)

    async def _text(self, deltas: list[tuple[str, str]]) -> None:
        """One chunk per run of deltas of the same field, in order."""
        for field, group in itertools.groupby(deltas, key=lambda d: d[0]):
            await self._chunk({field: "".join(t for _, t in group)})

    async def _chunk(self, delta: dict, finish: str | None = None) -> None:
        await self._data(reply.chunk(self.cid, self.req.model, self.created, delta, finish, self.usage))

    async def _data(self, data: dict) -> None:
        await self._write(b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n")

    async def _write(self, body: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": more})


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}


async def _send_whole(send: Send, response: Response) -> None:
    """Write a complete response (these only send, never receive: the watcher owns receive)."""
    await response({"type": "http"}, _no_receive, send)


def _error_response(error: ApiError) -> JSONResponse:
    headers = dict(error.headers)
    if error.status == 503 and error.code == "queue_full":
        headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    return _error_response(exc)  # type: ignore[arg-type]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    message = {404: f"There is no {request.url.path} here; the API is under /v1 (GET /v1/models, POST "
                    f"/v1/chat/completions).",
               405: f"{request.method} is not allowed on {request.url.path}."}.get(status, str(getattr(exc, "detail", "")))
    return _error_response(ApiError(status, message, code="not_found" if status == 404 else None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    return _error_response(server_error("The server failed while handling this request; its log has the details."))
