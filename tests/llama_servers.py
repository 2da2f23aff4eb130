"""Real llama.cpp servers for tests: llama-server and the RPC server, built once, run on loopback.

Plain helpers (no pytest fixtures) like model_files.py. The binaries are built from the
llama.cpp sources inside the llama-cpp-python sdist pinned in pyproject.toml, so the
servers speak the same llama.cpp the local engine links, and cached next to the test
model (cache_dir()). The first build takes several minutes on two cores; later runs find
the marker file and start at once. A file lock keeps two test processes from building
at the same time.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from tests.model_files import cache_dir

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
VERSION = LLAMA_CPP_PYTHON.split("==")[1]
RPC_TARGET = "ggml-rpc-server"  # tools/rpc/CMakeLists.txt in this llama.cpp
SERVER_TARGET = "llama-server"
# Static libraries so the two binaries need nothing else from the build folder; no
# network during the build (no prebuilt web UI, no HTTPS support needed on loopback).
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_RPC=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
]
LOG_TAIL = 3000
BUILD_SECONDS = 3600  # two cores: about 25 minutes here


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binaries:
    server: Path
    rpc: Path


def _pinned_version() -> str:
    """The llama-cpp-python version pyproject.toml pins (the build must follow it)."""
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip().strip('",')
        if line.startswith("llama-cpp-python=="):
            return line.split("==", 1)[1]
    raise BuildError("pyproject.toml pins no llama-cpp-python version")


def install_dir() -> Path:
    return cache_dir() / f"llama-server-{VERSION}"


def _marker() -> dict:
    return {"sdist": LLAMA_CPP_PYTHON, "cmake": CMAKE_FLAGS, "targets": [SERVER_TARGET, RPC_TARGET]}


def built() -> bool:
    """Whether the binaries are already in the cache (no build needed)."""
    return _cached(install_dir()) is not None


def _cached(dest: Path) -> Binaries | None:
    bins = Binaries(dest / "bin" / SERVER_TARGET, dest / "bin" / RPC_TARGET)
    try:
        if json.loads((dest / "built.json").read_text()) != _marker():
            return None
    except (OSError, ValueError):
        return None
    return bins if bins.server.is_file() and bins.rpc.is_file() else None


def _run_logged(cmd: list[str], cwd: Path, log: Path, what: str, timeout: float) -> None:
    """Run a build step in its own process group, so a timeout or an interrupt ends the
    compilers it started too, and fail with the tail of its output."""
    with open(log, "ab") as out:
        out.write(("\n$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if rc != 0:
        tail = log.read_bytes()[-LOG_TAIL:].decode(errors="replace")
        raise BuildError(f"{what} failed (exit {rc}); full log in {log}. Last lines:\n{tail}")


def build(jobs: int = 2, timeout: float = BUILD_SECONDS) -> Binaries:
    """The cached llama-server and RPC server, built first if missing. Raises BuildError
    with the build's last lines when any step fails (tests must fail, not skip)."""
    if _pinned_version() != VERSION:
        raise BuildError(f"tests/llama_servers.py builds llama-cpp-python {VERSION} but pyproject.toml pins "
                         f"{_pinned_version()}; update LLAMA_CPP_PYTHON")
    dest = install_dir()
    if bins := _cached(dest):
        return bins
    cache = cache_dir()
    with open(cache / f"llama-server-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now
        if bins := _cached(dest):
            return bins
        log = cache / f"llama-server-{VERSION}.build.log"
        log.write_bytes(b"")
        with tempfile.TemporaryDirectory(dir=cache, prefix=f"llama-server-{VERSION}.") as tmp:
            work = Path(tmp)
            _run_logged([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                         "--disable-pip-version-check", LLAMA_CPP_PYTHON, "-d", str(work)],
                        work, log, f"pip download of the {LLAMA_CPP_PYTHON} sdist", 900)
            sdists = list(work.glob("llama_cpp_python-*.tar.gz"))
            if len(sdists) != 1:
                raise BuildError(f"expected one sdist from pip download, got {sdists}")
            with tarfile.open(sdists[0]) as tar:
                tar.extractall(work, filter="data")
            src = work / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp"
            if not (src / "CMakeLists.txt").is_file():
                raise BuildError(f"no llama.cpp sources at {src}")
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            start = time.monotonic()
            _run_logged(["cmake", "-S", str(src), "-B", str(work / "build"), *generator, *CMAKE_FLAGS],
                        work, log, "cmake configure", 600)
            _run_logged(["cmake", "--build", str(work / "build"), "--target", SERVER_TARGET, RPC_TARGET,
                         "-j", str(jobs)], work, log, "cmake build", timeout - (time.monotonic() - start))
            built = [next((work / "build").rglob(name), None) for name in (SERVER_TARGET, RPC_TARGET)]
            if not all(p and p.is_file() for p in built):
                raise BuildError(f"the build finished without {SERVER_TARGET} and {RPC_TARGET}; log in {log}")
            staging = Path(tempfile.mkdtemp(dir=cache, prefix=dest.name + ".new."))
            os.chmod(staging, 0o755)  # mkdtemp makes 0700; the cache may be shared
            (staging / "bin").mkdir()
            for p in built:
                shutil.copy2(p, staging / "bin" / p.name)
            (staging / "built.json").write_text(json.dumps(_marker()))
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(staging, dest)
        bins = _cached(dest)
        assert bins is not None
        return bins


# --- processes ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Looked up here, not in the forked child (no loader work between fork and exec).
_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the server gets SIGKILL if the test process dies without its teardown
    (killed, or crashed), so no server outlives the tests."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    """One server process on loopback, its output in a log file (shown when it fails)."""

    name: str
    args: list[str]
    log: Path
    port: int
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            # prctl is async-signal-safe and was looked up before the fork, so the child
            # runs no Python-level locking between fork and exec.
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, n: int = LOG_TAIL) -> str:
        try:
            return self.log.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, wait: float = 10) -> None:
        """End the process (its whole group), SIGKILL after `wait` seconds."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=wait)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def wait_for_port(proc: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited (code {proc.popen.returncode}) before listening:\n"
                               f"{proc.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", proc.port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on port {proc.port} within {timeout:.0f} s:\n{proc.log_tail()}")


def wait_for_health(proc: Process, timeout: float = 180) -> None:
    """llama-server answers /health 503 while it loads the model, 200 once it can serve."""
    url = f"http://127.0.0.1:{proc.port}/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited (code {proc.popen.returncode}) while loading:\n"
                               f"{proc.log_tail()}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} was not healthy within {timeout:.0f} s:\n{proc.log_tail()}")


