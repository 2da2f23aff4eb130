"""Every question the app asks a person, behind small functions tests can patch.

Every message box shows its text as plain text (app/ui/plain.py): messages quote file
names, model metadata and error text, which Qt would otherwise read as HTML.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from app.ui.plain import message_box


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
    def run(dialog) -> bool:
        """Show a dialog modally; True when accepted."""
        return bool(dialog.exec())

    @staticmethod
    def confirm(parent: QWidget, title: str, question: str, action: str) -> bool:
        box = message_box(QMessageBox.Icon.Question, title, question, parent)
        yes = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is yes

    @staticmethod
    def open_link(parent: QWidget, url: str) -> bool:
        """Ask before a link from an answer opens in the web browser. The address is
        shown whole, as plain text: a link's words need not say where it goes."""
        from PySide6.QtCore import Qt, QUrl
        from PySide6.QtGui import QTextOption
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout

        dialog = QDialog(parent)
        dialog.setWindowTitle("Open link")
        layout = QVBoxLayout(dialog)
        host = QUrl(url).host(QUrl.ComponentFormattingOption.FullyEncoded)  # punycode: no look-alike letters
        question = QLabel(f"Open this link in your web browser? It goes to {host}:")
        question.setTextFormat(Qt.TextFormat.PlainText)
        question.setWordWrap(True)
        layout.addWidget(question)
        address = QPlainTextEdit(url)
        address.setReadOnly(True)
        address.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        address.setFixedHeight(address.fontMetrics().lineSpacing() * 4 + 12)
        layout.addWidget(address)
        buttons = QDialogButtonBox()
        buttons.addButton("Open", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        return bool(dialog.exec())

    @staticmethod
    def stop_download(parent: QWidget, kept: str) -> str | None:
        """"delete" or "keep" the part downloaded so far (`kept`, e.g. "1.20 GB"); None: go on downloading."""
        box = message_box(QMessageBox.Icon.Question, "Cancel download",
                          f"Cancel the download and delete the {kept} downloaded so far?\n\n"
                          f"Keep it, and the download can resume from there later.", parent)
        delete = box.addButton("Delete it", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep it", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Go on downloading", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return {delete: "delete", keep: "keep"}.get(box.clickedButton())

    @staticmethod
    def open_documents(parent: QWidget, start_dir: str = "") -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(parent, "Attach documents", start_dir, "All files (*)")
        return list(paths)

    @staticmethod
    def documents_dont_fit(parent: QWidget, plan, larger: tuple[int, str] | None) -> str:
        """The attached documents do not all fit: "passages", "context" (reload with
        `larger` = (tokens, what it costs)) or "cancel" (back to the chips)."""
        from app.ui.documents.budget_text import budget_question

        box = message_box(QMessageBox.Icon.Question, "Documents do not fit", budget_question(plan), parent)
        choices = {}
        if plan.decision == "passages":
            choices[box.addButton("Use the most relevant passages", QMessageBox.ButtonRole.AcceptRole)] = "passages"
        if larger is not None:
            label = f"Use a {larger[0]:,}-token context ({larger[1]})"
            choices[box.addButton(label, QMessageBox.ButtonRole.ActionRole)] = "context"
        box.addButton("Remove files or cancel", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return choices.get(box.clickedButton(), "cancel")

    @staticmethod
    def error(parent: QWidget | None, message: str) -> None:
        message_box(QMessageBox.Icon.Warning, "Ponder", message, parent).exec()

    @staticmethod
    def inform(parent: QWidget | None, message: str) -> None:
        """A notice that needs no answer."""
        message_box(QMessageBox.Icon.Information, "Ponder", message, parent).exec()

    @staticmethod
    def history_damaged(parent: QWidget | None, problem: str, backup: str) -> str:
        """The history file is damaged: "recover" what can be read, or start "empty".
        Closing the box recovers: it loses nothing that starting empty would keep."""
        box = message_box(
            QMessageBox.Icon.Warning, "History file damaged",
            f"Ponder's history file is damaged (SQLite reports: {problem}), so it cannot be used as it is.\n\n"
            f"It is kept unchanged as {backup}, and nothing more is written to it.\n\n"
            f"Ponder can copy the conversations it can still read into a new history file, "
            f"or start with an empty history.",
            parent,
        )
        recover = box.addButton("Recover what can be read", QMessageBox.ButtonRole.AcceptRole)
        empty = box.addButton("Start with an empty history", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(recover)
        box.setEscapeButton(recover)
        box.exec()
        return "empty" if box.clickedButton() is empty else "recover"
