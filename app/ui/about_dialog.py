"""Help > About: the app's icon, versions, and the licences of the model and the libraries."""

from __future__ import annotations

from html import escape

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout

from app import APP_NAME, __version__, about


def about_html() -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>"
                   for k, v in about.versions(f"{qVersion()} / {PySide6.__version__}").items())
    model, model_licence = about.MODEL
    libs = "".join(f"<tr><td>{escape(lib.name)} {escape(lib.version)}</td><td>{escape(lib.licence)}</td></tr>"
                   for lib in about.libraries())
    return (
        f"<h3>Versions</h3><table cellspacing=4>{rows}</table>"
        f"<h3>Model</h3><table cellspacing=4><tr><td>{escape(model)}</td><td>{model_licence}</td></tr></table>"
        f"<h3>Libraries</h3><table cellspacing=4>{libs}</table>"
        f"<p>{APP_NAME} itself is MIT-licensed. Qt is used under the LGPLv3: its libraries are "
        "shipped as separate files that can be replaced.</p>"
    )


class AboutDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(620, 560)
        icon = QLabel()
        icon.setPixmap(QGuiApplication.windowIcon().pixmap(64, 64))
        title = QLabel(f"<h2>{APP_NAME} {__version__}</h2>Think through hard questions with a local reasoning model.")
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addWidget(title, 1)
        self.details = QTextBrowser()
        self.details.setHtml(about_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
