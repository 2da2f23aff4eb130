"""Attachment chips: one per file, pending above the composer or sent on a message.

A chip shows the file name, its pages or lines, its size in the model's tokens and
its state (reading, ready, failed: why). Clicking it shows the extracted text.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget,
)

from app.core.documents import Document
from app.ui.documents.flow_layout import FlowLayout
from app.ui.plain import html_text, plain_label, tip

MAX_REASON_CHARS = 70  # the whole reason is in the tooltip and the dialog


@dataclass
class Attachment:
    """A file as the chip shows it. `job_id` is 0 once it no longer comes from the reader."""

    name: str
    path: str = ""
    state: str = "reading"  # reading | ready | failed
    doc: Document | None = None
    tokens: int | None = None
    done: int = 0
    total: int = 0
    unit: str = "page"
    mode: str = ""  # how a sent message used it: whole | passages | left out | failed
    job_id: int = 0

    @classmethod
    def from_document(cls, doc: Document, mode: str = "", tokens: int | None = None) -> Attachment:
        return cls(doc.name, doc.path, "ready" if doc.ok else "failed", doc, tokens or None, mode=mode)

    @property
    def error(self) -> str:
        return (self.doc.error if self.doc is not None else None) or ""

    def summary(self) -> str:
        if self.state == "reading":
            if self.total > 1:
                what = "p." if self.unit == "page" else "part"
                return f"reading {what} {self.done:,} of {self.total:,}"
            return "reading…"
        if self.state == "failed":
            reason = self.error
            short = reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS - 1] + "…"
            return f"failed: {short}"
        parts = [self.doc.describe()]
        parts.append(f"{self.tokens:,} tokens" if self.tokens is not None else "counting tokens…")
        if self.mode == "passages":
            parts.append("passages used")
        elif self.mode == "left out":
            parts.append("left out")
        return " · ".join(parts)


class AttachmentChip(QFrame):
    opened = Signal(object)  # Attachment
    removed = Signal(object)  # Attachment (its × was clicked: cancel reading, or drop it)

    def __init__(self, attachment: Attachment, removable: bool) -> None:
        super().__init__()
        self.setObjectName("attachmentChip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.attachment = attachment
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 2, 2)
        self.name_label = QLabel()
        self.name_label.setObjectName("chipName")
        self.detail_label = plain_label()  # may quote why reading failed
        self.detail_label.setObjectName("chipDetail")
        row.addWidget(self.name_label)
        row.addWidget(self.detail_label)
        self.remove_button: QToolButton | None = None
        if removable:
            self.remove_button = QToolButton()
            self.remove_button.setText("×")
            self.remove_button.setAutoRaise(True)
            self.remove_button.clicked.connect(lambda: self.removed.emit(self.attachment))
            row.addWidget(self.remove_button)
        self.refresh()

    def refresh(self) -> None:
        a = self.attachment
        self.setProperty("state", a.state)
        self.name_label.setText(f"<b>{html_text(a.name)}</b>")
        self.detail_label.setText(a.summary())
        colour = {"failed": "#b3261e", "reading": "#6b6b6b"}.get(a.state)
        self.detail_label.setStyleSheet(f"color: {colour};" if colour else "")
        reason = a.error if a.state == "failed" else "Click to see the text that was read"
        self.setToolTip(tip(f"{a.name}\n{reason}"))
        if self.remove_button is not None:
            self.remove_button.setToolTip("Stop reading and remove" if a.state == "reading" else "Remove")

    @property
    def text(self) -> str:
        return f"{self.attachment.name} {self.detail_label.text()}"

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton and self.attachment.state != "reading":
            self.opened.emit(self.attachment)
        super().mouseReleaseEvent(event)


class ChipRow(QWidget):
    """Chips in a row; the pending row above the composer, or a sent message's."""

    opened = Signal(object)
    removed = Signal(object)

    def __init__(self, removable: bool = False) -> None:
        super().__init__()
        self.setObjectName("chipRow")
        self.removable = removable
        self._row = FlowLayout(self)  # many files wrap onto more lines
        self.chips: list[AttachmentChip] = []

    def add(self, attachment: Attachment) -> AttachmentChip:
        chip = AttachmentChip(attachment, self.removable)
        chip.opened.connect(self.opened)
        chip.removed.connect(self.removed)
        self._row.addWidget(chip)
        self.chips.append(chip)
        return chip

    def chip_for(self, attachment: Attachment) -> AttachmentChip | None:
        return next((c for c in self.chips if c.attachment is attachment), None)

    def remove(self, attachment: Attachment) -> None:
        chip = self.chip_for(attachment)
        if chip is not None:
            self.chips.remove(chip)
            chip.setParent(None)
            chip.deleteLater()

    def clear(self) -> None:
        for chip in list(self.chips):
            self.remove(chip.attachment)


class DocumentTextDialog(QDialog):
    """The text that was read from a file (or why it could not be), read-only."""

    def __init__(self, attachment: Attachment, parent: QWidget | None = None, highlight: tuple[int, int] | None = None):
        super().__init__(parent)
        self.setWindowTitle(attachment.name)
        self.resize(760, 600)
        layout = QVBoxLayout(self)
        doc = attachment.doc
        info = plain_label(attachment.summary() if attachment.state == "ready" else attachment.error)
        info.setWordWrap(True)
        layout.addWidget(info)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText(doc.text if doc is not None and doc.ok else attachment.error)
        layout.addWidget(self.text, 1)
        if highlight is not None:  # a source passage: select it and scroll there
            cursor = self.text.textCursor()
            cursor.setPosition(highlight[0])
            cursor.setPosition(min(highlight[1], len(self.text.toPlainText())), QTextCursor.MoveMode.KeepAnchor)
            self.text.setTextCursor(cursor)
            self.text.centerCursor()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class AttachmentTray(QWidget):
    """Above the composer: the attach button and the chips of files not yet sent."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("attachmentTray")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.attach_button = QToolButton()
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setText("Attach files…")
        self.attach_button.setToolTip("Attach documents (PDF, Word, text, Markdown, HTML, CSV, JSON, code); "
                                      "or drop files on the conversation")
        self.attach_button.setAutoRaise(True)
        row.addWidget(self.attach_button)
        self.row = ChipRow(removable=True)
        row.addWidget(self.row, 1)