def rpc_server(bins: Binaries, log_dir: Path, name: str, port: int | None = None) -> Process:
    port = port or free_port()
    # One thread each: two "machines" share this host's cores with llama-server.
    proc = Process(name, [str(bins.rpc), "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                   log_dir / f"{name}.log", port)
    proc.start()
    try:
        wait_for_port(proc)
    except BaseException:
        proc.kill()
        raise
    return proc


def llama_server(bins: Binaries, model: Path, log_dir: Path, *, rpc: list[Process] = (), extra: list[str] = (),
                 name: str = "llama-server", port: int | None = None) -> Process:
    port = port or free_port()
    args = [str(bins.server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
            "-c", "2048", "--parallel", "1", "--threads", "1", "--no-webui", "--seed", "7"]
    if rpc:
        args += ["--rpc", ",".join(f"127.0.0.1:{p.port}" for p in rpc), "-ngl", "99"]
    proc = Process(name, args + list(extra), log_dir / f"{name}.log", port)
    proc.start()
    try:
        wait_for_health(proc)
    except BaseException:
        proc.kill()
        raise
    return proc


class Cluster:
    """Two RPC servers on 127.0.0.1 as two "machines", and llama-server spreading the
    model's layers over both (-ngl 99: none stay with llama-server itself)."""

    def __init__(self, bins: Binaries, model: Path, log_dir: Path, extra: list[str] = ()) -> None:
        self.bins, self.model, self.log_dir, self.extra = bins, model, log_dir, list(extra)
        self.rpcs: list[Process] = []
        self.server: Process | None = None
        try:
            self.rpcs = [rpc_server(bins, log_dir, "rpc-a"), rpc_server(bins, log_dir, "rpc-b")]
            self.server = llama_server(bins, model, log_dir, rpc=self.rpcs, extra=self.extra)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def ensure_up(self) -> None:
        """Start again whatever a test killed, on the same ports (the same address for clients).
        llama-server is started again too when an RPC server was: its connection is gone."""
        restarted = False
        for i, rpc in enumerate(self.rpcs):
            if not rpc.alive():
                rpc.stop()
                self.rpcs[i] = rpc_server(self.bins, self.log_dir, rpc.name, rpc.port)
                restarted = True
        if restarted or not self.server.alive():
            self.server.stop()
            self.server = llama_server(self.bins, self.model, self.log_dir, rpc=self.rpcs, extra=self.extra,
                                       port=self.server.port)

    def stop(self) -> None:
        for proc in [self.server, *self.rpcs]:
            if proc is not None:
                proc.stop()


if __name__ == "__main__":  # python -m tests.llama_servers: build (or find) the binaries
    print(build())
