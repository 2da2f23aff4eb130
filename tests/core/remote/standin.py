"""Stand-in model servers on 127.0.0.1: each replays one real server's wire format as
its documentation describes it, with faults to order. Nothing here is the real server.

What each stand-in follows:
- llama.cpp's llama-server: tools/server/README.md in github.com/ggml-org/llama.cpp —
  POST /v1/chat/completions streamed as server-sent events, `delta.reasoning_content`
  with --reasoning-format deepseek (or `<think>` in `content` with none), the final
  `timings` object (prompt_n, predicted_n, predicted_per_second...) and `usage`,
  GET /props (default_generation_settings.n_ctx, total_slots, build_info), POST /tokenize
  ({"tokens": [...]}), POST /apply-template ({"prompt"}), and POST
  /v1/chat/completions/control ({"id", "action": "reasoning_end"} -> {"success"}; only
  for a completion sent with "reasoning_control": true).
- vLLM: docs.vllm.ai, "Reasoning Outputs" (`delta.reasoning`, called `reasoning_content`
  before 0.11) and "OpenAI-Compatible Server" (GET /v1/models with max_model_len,
  POST /tokenize -> {"count", "max_model_len", "tokens"}, GET /version).
- Ollama: docs/api.md in github.com/ollama/ollama — POST /api/chat streamed as
  newline-delimited JSON, `message.thinking` when the request has "think": true, a last
  line with done, done_reason, prompt_eval_count, eval_count and durations in ns;
  POST /api/show (model_info["<arch>.context_length"], capabilities), GET /api/tags,
  GET /api/version.
- OpenRouter: openrouter.ai/docs (API reference, streaming; reasoning tokens) —
  ': OPENROUTER PROCESSING' comment lines, `delta.reasoning`, a last chunk with `usage`
  (completion_tokens_details.reasoning_tokens), GET /api/v1/models with context_length,
  everything under /api and behind a Bearer key.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASONING = ["Let me think. ", "Two plus two ", "is four."]
ANSWER = ["The answer ", "is **4**."]
_WORD = re.compile(r"\w+|[^\w\s]")


def standin_tokens(text: str) -> list[int]:
    """The stand-in's tokenizer: words and symbols (deliberately unlike chars/4)."""
    return list(range(len(_WORD.findall(text))))


def chatml(messages: list[dict]) -> str:
    parts = [f"<|im_start|>{m.get('role')}<|im_sep|>{m.get('content')}<|im_end|>" for m in messages]
    return "".join(parts) + "<|im_start|>assistant<|im_sep|>"


def prompt_tokens(messages: list[dict]) -> int:
    return len(standin_tokens(chatml(messages)))


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: dict | None


