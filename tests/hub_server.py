"""A local Hugging Face Hub on 127.0.0.1 for tests: enough of the real protocol for the
real huggingface_hub client, plus switches for the failures downloads must survive.

Two listeners share one state: the "hub" answers /{repo}/resolve/{rev}/{file} with the
headers huggingface_hub reads (X-Repo-Commit, X-Linked-Etag = the LFS sha256,
X-Linked-Size, a redirect to the CDN) and /api/models/{repo}/paths-info/{rev}; the "cdn"
serves the bytes with HTTP Range. Being on another port makes the CDN another origin,
as on huggingface.co, so the client does not follow the redirect on HEAD. Xet is never
advertised, so the plain HTTP path is what gets tested.

Point the client at it with the `endpoint=` argument of huggingface_hub's functions (it
reads HF_ENDPOINT once, at import), or with HF_ENDPOINT in a child process's environment.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_PATHS_INFO = re.compile(r"^/api/models/([^/]+/[^/]+)/paths-info/([^/]+)$")
_CDN = re.compile(r"^/cdn/([0-9a-f]{64})$")


@dataclass
class Seen:
    listener: str  # "hub" or "cdn"
    method: str
    path: str
    range: str | None
    status: int = 0
    sent: int = 0  # body bytes written


@dataclass
class Faults:
    """Misbehaviour, set by tests before (or during) a download."""

    status: dict[str, tuple[int, int]] = field(default_factory=dict)  # "hub"/"cdn" -> (HTTP status, times; -1 always)
    gated: set[str] = field(default_factory=set)  # repo ids answering 403 GatedRepo
    unauthorized: set[str] = field(default_factory=set)  # repo ids answering a bare 401
    corrupt: set[str] = field(default_factory=set)  # sha256s served with one byte flipped
    chunk: int = 64 * 1024
    delay: float = 0.0  # seconds between chunks on the CDN
    drop_after: int | None = None  # close the connection once after this many body bytes
    cut_every: int | None = None  # close the connection after this many body bytes, every time
    ignore_range: bool = False
    commit: str | None = None  # sent as X-Repo-Commit (and accepted as a revision) instead of the real one


class LocalHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.faults = Faults()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.url = self.cdn_url = ""

    # -- content ---------------------------------------------------------------------------
    def add(self, repo_id: str, filename: str, data: bytes) -> str:
        """Publish `data` as an LFS file; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        self.repos.setdefault(repo_id, {})[filename] = data
        self.blobs[sha] = data
        return sha

    @staticmethod
    def commit(repo_id: str) -> str:
        return hashlib.sha1(repo_id.encode()).hexdigest()

    def requests(self, listener: str | None = None, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if (listener in (None, s.listener)) and (method in (None, s.method))]

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalHub:
        for name in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, name))
            server.daemon_threads = False  # server_close() then joins every connection's thread
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"local-{name}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.url = f"http://127.0.0.1:{self._servers[0].server_port}"
        self.cdn_url = f"http://127.0.0.1:{self._servers[1].server_port}"
        return self

    def stop(self) -> None:
        from huggingface_hub.utils import close_session

        self.faults.delay = 0.0
        # huggingface_hub keeps connections alive in a shared client; closing it ends their
        # server threads, so the joins below return.
        close_session()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _take_fault(self, listener: str) -> int | None:
        with self._lock:
            status, times = self.faults.status.get(listener, (0, 0))
            if not status or times == 0:
                return None
            if times > 0:
                self.faults.status[listener] = (status, times - 1)
            return status


