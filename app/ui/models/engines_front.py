"""What answers in the window: this computer's model or a saved connection to a model server.

The engine button in the model bar picks one (and opens Connections…); each thread
remembers its choice, so switching threads switches what answers. While a server
answers, a badge in the model bar says where prompts go, and the first send to a server
on another computer asks once per connection. A thread whose connection was removed
falls back to this computer, and says so.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from app.core.errors import AppError
from app.core.remote.connections import Connection, Connections
from app.ui.dialogs import Dialogs
from app.ui.models.generation_worker import RemoteFacts
from app.ui.plain import tip

THIS_COMPUTER = "This computer"
NOTICE_KEY = "remote"
BADGE_HOST_CHARS = 40


class EnginesFront(QObject):
    def __init__(self, window, session, connections: Connections) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.models = session.models
        self.connections = connections
        bar = window.model_bar
        self.button, self.badge = bar.engine_button, bar.badge
        self.menu = QMenu(self.button)
        self.menu.setObjectName("engineMenu")
        self.menu.aboutToShow.connect(self._fill_menu)
        self.button.setMenu(self.menu)
        self._thread: int | None = None  # the thread whose choice is applied
        self._pending_sync = False  # a thread was opened while a reply streamed: apply once it ends
        self.models.engine_changed.connect(self._engine_changed)
        self.models.remote_failed.connect(self._failed)
        session.conversation_changed.connect(self._conversation_changed)
        session.busy_changed.connect(self._busy_changed)
        self._fill_menu()
        if connections.problem:
            session.notice.emit(connections.problem)

    # -- choosing ----------------------------------------------------------------------

    def _fill_menu(self) -> None:
        self.menu.clear()
        group = QActionGroup(self.menu)
        current = self.current()
        for name in [None, *self.connections.names()]:
            action = QAction(THIS_COMPUTER if name is None else name, self.menu)
            action.setCheckable(True)
            action.setChecked(name == current)
            if name is not None:
                conn = self.connections.get(name)
                action.setToolTip(tip(f"{conn.url} ({conn.kind_label})"))
            action.triggered.connect(lambda _=False, n=name: self.choose(n))
            group.addAction(action)
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction("Connections…", self.open_dialog)

    def current(self) -> str | None:
        """The connection that answers (or is being opened); None: this computer."""
        m = self.models
        return m.connecting or (m.remote.connection if m.remote is not None else None)

    def choose(self, name: str | None) -> bool:
        """Let `name` (None: this computer) answer, and remember it for the thread on screen."""
        if self.session.busy:
            self.session.notice.emit("A reply is being written: stop it (Esc) or wait, then choose again.")
            return False
        if name is not None and self.connections.get(name) is None:
            self.session.notice.emit(f"There is no connection named {name}.")
            return False
        if self.session.thread_id is not None:
            self.session.set_thread_engine(self.session.thread_id, name or "")
        self._apply(name)
        return True

    def _apply(self, name: str | None) -> None:
        conn = self.connections.get(name) if name is not None else None
        if conn is None:
            self.models.use_local()
            return
        if self.current() == name:
            return
        self.window.banner.clear(NOTICE_KEY)
        self.button.setText(name)
        self.models.use_remote(name, self.connections.opener(conn))

    # -- threads remember their engine --------------------------------------------------

    def _conversation_changed(self, *_args) -> None:
        if self.session.thread_id != self._thread:
            self._sync()

    def _busy_changed(self, busy: bool) -> None:
        thread_id = self.session.thread_id
        if busy and thread_id is not None and self.session.thread_engine(thread_id) is None:
            self.session.set_thread_engine(thread_id, self.current() or "")  # a new thread keeps what answered
        if not busy and self._pending_sync:
            self._sync()

    def _sync(self) -> None:
        """Apply the choice of the thread on screen (after a reply, if one is streaming)."""
        if self.session.busy:
            self._pending_sync = True
            return
        self._pending_sync = False
        thread_id = self._thread = self.session.thread_id
        chosen = self.session.thread_engine(thread_id) if thread_id is not None else None
        if chosen is None:
            return  # the thread has not chosen: what answers now goes on answering
        if chosen and self.connections.get(chosen) is None:
            self.session.set_thread_engine(thread_id, "")
            self.window.banner.show_notice(
                f"This thread used the connection {chosen}, which is no longer saved, so {THIS_COMPUTER.lower()} "
                f"answers here now. Add it again under Connections… to use it.",
                [("Connections…", self.open_dialog)], kind="info", key=NOTICE_KEY)
            chosen = ""
        self._apply(chosen or None)

    # -- what the window shows ---------------------------------------------------------

    def _engine_changed(self, facts: RemoteFacts | None) -> None:
        conn = self.connections.get(facts.connection) if facts is not None else None
        self.button.setText(facts.connection if facts is not None else THIS_COMPUTER)
        offload = self.window.offload
        if facts is None:
            self.badge.hide()
            offload.set_plan(self.models.load_plan)  # the local model's layers, as they were
        else:
            self.window.banner.clear(NOTICE_KEY)
            offload.hide()  # a server places its own layers
            self._show_badge(facts, conn)
        self.window.update_answer_now()

    def _show_badge(self, facts: RemoteFacts, conn: Connection | None) -> None:
        host = conn.host if conn is not None else facts.where
        if len(host) > BADGE_HOST_CHARS:
            host = host[: BADGE_HOST_CHARS - 1] + "…"
        local = conn is not None and conn.loopback
        self.badge.setText(f"{'Local server' if local else 'Remote'}: {host}, {facts.server}")
        self.badge.setToolTip(tip(
            f"{facts.model} on {facts.where} ({facts.server}). " +
            ("It runs on this computer: prompts do not leave it." if local else
             "Your questions, the thread's earlier messages and attached documents are sent there.")))
        self.badge.setProperty("local", local)
        self.badge.style().unpolish(self.badge)
        self.badge.style().polish(self.badge)
        self.badge.show()

    def answer_now_problem(self) -> str | None:
        """Why Answer now cannot work with what answers now; None when it can."""
        remote = self.models.remote if self.models.on_server else None
        if remote is None or remote.supports_answer_now:
            return None
        return (f"{remote.server} at {remote.where} cannot end the thinking early; only llama.cpp's server can "
                f"(a build with the control endpoint). Stop (Esc) ends the reply instead.")

    def _failed(self, name: str, message: str) -> None:
        self.button.setText(THIS_COMPUTER)
        self.window.banner.show_notice(
            f"{name} cannot be used: {message}\n\n{THIS_COMPUTER} answers for now.",
            [("Try again", lambda: self._apply(name)), ("Connections…", lambda: self.open_dialog(name))],
            kind="error", key=NOTICE_KEY)

    # -- sending -----------------------------------------------------------------------

    def may_send(self) -> bool:
        """Ask once per connection before prompts first go to a server on another computer."""
        remote = self.models.remote if self.models.on_server else None
        conn = self.connections.get(remote.connection) if remote is not None else None
        if conn is None or conn.loopback or conn.sending_allowed:
            return True
        question = (f"Your question, this thread's earlier messages and any attached documents will be sent to "
                    f"{conn.name} ({conn.host}, {remote.server}), another computer. Ponder asks this once for each "
                    f"connection.")
        if not Dialogs.confirm(self.window, f"Send to {conn.name}?", question, "Send"):
            return False
        try:
            self.connections.allow_sending(conn.name)
        except AppError as exc:  # this send goes; the question comes back next time
            self.session.notice.emit(exc.user_message)
        return True

    # -- Connections… ------------------------------------------------------------------

    def open_dialog(self, select: str | None = None):
        from app.ui.models.connections_dialog import ConnectionsDialog

        dialog = ConnectionsDialog(self.connections, self.window, select if isinstance(select, str) else None)
        dialog.changed.connect(self._edited)
        Dialogs.run(dialog)
        return dialog

    def _edited(self, old: str, new: str) -> None:
        """A connection was saved or removed in the dialog: the one answering follows it."""
        if old and new and old != new:
            self.session.rename_engine(old, new)  # every thread follows a rename, not only this one
        if not old or old != self.current():
            return
        if not new:
            self.models.use_local()
            self.session.notice.emit(f"{old} was removed; {THIS_COMPUTER.lower()} answers now.")
            return
        self.models.use_local()  # opened again with what was saved
        self._apply(new)