@dataclass
class StandIn:
    """A stand-in server of `kind` ('llama.cpp', 'vllm', 'ollama', 'openrouter').

    reasoning_field: where the thinking goes ('reasoning_content', 'reasoning',
    'thinking', or 'tags' for <think> inside the content). fault: None, or
    'status' (answer the chat with `status`), 'cut' (drop the connection after
    `after` pieces), 'eof' (end the body cleanly after `after` pieces with no end mark),
    'hang' (send `after` pieces, then nothing until the client disconnects),
    'malformed' (`bad_lines` unreadable lines first), 'huge' (a line over 1 MB),
    'stream_error' (an error object after `after` pieces).
    """

    kind: str = "llama.cpp"
    reasoning_field: str = "reasoning_content"
    reasoning: list[str] = field(default_factory=lambda: list(REASONING))
    answer: list[str] = field(default_factory=lambda: list(ANSWER))
    model: str = "phi-4-reasoning"
    api_key: str | None = None
    control: bool = True  # llama.cpp: this build has the control endpoint
    fault: str | None = None
    after: int = 2
    bad_lines: int = 0
    status: tuple[int, str, dict] = (500, '{"error": {"message": "boom"}}', {})
    pace: float = 0.0  # seconds between pieces
    n_ctx: int = 4096
    predicted_per_second: float = 42.5

    def __post_init__(self) -> None:
        self.seen: list[Seen] = []
        self.control_calls: list[dict] = []
        self.disconnected = threading.Event()
        self.pieces_sent = 0
        self.last_completion_id: str | None = None
        self._stop = threading.Event()
        self._ended = threading.Event()  # answer-now arrived for the current completion
        self._armed: set[str] = set()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.prefix = "/api" if self.kind == "openrouter" else ""

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> StandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="standin", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        with self._lock:
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._server.server_close()  # joins the handler threads
        self._thread.join()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/api/v1" if self.kind == "openrouter" else "")

    def chat_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith(("/chat/completions", "/api/chat"))]

    # -- routes ----------------------------------------------------------------------------

    def handle(self, h: _Handler, method: str, path: str, body: dict | None) -> None:
        self.seen.append(Seen(method, path, dict(h.headers), body))
        if self.api_key is not None and h.headers.get("Authorization") != f"Bearer {self.api_key}":
            given = h.headers.get("Authorization", "")
            # Real servers are not this careless; the engine must not repeat it anyway.
            return h.json(401, {"error": {"message": f"Invalid API key: {given}", "code": 401}})
        if self.prefix:
            if not path.startswith(self.prefix):
                return h.json(404, {"error": "not found"})
            path = path[len(self.prefix):]
        route = getattr(self, f"_{self.kind.replace('.', '')}_{method}", None)
        if route is None or route(h, path, body or {}) is False:
            h.json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

    def _llamacpp_GET(self, h, path, body):
        if path == "/props":
            return h.json(200, {"default_generation_settings": {"n_ctx": self.n_ctx, "params": {"top_k": 40}},
                                "total_slots": 1, "model_path": f"/models/{self.model}.gguf",
                                "chat_template": "{{ messages }}", "build_info": "b6500-standin"})
        if path == "/v1/models":
            return h.json(200, {"object": "list", "data": [{"id": self.model, "object": "model",
                                                            "owned_by": "llamacpp", "meta": {"n_ctx_train": 32768}}]})
        if path == "/health":
            return h.json(200, {"status": "ok"})
        return False

    def _llamacpp_POST(self, h, path, body):
        if path == "/tokenize":
            return h.json(200, {"tokens": standin_tokens(str(body.get("content", "")))})
        if path == "/apply-template":
            return h.json(200, {"prompt": chatml(body.get("messages", []))})
        if path == "/v1/chat/completions/control" and self.control:
            self.control_calls.append(body)
            if body.get("action") != "reasoning_end":
                return h.json(400, {"error": {"message": "unknown control action"}})
            if body.get("id") not in self._armed:
                return h.json(200, {"success": False, "message": "no matching completion"})
            self._ended.set()
            return h.json(200, {"success": True})
        if path == "/v1/chat/completions":
            return self._openai_stream(h, body)
        return False

    def _vllm_GET(self, h, path, body):
        if path == "/version":
            return h.json(200, {"version": "0.11.0"})
        if path == "/v1/models":
            return h.json(200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "vllm",
                                                            "root": self.model, "max_model_len": self.n_ctx}]})
        return False

    def _vllm_POST(self, h, path, body):
        if path == "/tokenize":
            text = chatml(body["messages"]) if "messages" in body else str(body.get("prompt", ""))
            ids = standin_tokens(text)
            return h.json(200, {"count": len(ids), "max_model_len": self.n_ctx, "tokens": ids, "token_strs": None})
        if path == "/v1/chat/completions":
            return self._openai_stream(h, body)
        return False

    def _openrouter_GET(self, h, path, body):
        if path == "/v1/models":
            other = {"id": "someone/other-model", "context_length": 8192}
            return h.json(200, {"data": [other, {"id": self.model, "name": "Phi 4 Reasoning Plus",
                                                 "context_length": self.n_ctx,
                                                 "top_provider": {"context_length": self.n_ctx}}]})
        return False

    def _openrouter_POST(self, h, path, body):
        if path == "/v1/chat/completions":
            return self._openai_stream(h, body)
        return False

    def _ollama_GET(self, h, path, body):
        if path == "/api/version":
            return h.json(200, {"version": "0.12.3"})
        if path == "/api/tags":
            return h.json(200, {"models": [{"name": self.model, "model": self.model, "size": 1,
                                            "details": {"family": "phi3"}}]})
        return False

    def _ollama_POST(self, h, path, body):
        if path == "/api/show":
            if body.get("model") != self.model:
                return h.json(404, {"error": f"model '{body.get('model')}' not found"})
            return h.json(200, {"model_info": {"general.architecture": "phi3", "phi3.context_length": 32768},
                                "capabilities": ["completion", "thinking"], "details": {"family": "phi3"}})
        if path == "/api/chat":
            return self._ollama_stream(h, body)
        return False

    # -- streams -------------------------------------------------------------------------------

    def _pieces(self, in_fields: bool) -> list[tuple[str, str]]:
        """(side, text) in send order; with tags, the thinking rides in the content."""
        if in_fields:
            return [("reasoning", r) for r in self.reasoning] + [("content", a) for a in self.answer]
        return ([("content", "<think>")] + [("content", r) for r in self.reasoning] + [("content", "</think>")]
                + [("content", a) for a in self.answer])

    def _openai_stream(self, h, body: dict) -> None:
        if self.fault == "status":
            code, text, headers = self.status
            return h.raw(code, text.encode(), headers)
        if self.fault == "whole":  # a server that ignores "stream": one JSON answer
            message = {"role": "assistant", "content": "".join(self.answer),
                       "reasoning_content": "".join(self.reasoning)}
            p = prompt_tokens(body.get("messages", []))
            return h.json(200, {"id": "chatcmpl-whole", "object": "chat.completion", "model": self.model,
                                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": p, "completion_tokens": 9, "total_tokens": p + 9}})
        cid = self.last_completion_id = f"chatcmpl-{len(self.seen)}"
        if body.get("reasoning_control"):
            self._armed.add(cid)
        self._ended.clear()
        h.start_stream("text/event-stream")
        if self.kind == "openrouter":
            h.chunk(b": OPENROUTER PROCESSING\n\n")
        for _ in range(self.bad_lines):
            h.chunk(b"data: {this is not json\n\n")

        def event(choice_delta: dict | None, finish: str | None = None, **extra) -> bytes:
            choices = [] if choice_delta is None else [{"index": 0, "delta": choice_delta, "finish_reason": finish}]
            payload = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": self.model,
                       "choices": choices, **extra}
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        p = prompt_tokens(body.get("messages", []))
        if self.kind == "llama.cpp" and body.get("return_progress"):  # while the prompt is read
            for done in (p // 2, p):
                progress = {"total": p, "cache": 0, "processed": done, "time_ms": 3}
                h.chunk(event({"role": "assistant", "content": None}, prompt_progress=progress))
        else:
            h.chunk(event({"role": "assistant", "content": None}))
        sent = 0
        in_fields = self.reasoning_field != "tags"
        pieces = self._pieces(in_fields)
        i = 0
        while i < len(pieces):
            side, text = pieces[i]
            if self._ended.is_set() and self._is_thinking(pieces, i, in_fields):
                i += 1  # answer-now: the rest of the thinking is skipped
                if not in_fields and text == "</think>":
                    h.chunk(event({"content": "</think>"}))
                continue
            if self._fault_now(h, sent):
                return
            key = self.reasoning_field if side == "reasoning" else "content"
            h.chunk(event({key: text}))
            sent += 1
            self.pieces_sent = sent
            i += 1
            if self.pace:
                time.sleep(self.pace)
        if self.fault == "eof":
            return h.end_stream()
        h.chunk(event({}, "stop"))
        n = sent
        usage = {"prompt_tokens": p, "completion_tokens": n, "total_tokens": p + n}
        extra = {}
        if self.kind == "openrouter":
            usage["completion_tokens_details"] = {"reasoning_tokens": len(self.reasoning)}
            usage["cost"] = 0.0001
        if self.kind == "llama.cpp":
            extra["timings"] = {"cache_n": 0, "prompt_n": p, "prompt_ms": 12.5, "prompt_per_second": p / 0.0125,
                                "predicted_n": n, "predicted_ms": 1000 * n / self.predicted_per_second,
                                "predicted_per_second": self.predicted_per_second}
        if (body.get("stream_options") or {}).get("include_usage"):
            h.chunk(event(None, usage=usage, **extra))
        h.chunk(b"data: [DONE]\n\n")
        h.end_stream()

    def _is_thinking(self, pieces, i, in_fields) -> bool:
        if in_fields:
            return pieces[i][0] == "reasoning"
        close = pieces.index(("content", "</think>"))
        return 0 < i <= close

    def _ollama_stream(self, h, body: dict) -> None:
        if self.fault == "status":
            code, text, headers = self.status
            return h.raw(code, text.encode(), headers)
        h.start_stream("application/x-ndjson")
        for _ in range(self.bad_lines):
            h.chunk(b"{this is not json\n")

        def line(content: str = "", thinking: str | None = None, **extra) -> bytes:
            message = {"role": "assistant", "content": content}
            if thinking is not None:
                message["thinking"] = thinking
            payload = {"model": self.model, "created_at": "2025-06-01T00:00:00Z", "message": message,
                       "done": False, **extra}
            return json.dumps(payload).encode() + b"\n"

        sent = 0
        for side, text in self._pieces(bool(body.get("think"))):
            if self._fault_now(h, sent):
                return
            h.chunk(line(thinking=text) if side == "reasoning" else line(content=text))
            sent += 1
            self.pieces_sent = sent
            if self.pace:
                time.sleep(self.pace)
        if self.fault == "eof":
            return h.end_stream()
        p = prompt_tokens(body.get("messages", []))
        h.chunk(line(done=True, done_reason="stop", total_duration=2_000_000_000, load_duration=1_000_000,
                     prompt_eval_count=p, prompt_eval_duration=50_000_000, eval_count=sent,
                     eval_duration=int(sent / self.predicted_per_second * 1e9)))
        h.end_stream()

    def _fault_now(self, h, sent: int) -> bool:
        """Act out the fault once `after` pieces went; True when the stream is over."""
        if sent != self.after or self.fault not in ("cut", "hang", "huge", "stream_error"):
            return False
        if self.fault == "cut":
            h.drop()
        elif self.fault == "hang":
            h.wait_for_disconnect(self._stop)
        elif self.fault == "huge":
            h.chunk(b"data: " + b"x" * (1_100_000) + b"\n\n")
            h.wait_for_disconnect(self._stop)
        elif self.fault == "stream_error":
            payload = {"error": {"code": 500, "message": "CUDA error: out of memory", "type": "server_error"}}
            h.chunk(b"data: " + json.dumps(payload).encode() + b"\n\n" if self.kind != "ollama"
                    else json.dumps({"error": "CUDA error: out of memory"}).encode() + b"\n")
            h.end_stream()
        return True

    def register(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.append(conn)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # joined at server_close: no thread outlives a test
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that went away mid-write is what several tests do on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: StandIn

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm
        # and delayed ACKs add 40 ms to every answer (real servers set it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.owner.register(self.connection)

    def log_message(self, format, *args) -> None:
        pass

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.owner.handle(self, method, self.path.split("?")[0], body if isinstance(body, dict) else None)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def json(self, code: int, data: object) -> None:
        self.raw(code, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def raw(self, code: int, body: bytes, headers: dict) -> None:
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Close the connection mid-body, as a crashed server or a broken network does."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait_for_disconnect(self, stop: threading.Event) -> None:
        """Send nothing more; note when the client closes its end."""
        self.close_connection = True
        while not stop.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            if readable:
                try:
                    data = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    data = b""
                if not data:
                    self.owner.disconnected.set()
                    return