def _handler(hub: LocalHub, listener: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection cannot hold up stop() for longer

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _record(self) -> Seen:
            seen = Seen(listener, self.command, self.path, self.headers.get("Range"))
            with hub._lock:
                hub.seen.append(seen)
            return seen

        def _reply(self, seen: Seen, status: int, headers: dict | None = None, body: bytes = b"") -> None:
            seen.status = status
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)
                seen.sent = len(body)

        def do_HEAD(self) -> None:
            self._route()

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def _route(self) -> None:
            seen = self._record()
            if (status := hub._take_fault(listener)) is not None:
                return self._reply(seen, status, {"Content-Type": "text/plain"}, b"injected failure")
            path = self.path.split("?", 1)[0]
            if listener == "hub" and (m := _RESOLVE.match(path)):
                return self._resolve(seen, m.group(1), unquote(m.group(2)), unquote(m.group(3)))
            if listener == "hub" and self.command == "POST" and (m := _PATHS_INFO.match(path)):
                return self._paths_info(seen, m.group(1))
            if listener == "cdn" and (m := _CDN.match(path)) and m.group(1) in hub.blobs:
                return self._serve(seen, m.group(1))
            self._reply(seen, 404, {"X-Error-Code": "EntryNotFound"}, b"not found")

        def _repo_error(self, seen: Seen, repo_id: str) -> bool:
            if repo_id in hub.faults.gated:
                self._reply(seen, 403, {"X-Error-Code": "GatedRepo",
                                        "X-Error-Message": "Access to this model is restricted."}, b"gated")
            elif repo_id in hub.faults.unauthorized:
                self._reply(seen, 401, {}, b"unauthorized")
            elif repo_id not in hub.repos:
                # The real Hub answers 401 for a missing repository, as for a private one.
                self._reply(seen, 401, {"X-Error-Code": "RepoNotFound",
                                        "X-Error-Message": "Repository not found"}, b"no repo")
            else:
                return False
            return True

        def _resolve(self, seen: Seen, repo_id: str, revision: str, filename: str) -> None:
            if self._repo_error(seen, repo_id):
                return
            commit = hub.faults.commit or hub.commit(repo_id)
            if revision not in ("main", commit):
                return self._reply(seen, 404, {"X-Error-Code": "RevisionNotFound"}, b"no revision")
            data = hub.repos[repo_id].get(filename)
            if data is None:
                return self._reply(seen, 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit},
                                   b"no file")
            sha = hashlib.sha256(data).hexdigest()
            self._reply(seen, 302, {
                "Location": f"{hub.cdn_url}/cdn/{sha}",
                "X-Repo-Commit": commit,
                "ETag": f'"{hashlib.sha1(data).hexdigest()}"',  # the git pointer's id, as on the Hub
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": len(data),
            })

        def _paths_info(self, seen: Seen, repo_id: str) -> None:
            # The body is read before any error reply: left unread, it would be taken for the
            # next request on this keep-alive connection (and answered 501).
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if self._repo_error(seen, repo_id):
                return
            out = []
            for p in form.get("paths", []):
                data = hub.repos[repo_id].get(p)
                if data is not None:
                    sha = hashlib.sha256(data).hexdigest()
                    out.append({"type": "file", "path": p, "size": len(data), "oid": hashlib.sha1(data).hexdigest(),
                                "lfs": {"oid": sha, "size": len(data), "pointerSize": 134}})
            self._reply(seen, 200, {"Content-Type": "application/json"}, json.dumps(out).encode())

        def _serve(self, seen: Seen, sha: str) -> None:
            data = hub.blobs[sha]
            if sha in hub.faults.corrupt:
                mid = len(data) // 2
                data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
            start = 0
            rng = self.headers.get("Range")
            if rng and not hub.faults.ignore_range:
                start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data) and data:
                return self._reply(seen, 416, {"Content-Range": f"bytes */{len(data)}"})
            body = data[start:]
            seen.status = 206 if start or (rng and not hub.faults.ignore_range) else 200
            self.send_response(seen.status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if seen.status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                for i in range(0, len(body), hub.faults.chunk):
                    piece = body[i:i + hub.faults.chunk]
                    drop = hub.faults.drop_after if hub.faults.cut_every is None else hub.faults.cut_every
                    if drop is not None and seen.sent + len(piece) > drop:
                        hub.faults.drop_after = None  # once (cut_every stays)
                        self.wfile.write(piece[: max(0, drop - seen.sent)])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    self.wfile.write(piece)
                    seen.sent += len(piece)
                    if hub.faults.delay:
                        time.sleep(hub.faults.delay)  # throttling: the server's pace, not a test wait
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler
