"""Strings from outside (a model file's metadata, a file name, a document, a server's
reply, an exception message) shown exactly as written.

Qt guesses: a label, message box or tooltip whose first line looks like HTML is drawn as
rich text, and rich text fetches what an <img> names: a local file, or /dev/zero until
memory runs out. So a widget that shows such a string is told it is plain text, and where
our own markup wraps one, that part is escaped.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

# A tooltip is drawn in one go: a file's metadata may hold megabytes where a line was expected.
MAX_TIP_CHARS = 2000


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that never reads its text as HTML."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def html_text(text: str) -> str:
    """`text` escaped for a place where we write the markup around it."""
    return escape(text, quote=True)


def tip(text: str) -> str:
    """`text` as a tooltip that shows these very characters, line breaks and spaces kept.

    A tooltip has no text format to set: Qt decides from its first line. So it is
    always handed rich text, with everything in it escaped."""
    if not text:
        return ""
    if len(text) > MAX_TIP_CHARS:
        text = text[: MAX_TIP_CHARS - 1] + "…"
    return f"<p style='white-space:pre-wrap'>{escape(text, quote=False)}</p>"


def button_text(text: str) -> str:
    """`text` for a button, whose label is plain but reads '&' as the mark of a shortcut key."""
    return text.replace("&", "&&")


def message_box(icon: QMessageBox.Icon, title: str, text: str, parent: QWidget | None = None) -> QMessageBox:
    """A QMessageBox whose text is plain (QMessageBox.warning and friends guess instead)."""
    box = QMessageBox(icon, title, "", parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    return box
