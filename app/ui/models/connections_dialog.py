"""Connections…: the model servers Ponder can use instead of this computer.

A list of saved connections beside the one being edited: its name, address, model and
API key. Test connection opens the server away from the GUI thread and shows what it
is (the kind is detected, not chosen), the latency, its models and the context size.
A key typed here goes to the system keychain; where there is none, the person is asked
before it goes to a file only they can read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.remote.connections import Connection, Connections
from app.core.remote.detect import KINDS
from app.core.secrets import NoKeychain
from app.ui.dialogs import Dialogs
from app.ui.models.connection_tester import ConnectionTester
from app.ui.plain import plain_label

MODELS_LISTED = 8
NEW = "New connection"


def report_text(r: dict) -> str:
    """A test's report in a few lines (the server's words are plain text, cut short)."""
    version = f" {r['version']}" if r.get("version") else ""
    context = f"{r['context_size']:,} tokens" + ("" if r["context_known"] else " (assumed: the server does not say)")
    counts = "estimates (about four characters a token)" if r["counts_estimated"] else "the server's tokenizer"
    models = r.get("models") or []
    listed = ", ".join(models[:MODELS_LISTED]) or "none"
    if len(models) > MODELS_LISTED:
        listed += f" and {len(models) - MODELS_LISTED:,} more"
    return "\n".join([
        f"{r['server']}{version}, answered in {r['latency_ms']:g} ms",
        f"Model: {r['model']} (context {context})",
        f"Models offered: {listed}",
        f"Token counts: {counts}",
        "Answer now: " + ("yes" if r["supports_answer_now"] else "no (this server cannot end the thinking early)"),
    ])


class ConnectionsDialog(QDialog):
    changed = Signal(str, str)  # old name ("" when added), new name ("" when removed)

    def __init__(self, connections: Connections, parent: QWidget | None = None, select: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connections")
        self.connections = connections
        self._editing: str | None = None  # the saved name being edited; None: a new one
        self._detected: str | None = None  # the kind the last test found
        self.tester = ConnectionTester(self)
        self.tester.tested.connect(self._tested)
        self.tester.failed.connect(self._test_failed)

        self.list = QListWidget()
        self.list.setObjectName("connectionList")
        self.list.currentTextChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        for b in (self.add_button, self.remove_button):
            b.setObjectName("secondaryButton")
            b.setAutoDefault(False)
        self.add_button.clicked.connect(self.new_connection)
        self.remove_button.clicked.connect(self.remove_current)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        left.addLayout(row)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("gpu-box")
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("http://gpu-box:8080 or https://openrouter.ai/api/v1")
        self.model_box = QComboBox()
        self.model_box.setEditable(True)
        self.model_box.lineEdit().setPlaceholderText("the first the server offers")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("none (most servers at home need none)")
        self.key_status = plain_label()
        self.key_status.setObjectName("helpText")
        self.key_status.setWordWrap(True)
        self.forget_key_button = QPushButton("Forget key")
        self.forget_key_button.setObjectName("secondaryButton")
        self.forget_key_button.setAutoDefault(False)
        self.forget_key_button.clicked.connect(self._forget_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.forget_key_button)
        self.env_edit = QLineEdit()
        self.env_edit.setPlaceholderText("optional, e.g. OPENROUTER_API_KEY")
        self.kind_label = plain_label("Not tested yet")
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Address", self.url_edit)
        form.addRow("Model", self.model_box)
        form.addRow("API key", key_row)
        form.addRow("", self.key_status)
        self.env_edit.setToolTip("Where a key should not be kept on this computer: the name of an environment "
                                 "variable that holds it when Ponder starts")
        form.addRow("Or key in variable", self.env_edit)
        form.addRow("Server", self.kind_label)
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("secondaryButton")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primaryButton")
        for b in (self.test_button, self.save_button):
            b.setAutoDefault(False)
        self.test_button.clicked.connect(self.test)
        self.save_button.clicked.connect(self.save)
        self.result = plain_label()  # a server's words
        self.result.setObjectName("connectionResult")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        actions.addWidget(self.test_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(actions)
        right.addWidget(self.result)
        right.addStretch(1)

        close = QPushButton("Close")
        close.setObjectName("secondaryButton")
        close.setAutoDefault(False)
        close.clicked.connect(self.accept)
        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(right, 5)
        layout = QVBoxLayout(self)
        if connections.problem:
            problem = plain_label(connections.problem)
            problem.setObjectName("errorText")
            problem.setWordWrap(True)
            layout.addWidget(problem)
        note = plain_label("Prompts, thinking and attached documents go to the server you choose here. Keys are "
                           "kept in the system keychain, never in Ponder's settings.")
        note.setObjectName("helpText")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addLayout(body, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        self.resize(760, 460)
        self._fill(select)

    # -- the list ------------------------------------------------------------------------

    def _fill(self, select: str | None = None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(self.connections.names())
        self.list.blockSignals(False)
        names = self.connections.names()
        if select in names:
            self.list.setCurrentRow(names.index(select))
        elif names and select is None:
            self.list.setCurrentRow(0)
        else:
            self.new_connection()
        self.remove_button.setEnabled(bool(names))

    def _selected(self, name: str) -> None:
        conn = self.connections.get(name)
        if conn is not None:
            self._show(conn)

    def _show(self, conn: Connection | None) -> None:
        self._editing = conn.name if conn else None
        self._detected = conn.kind if conn else None
        self.name_edit.setText(conn.name if conn else "")
        self.url_edit.setText(conn.url if conn else "")
        self.model_box.clear()
        self.model_box.setEditText((conn.model if conn else None) or "")
        self.key_edit.clear()
        self.env_edit.setText((conn.api_key_env if conn else None) or "")
        self.kind_label.setText(KINDS.get(conn.kind, "Not tested yet") if conn and conn.kind else "Not tested yet")
        self.result.setText("")
        self._show_key_place()

    def _show_key_place(self) -> None:
        place = self.connections.key_place(self._editing) if self._editing else None
        self.forget_key_button.setVisible(place is not None)
        if place == "keychain":
            text = "A key is kept in the system keychain. Type a new one to replace it."
        elif place == "file":
            text = f"A key is kept in {self.connections.secrets.file_path}, readable only by you."
        else:
            problem = self.connections.secrets.keychain_problem()
            text = ("A key typed here goes to the system keychain." if problem is None else
                    "No keychain is available here: Ponder asks before keeping a key in a file only you can read.")
        self.key_status.setText(text)

    def new_connection(self) -> None:
        self.list.blockSignals(True)
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.list.blockSignals(False)
        self._show(None)
        self.name_edit.setFocus()

    def remove_current(self) -> None:
        name = self._editing
        if name is None:
            return
        if not Dialogs.confirm(self, "Remove connection", f"Remove {name} and forget its key?", "Remove"):
            return
        try:
            self.connections.remove(name)
        except AppError as exc:
            self.result.setText(exc.user_message)
            return
        self.changed.emit(name, "")
        self._fill()

    # -- testing -------------------------------------------------------------------------

    def _draft(self) -> Connection:
        """The connection as typed (checked as saving would check it)."""
        from app.core.remote.connections import check_name
        from app.core.remote.detect import normalize

        name = self.name_edit.text().strip() or "new"
        return Connection(check_name(name), normalize(self.url_edit.text()), self._detected,
                          self.model_box.currentText().strip() or None, self.env_edit.text().strip() or None)

    def test(self) -> None:
        try:
            conn = self._draft()
        except AppError as exc:
            self.result.setText(exc.user_message)
            return
        saved = self._editing is not None and self._editing == conn.name
        opener = self.connections.opener(conn, api_key=self.key_edit.text().strip() or None, saved=saved)
        self.result.setText(f"Testing {conn.url}…")
        self.test_button.setEnabled(False)
        self.tester.test(opener)

    def _tested(self, report: dict) -> None:
        self.test_button.setEnabled(True)
        self._detected = report["kind"]
        self.kind_label.setText(KINDS.get(report["kind"], report["kind"]))
        typed = self.model_box.currentText()
        self.model_box.clear()
        self.model_box.addItems(report["models"][:500])
        self.model_box.setEditText(typed)
        self.result.setText(report_text(report))

    def _test_failed(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.result.setText(message)

    # -- saving --------------------------------------------------------------------------

    def save(self) -> bool:
        """Keep what is typed (and the key, in the keychain). False when it could not be."""
        old = self.connections.get(self._editing) if self._editing else None
        conn = Connection(self.name_edit.text(), self.url_edit.text(), self._detected,
                          self.model_box.currentText(), self.env_edit.text(),
                          sending_allowed=old.sending_allowed if old else False)
        try:
            conn = self.connections.put(conn, replacing=self._editing)
        except AppError as exc:
            self.result.setText(exc.user_message)
            return False
        previous, self._editing = self._editing, conn.name
        message = f"Saved {conn.name}."
        key = self.key_edit.text().strip()
        if key:
            message = self._keep_key(conn.name, key)
        self.key_edit.clear()
        self.changed.emit(previous or "", conn.name)
        self._fill(conn.name)
        self.result.setText(message)
        return True

    def _keep_key(self, name: str, key: str) -> str:
        try:
            self.connections.set_key(name, key)
            return f"Saved {name}; its key is in the system keychain."
        except NoKeychain as exc:
            path = self.connections.secrets.file_path
            if not Dialogs.confirm(self, "No keychain",
                                   f"{exc.user_message}\n\nKeep the key in {path}, a file only you can read? "
                                   f"Otherwise put it in an environment variable and name it under Key from "
                                   f"variable.", "Keep in file"):
                return f"Saved {name} without its key (it was not kept anywhere)."
            try:
                self.connections.set_key(name, key, allow_file=True)
            except AppError as err:
                return f"Saved {name}, but not its key: {err.user_message}"
            return f"Saved {name}; its key is in {path}, readable only by you."
        except AppError as exc:
            return f"Saved {name}, but not its key: {exc.user_message}"

    def _forget_key(self) -> None:
        if self._editing:
            self.connections.forget_key(self._editing)
            self._show_key_place()

    def done(self, result: int) -> None:
        self.tester.shutdown()
        super().done(result)
