"""The local server's requests, run on the thread that already owns the window's model.

The window has one model on one thread (ModelSession's worker). The server's HTTP side
(app/core/serve/asgi.py) hands each request to a JobRunner; this one posts it to that
thread, where it runs in turn with the window's own replies, loads and token counts,
first come first served (Qt runs a thread's posted calls in order). So a request from
another app waits while the window answers, the window's send waits while a request
from another app is answered, and no second engine is ever loaded.

No Qt here beyond the `post` callable (ModelSession.run_on_model_thread): the line of
requests is the same bounded one as the headless server's Worker.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from app.core.engine_contract import Engine
from app.core.serve.worker import (
    MAX_WAITING,
    Job,
    JobLine,
    NoModel,
    ServedModel,
    ServerStopping,
    run_job,
    send_refused,
)

Task = Callable[[Engine | None], None]


def _ignore(running: int, waiting: int) -> None:
    pass


class WindowRunner(JobLine):
    """A JobRunner whose jobs run where `post` runs them (the model's thread), with the
    engine there at that time. `describe` says which model is loaded now (None: none);
    `on_activity(running, waiting)` is called, from any thread, whenever either changes."""

    def __init__(self, post: Callable[[Task], None], describe: Callable[[], ServedModel | None],
                 on_activity: Callable[[int, int], None] = _ignore,
                 max_waiting: int = MAX_WAITING) -> None:
        super().__init__(max_waiting)
        self._post = post
        self._describe = describe
        self._on_activity = on_activity

    def served(self) -> ServedModel | None:
        return self._describe()

    def start(self) -> None:
        """Nothing to start: the model's thread is the window's."""

    def submit(self, job: Job) -> int:
        with self._changed:
            if self._stopping:
                raise ServerStopping()
            if self._describe() is None:
                raise NoModel()
            ahead = self._join(job)
            # Posted under the lock, so the model's thread takes jobs in the order they joined the line.
            self._post(partial(self._run, job))
        self._report()
        return ahead

    def withdraw(self, job: Job) -> None:
        if self._leave(job):
            self._report()

    def stop(self, timeout: float | None = None) -> None:
        """Cut the reply being generated and refuse the waiting ones. Nothing to wait for:
        the model's thread goes on with the window's own work."""
        self._close()
        self._report()

    def detach(self) -> None:
        """Stop reporting activity (the window is done with this server)."""
        self._on_activity = _ignore

    def _run(self, job: Job, engine: Engine | None) -> None:
        """On the model's thread, when the job's turn comes."""
        with self._changed:
            if job not in self._waiting:
                return  # its client left, or the server stopped, while it waited
            self._waiting.remove(job)
            self._current = job
            self._changed.notify_all()
        self._report()
        try:
            if engine is None:  # the model was closed while the job waited
                send_refused(job, NoModel())
            else:
                run_job(engine, job)
        finally:
            with self._changed:
                self._current = None
                self._changed.notify_all()
            self._report()

    def _report(self) -> None:
        running, waiting = self.busy()
        self._on_activity(int(running), waiting)
