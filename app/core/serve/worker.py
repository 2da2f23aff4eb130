"""The server's one model worker: a thread that owns the engine and runs requests one at a
time, first come first served.

An engine is not thread-safe (one llama.cpp context, one KV cache), so every request
goes through this thread. Requests wait in a bounded line: past `max_waiting`, `submit`
refuses at once (the server answers 503) rather than letting waits grow without end.
A request's `cancel` event stops its generation (the engine checks it every token and
between prompt batches); a request cancelled while still waiting leaves the line.

The HTTP side (asgi.py) needs only the JobRunner methods, so the window can run the same
jobs on the thread that already owns its model (app/ui/serve/window_runner.py) instead of
a second thread with a second engine.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from app.core.engine_contract import Engine
from app.core.errors import AppError, GenerationError
from app.core.types import ErrorEvent, GenParams, Message

log = logging.getLogger(__name__)

MAX_WAITING = 8


class QueueFull(Exception):
    """The line is full: try again later."""


class Started:
    """Delivered once the engine accepted the prompt (it fits); text events follow."""


class Ended:
    """Always the last item delivered for a job."""


STARTED, ENDED = Started(), Ended()


@dataclass(frozen=True, slots=True)
class Refused:
    """The engine refused the prompt before any work (too long, unreadable), or the
    server stopped before the job's turn came; nothing else but ENDED follows."""

    error: AppError


@dataclass(eq=False)
class Job:
    """One request. `deliver` is called on the worker thread with STARTED, the engine's
    events (speed reports left out), or Refused, and last ENDED; it must not block."""

    messages: list[Message]
    params: GenParams
    deliver: Callable[[object], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    fresh_prompt: bool = False  # forget the engine's cached prompt first (see ChatRequest)


class ServerStopping(AppError):
    def __init__(self) -> None:
        super().__init__("The server is stopping, so this request was not answered.")


class NoModel(AppError):
    def __init__(self) -> None:
        super().__init__("No model is loaded in Ponder. Load one in Ponder's window, then try again.")


@dataclass(frozen=True, slots=True)
class ServedModel:
    """What the model answers to (the first name is the one listed) and its context size."""

    names: tuple[str, ...]
    context_size: int


def served_names(name: str) -> tuple[str, ...]:
    """What the model answers to: its file name, and the same without '.gguf'."""
    stem = name[:-5] if name.lower().endswith(".gguf") else None
    return (name, stem) if stem else (name,)


class JobRunner(Protocol):
    """Runs jobs on the one thread that owns the model, first come first served, with a
    bounded line. Worker is the headless one; the window has its own."""

    max_waiting: int

    @property
    def stopping(self) -> bool: ...

    def served(self) -> ServedModel | None:
        """The model requests go to now; None when none is loaded."""

    def start(self) -> None: ...

    def submit(self, job: Job) -> int:
        """Put `job` in line (see Worker.submit); raises QueueFull, ServerStopping or NoModel."""

    def withdraw(self, job: Job) -> None: ...

    def busy(self) -> tuple[bool, int]: ...

    def wait_until(self, predicate: Callable[[bool, int], bool], timeout: float | None = None) -> bool: ...

    def stop(self, timeout: float | None = None) -> None: ...


class JobLine:
    """The bounded, first-come-first-served line of jobs both runners keep, and the job
    being run. `_changed` guards all of it (a Condition over an RLock, so a runner may
    hold it around these calls)."""

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._waiting: collections.deque[Job] = collections.deque()
        self._current: Job | None = None
        self._stopping = False
        self._changed = threading.Condition()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _join(self, job: Job) -> int:
        """Put `job` in line; returns how many jobs are ahead of it (the one running
        included). Raises QueueFull when `max_waiting` jobs already wait, ServerStopping
        once the line was closed."""
        with self._changed:
            if self._stopping:
                raise ServerStopping()
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull
            ahead = len(self._waiting) + (self._current is not None)
            self._waiting.append(job)
            self._changed.notify_all()
            return ahead

    def _leave(self, job: Job) -> bool:
        """Take `job` out of the line if it is still waiting; True if it was."""
        with self._changed:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
            self._changed.notify_all()
            return True

    def _close(self) -> None:
        """No more jobs: cut the running one and refuse the waiting ones."""
        with self._changed:
            self._stopping = True
            waiting = list(self._waiting)
            self._waiting.clear()
            if self._current is not None:
                self._current.cancel.set()
            self._changed.notify_all()
        for job in waiting:
            job.cancel.set()
            send_refused(job, ServerStopping())

    def busy(self) -> tuple[bool, int]:
        """(a job is running, how many wait)."""
        with self._changed:
            return self._current is not None, len(self._waiting)

    def wait_until(self, predicate: Callable[[bool, int], bool], timeout: float | None = None) -> bool:
        """Block until predicate(running, waiting) holds (tests and benchmarks use it)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._current is not None, len(self._waiting)), timeout)


class Worker(JobLine):
    """The headless server's runner: its own thread owns `engine`."""

    def __init__(self, engine: Engine, max_waiting: int = MAX_WAITING, names: tuple[str, ...] | None = None) -> None:
        super().__init__(max_waiting)
        self.engine = engine
        self._served = ServedModel(tuple(names) if names else served_names(engine.name), engine.context_size)
        self._thread = threading.Thread(target=self._loop, name="serve-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def served(self) -> ServedModel:
        return self._served

    def submit(self, job: Job) -> int:
        """Put `job` in line (see JobLine._join)."""
        return self._join(job)

    def withdraw(self, job: Job) -> None:
        """Take `job` out of the line if it is still waiting (its client left)."""
        self._leave(job)

    def stop(self, timeout: float | None = None) -> None:
        """Cancel the running job, refuse the waiting ones, and end the thread."""
        self._close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._stopping)
                if not self._waiting:
                    return
                job = self._current = self._waiting.popleft()
                self._changed.notify_all()
            try:
                self._run(job)
            finally:
                with self._changed:
                    self._current = None
                    self._changed.notify_all()

    def _run(self, job: Job) -> None:
        run_job(self.engine, job)


def send_refused(job: Job, error: AppError) -> None:
    job.deliver(Refused(error))
    job.deliver(ENDED)


def run_job(engine: Engine, job: Job) -> None:
    """Run one job on the calling thread, which must be the one that owns `engine`;
    ENDED is always delivered last."""
    if job.cancel.is_set():  # its client left while it waited
        job.deliver(ENDED)
        return
    reset = getattr(engine, "reset", None)  # only engines with a local cache have one
    try:
        if job.fresh_prompt and reset is not None:
            reset()
        events = engine.stream(job.messages, job.params, job.cancel)
    except AppError as exc:
        send_refused(job, exc)
        return
    except Exception as exc:  # an engine bug must not take the worker down with it
        log.exception("the engine failed before generating")
        send_refused(job, GenerationError(f"Generation failed: {exc}"))
        return
    try:
        job.deliver(STARTED)
        for ev in events:
            if ev.kind != "rate":
                job.deliver(ev)
    except Exception as exc:
        log.exception("the engine failed while generating")
        job.cancel.set()
        job.deliver(ErrorEvent(f"Generation failed: {exc}", "GenerationError"))
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # a generator left early still runs its cleanup now, on this thread
        job.deliver(ENDED)
