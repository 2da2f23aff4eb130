"""Every question the app asks a person, behind small functions tests can patch."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget


class Dialogs:
    @staticmethod
    def open_model(parent: QWidget, start_dir: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(parent, "Open a GGUF model", start_dir, "GGUF models (*.gguf);;All files (*)")
        return path or None

    @staticmethod
    def save_markdown(parent: QWidget, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(parent, "Export thread", suggested, "Markdown (*.md)")
        return path or None

    @staticmethod
    def text(parent: QWidget, title: str, label: str, value: str) -> str | None:
        text, ok = QInputDialog.getText(parent, title, label, text=value)
        return text if ok else None

    @staticmethod
    def multiline(parent: QWidget, title: str, label: str, value: str) -> str | None:
        text, ok = QInputDialog.getMultiLineText(parent, title, label, value)
        return text if ok else None

    @staticmethod
    def confirm(parent: QWidget, title: str, question: str, action: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, title, question, parent=parent)
        yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is yes

    @staticmethod
    def error(parent: QWidget, message: str) -> None:
        QMessageBox.warning(parent, "Ponder", message)
