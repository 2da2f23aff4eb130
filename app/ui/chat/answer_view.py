"""An answer rendered from Markdown, updated block by block while it streams."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QImage, QTextCursor, QTextDocument
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser

from app.render.incremental import IncrementalMarkdown, Update


class AnswerView(QTextBrowser):
    """Only the block still being written is replaced; finished blocks stay as they are.

    New formulas are typeset on a helper thread (app.render.math): the block shows
    their source, and is rendered again when the images are ready.
    """

    _math_ready = Signal()  # emitted on the typesetting thread; delivered queued here

    def __init__(self, dark: bool = False) -> None:
        super().__init__()
        self.setObjectName("answerView")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.anchorClicked.connect(self._link)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._markdown = IncrementalMarkdown(dark=dark, math_ready=self._math_ready.emit)
        self._math_ready.connect(self._refresh_math, Qt.ConnectionType.QueuedConnection)
        self._starts: list[int] = []  # document position where each block's HTML begins
        self._fit_height()

    def set_markdown(self, text: str) -> None:
        self._apply(self._markdown.set_text(text))

    def append_markdown(self, chunk: str) -> None:
        self._apply(self._markdown.append(chunk))

    def _refresh_math(self) -> None:
        self._apply(self._markdown.refresh())

    @property
    def math_pending(self) -> bool:
        return any(b.math_pending for b in self._markdown.blocks)

    def markdown(self) -> str:
        return self._markdown.text

    @property
    def block_count(self) -> int:
        return len(self._starts)

    def _apply(self, update: Update) -> None:
        doc = self.document()
        cursor = QTextCursor(doc)
        if update.first_changed < len(self._starts):
            cursor.setPosition(self._starts[update.first_changed])
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            del self._starts[update.first_changed :]
        cursor.movePosition(QTextCursor.MoveOperation.End)
        for block in update.changed:
            for key, png in block.images.items():
                doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"math:{key}"), QImage.fromData(png))
            # A block starts where its separator does, so replacing it removes both.
            self._starts.append(cursor.position())
            if len(self._starts) > 1:
                cursor.insertBlock()  # else Qt merges a fragment into the previous paragraph
            cursor.insertHtml(block.html)

    def _link(self, url: QUrl) -> None:
        if url.scheme() == "copy":
            index = int(url.path() or url.toString().split(":", 1)[1])
            codes = self._markdown.code_blocks
            if 0 <= index < len(codes):
                QGuiApplication.clipboard().setText(codes[index])

    def _fit_height(self, *_: object) -> None:
        height = int(self.document().size().height()) + 6
        if height != self.height():
            self.setFixedHeight(max(height, 24))
