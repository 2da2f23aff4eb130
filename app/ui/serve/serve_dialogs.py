"""The local server's questions and its one-time token, behind functions tests can patch."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.plain import message_box, plain_label


class ServeDialogs:
    @staticmethod
    def show_token(parent: QWidget | None, token: str, kept: str) -> None:
        """The new token, once, with a Copy button; `kept` says where it is kept."""
        dialog = QDialog(parent)
        dialog.setWindowTitle("The local server's token")
        layout = QVBoxLayout(dialog)
        intro = plain_label(
            "Other computers can now reach the model. Every request must carry this token, as the header "
            "'Authorization: Bearer <token>' (the openai client's api_key). Copy it now: it is not shown again.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        field = QLineEdit(token)
        field.setReadOnly(True)
        field.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        field.setMinimumWidth(field.fontMetrics().horizontalAdvance(token) + 40)  # whole, with the frame's margins
        field.setCursorPosition(0)
        copy = QPushButton("Copy")
        copy.setObjectName("secondaryButton")
        copy.clicked.connect(lambda: (QGuiApplication.clipboard().setText(token), copy.setText("Copied")))
        row.addWidget(field, 1)
        row.addWidget(copy)
        layout.addLayout(row)
        where = plain_label(kept)
        where.setObjectName("helpText")
        where.setWordWrap(True)
        layout.addWidget(where)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.accept)
        buttons.accepted.connect(dialog.accept)
        layout.addWidget(buttons)
        dialog.exec()

    @staticmethod
    def keep_in_file(parent: QWidget | None, problem: str, path: str) -> bool:
        """No keychain: may the token go to a file only this user can read?"""
        box = message_box(QMessageBox.Icon.Question, "Keep the token in a file?",
                          f"{problem}\n\nKeep the server's token in {path}, which only you can read? "
                          f"If not, the token lasts until Ponder quits and a new one is made next time.", parent)
        keep = box.addButton("Keep it in the file", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Only until Ponder quits", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return box.clickedButton() is keep
