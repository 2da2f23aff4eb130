"""Settings > Local server: the switch, where it listens, which web pages may call it,
the address and a ready-to-run example for other apps, and a live line saying what it
is doing. Edits a copy of the settings like the rest of the dialog; OK applies them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.serve import DEFAULT_HOST
from app.settings import Settings
from app.ui.plain import plain_label
from app.ui.serve.examples import base_url, curl_example, needs_token, python_example

MAX_ORIGINS = 32
EXPOSED_WARNING = ("Other computers that can reach this one can use the model. Every request must carry the "
                   "token, which is sent unencrypted: use this only on a network you trust.")


def parse_origins(text: str) -> tuple[tuple[str, ...], list[str]]:
    """(web origins, what was left out) from space- or comma-separated text."""
    kept, bad = [], []
    for part in text.replace(",", " ").split():
        origin = part.rstrip("/")
        if origin.startswith(("http://", "https://")) and len(origin) <= 200 and origin.isprintable():
            if origin not in kept and len(kept) < MAX_ORIGINS:
                kept.append(origin)
        else:
            bad.append(part[:60])
    return tuple(kept), bad


def _help(text: str) -> QLabel:
    label = plain_label(text)
    label.setObjectName("helpText")
    label.setWordWrap(True)
    return label


def _column(*widgets) -> QWidget:
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    for w in widgets:
        if isinstance(w, QWidget):
            column.addWidget(w)
        else:
            column.addLayout(w)
    return holder


def _copy_button(text_of) -> QPushButton:
    button = QPushButton("Copy")
    button.setObjectName("secondaryButton")
    button.clicked.connect(lambda: QGuiApplication.clipboard().setText(text_of()))
    return button


class ServerPage(QWidget):
    def __init__(self, settings: Settings, controller=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.enabled = QCheckBox("Let other apps use the loaded model")
        self.enabled.setChecked(settings.serve_enabled)
        self.host = QLineEdit(settings.serve_host)
        self.host.setPlaceholderText(DEFAULT_HOST)
        self.host.setMaxLength(255)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(settings.serve_port)
        address_row = QHBoxLayout()
        address_row.setContentsMargins(0, 0, 0, 0)
        address_row.addWidget(self.host, 1)
        address_row.addWidget(QLabel("port"))
        address_row.addWidget(self.port)
        self.warning = plain_label(EXPOSED_WARNING)
        self.warning.setObjectName("errorText")
        self.warning.setWordWrap(True)
        self.new_token_button = QPushButton("Make a new token")
        self.new_token_button.setObjectName("secondaryButton")
        self.new_token_button.setToolTip("Forget the token other computers use now; a new one is made and shown once")
        self.new_token_button.clicked.connect(self._new_token)
        token_row = QHBoxLayout()
        token_row.setContentsMargins(0, 0, 0, 0)
        self.token_text = _help("A token is made when the server starts, shown once, and kept in the keychain.")
        token_row.addWidget(self.token_text, 1)
        token_row.addWidget(self.new_token_button)
        self.origins = QLineEdit(" ".join(settings.serve_cors_origins))
        self.origins.setPlaceholderText("none (web pages cannot call the server)")
        self.origins_help = _help("Web pages from these addresses may call the server, e.g. http://localhost:3000; "
                                  "separate several with spaces.")
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        url_row = QHBoxLayout()
        url_row.setContentsMargins(0, 0, 0, 0)
        url_row.addWidget(self.url, 1)
        url_row.addWidget(_copy_button(self.url.text))
        self.curl = self._example_box()
        self.python = self._example_box()
        self.examples = QTabWidget()
        self.examples.setDocumentMode(True)
        self.examples.addTab(self.curl, "curl")
        self.examples.addTab(self.python, "Python (openai)")
        copy_example = _copy_button(lambda: self.examples.currentWidget().toPlainText())
        copy_example.setToolTip("Copy the example shown")
        self.examples.setCornerWidget(copy_example, Qt.Corner.TopRightCorner)  # the code keeps the full width
        self.status = plain_label("")
        self.status.setObjectName("serverStatus")
        self.status.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("", _column(self.enabled, _help(
            "Editors, scripts, notebooks and other chat apps that speak OpenAI's chat API can send questions "
            "to the model loaded here. They take turns with your own chats, first come, first served.")))
        form.addRow("Now", self.status)
        form.addRow("Listen on", _column(address_row, _help(
            "127.0.0.1 lets only programs on this computer in. Any other address (0.0.0.0: every network) "
            "lets other computers in too, and then every request needs a token."), self.warning, token_row))
        form.addRow("Web pages", _column(self.origins, self.origins_help))
        form.addRow("Address for apps", url_row)
        form.addRow("Example", self.examples)

        for signal in (self.host.textChanged, self.port.valueChanged, self.enabled.toggled):
            signal.connect(self._refresh)
        self.origins.textChanged.connect(self._check_origins)
        if controller is not None:
            controller.state_changed.connect(self._show_state)
        self._refresh()
        self._show_state(controller.state if controller is not None else None)

    @staticmethod
    def _example_box() -> QPlainTextEdit:
        box = QPlainTextEdit()
        box.setReadOnly(True)
        box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        box.setFixedHeight(box.fontMetrics().lineSpacing() * 13 + 12)  # the longer example, whole
        return box

    def _host(self) -> str:
        return self.host.text().strip() or DEFAULT_HOST

    def _refresh(self, *_) -> None:
        host, port = self._host(), self.port.value()
        exposed = needs_token(host)
        self.warning.setVisible(exposed)
        self.token_text.setVisible(exposed)
        self.new_token_button.setVisible(exposed)
        self.url.setText(base_url(host, port))
        self.curl.setPlainText(curl_example(host, port))
        self.python.setPlainText(python_example(host, port))

    def _check_origins(self, text: str) -> None:
        _, bad = parse_origins(text)
        self.origins_help.setObjectName("errorText" if bad else "helpText")
        self.origins_help.setText(
            f"Not a web address, left out: {', '.join(bad)}. Use the form http://localhost:3000." if bad else
            "Web pages from these addresses may call the server, e.g. http://localhost:3000; separate several "
            "with spaces.")
        self.origins_help.style().unpolish(self.origins_help)
        self.origins_help.style().polish(self.origins_help)

    def _show_state(self, state) -> None:
        text = state.line() if state is not None else "Off: other apps cannot use the model."
        failed = state is not None and bool(state.error)
        self.status.setObjectName("errorText" if failed or (state is not None and state.exposed) else "serverStatus")
        self.status.setText(text)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def _new_token(self) -> None:
        if self._controller is not None:
            self._controller.new_token()
            self.token_text.setText("A new token was made. Requests with the old one are refused.")

    def values(self) -> dict:
        """The serve_* settings as edited here."""
        return {"serve_enabled": self.enabled.isChecked(), "serve_host": self._host(),
                "serve_port": self.port.value(), "serve_cors_origins": parse_origins(self.origins.text())[0]}
