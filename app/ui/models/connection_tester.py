"""Testing a connection away from the GUI thread: opening a server is a few round trips,
each bounded by the engine's timeouts, and a window must never wait on the network."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.errors import AppError
from app.core.remote.connections import check_server
from app.ui.thread_exit import end_thread

log = logging.getLogger(__name__)


class _Worker(QObject):
    tested = Signal(int, object)  # ticket, report (see check_server)
    failed = Signal(int, str)  # ticket, why

    @Slot(int, object)
    def test(self, ticket: int, opener: Callable) -> None:
        try:
            with opener() as engine:
                report = check_server(engine)
        except AppError as exc:
            self.failed.emit(ticket, exc.user_message)
        except Exception as exc:  # never let a test kill the thread
            log.exception("connection test failed")
            self.failed.emit(ticket, f"The test failed: {exc}")
        else:
            self.tested.emit(ticket, report)


class ConnectionTester(QObject):
    """One test at a time is shown: a newer one makes an older one's answer stale."""

    tested = Signal(object)  # the report of the latest test
    failed = Signal(str)  # why the latest test failed
    _requested = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket = 0
        self.busy = False
        self._thread = QThread()
        self._thread.setObjectName("connection-test")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._requested.connect(self._worker.test)
        self._worker.tested.connect(self._tested)
        self._worker.failed.connect(self._failed)
        self._thread.start()

    def test(self, opener: Callable) -> None:
        self._ticket += 1
        self.busy = True
        self._requested.emit(self._ticket, opener)

    def _tested(self, ticket: int, report: dict) -> None:
        if ticket == self._ticket:
            self.busy = False
            self.tested.emit(report)

    def _failed(self, ticket: int, message: str) -> None:
        if ticket == self._ticket:
            self.busy = False
            self.failed.emit(message)

    def shutdown(self) -> bool:
        """End the thread, waiting a bounded time (a test under way is not waited for)."""
        self._ticket += 1
        return end_thread(self._thread)
