"""An answer rendered from Markdown, updated block by block while it streams."""

from __future__ import annotations

import time
from collections import OrderedDict

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QTextCursor, QTextDocument
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser

from app.render.incremental import Block, IncrementalMarkdown, Update
from app.ui import style
from app.ui.dialogs import Dialogs

# Text rendered in one event-loop turn at most: a long answer (a thread opened again,
# a large batch of tokens) is shown over several turns, so the window never stalls
# for long. A turn's cost grows with lines (table rows, code) and with characters.
STEP_CHARS = 2000
STEP_LINES = 30
STEP_FORMULAS = 60  # each shows as an image, which costs as much as many characters of text
MATH_FRAME_MS = 16  # formula images arriving within this long are put in with one render
MATH_TURN_MS = 10  # blocks rendered again for their images in one turn, until this long has passed
MATH_SHARE = 3  # and the next such turn waits three times as long as this one took
WEB_SCHEMES = ("http", "https")  # the only links opened (after asking)
# Formula images decoded so far, shared by every answer: decoding a PNG costs more than
# showing it, and a thread opened again shows the same formulas. QImage shares its data.
_DECODED: OrderedDict[str, QImage] = OrderedDict()
_DECODED_MAX = 4096


class AnswerView(QTextBrowser):
    """Only the block still being written is replaced; finished blocks stay as they are.

    New formulas are typeset on a helper thread (app.render.math): the block shows
    their source, and is rendered again once per frame in which images arrived.
    """

    _math_ready = Signal()  # emitted on the typesetting thread; delivered queued here

    def __init__(self, dark: bool = False, text_px: int | None = None) -> None:
        super().__init__()
        self.setObjectName("answerView")
        self._text_px = text_px or style.type_scale().reading
        font = style.reading_font()
        font.setPixelSize(self._text_px)
        self.document().setDefaultFont(font)  # the size formulas are typeset at
        # Code wraps inside the reading column rather than widening the whole answer, and
        # is set a little smaller than prose, as monospaced text runs wider.
        self.document().setDefaultStyleSheet(f"pre {{ white-space: pre-wrap; font-size: {self._text_px - 2}px; }}")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.anchorClicked.connect(self._link)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._markdown = IncrementalMarkdown(dark=dark, text_px=self._text_px, math_ready=self._math_ready.emit)
        self._math_ready.connect(self._math_arrived, Qt.ConnectionType.QueuedConnection)
        self._math_timer = QTimer(self)
        self._math_timer.setSingleShot(True)
        self._math_timer.setInterval(MATH_FRAME_MS)
        self._math_timer.timeout.connect(self._refresh_math)
        self._backlog = ""  # text not rendered yet: a step per event-loop turn
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._step)
        self._starts: list[int] = []  # document position where each block's HTML begins
        self._resources: set[str] = set()  # math images the document has
        self._fit_height()

    def set_markdown(self, text: str) -> None:
        """Show `text` (the whole answer so far): its first step now, the rest over
        the next event-loop turns."""
        shown = self.markdown()
        if shown and text.startswith(shown):  # more of the same answer
            self.append_markdown(text[len(shown) :])
            return
        head = _step_end(text)
        self._backlog = text[head:]
        self._apply(self._markdown.set_text(text[:head], show_open=not self._backlog))
        self._queue(self._backlog)

    def append_markdown(self, chunk: str) -> None:
        if self._backlog:  # still catching up: the new text waits its turn
            self._backlog += chunk
            return
        head = _step_end(chunk)
        self._backlog = chunk[head:]
        self._apply(self._markdown.append(chunk[:head], show_open=not self._backlog))
        self._queue(self._backlog)

    def markdown(self) -> str:
        return self._markdown.text + self._backlog

    def set_dark(self, dark: bool) -> None:
        """Render the answer again in the colours for a light or a dark background."""
        if dark == self._markdown.dark:
            return
        text = self.markdown()
        self._markdown = IncrementalMarkdown(dark=dark, text_px=self._text_px, math_ready=self._math_ready.emit)
        self._backlog = ""
        self.document().clear()  # and its images: formulas are drawn in the text's colour
        self._starts.clear()
        self._resources.clear()
        self.set_markdown(text)

    @property
    def math_pending(self) -> bool:
        return any(b.math_pending for b in self._markdown.blocks)

    @property
    def settled(self) -> bool:
        """Everything is shown: no text waiting for its turn, no formula being typeset."""
        return not self._backlog and not self.math_pending

    @property
    def block_count(self) -> int:
        return len(self._starts)

    # -- rendering over several turns ---------------------------------------------------

    def _queue(self, rest: str) -> None:
        self._backlog = rest
        if rest:
            self._step_timer.start()
        else:
            self._step_timer.stop()

    def _step(self) -> None:
        head = _step_end(self._backlog)
        text, self._backlog = self._backlog[:head], self._backlog[head:]
        # The open block is rendered once, after the last step (each step would replace it).
        self._apply(self._markdown.append(text, show_open=not self._backlog))
        self._queue(self._backlog)

    def _math_arrived(self) -> None:
        if not self._math_timer.isActive():
            self._math_timer.start()

    def _refresh_math(self) -> None:
        started = time.perf_counter()
        deadline = started + MATH_TURN_MS / 1000
        for index, block in self._markdown.refresh(enough=lambda: time.perf_counter() > deadline):
            self._replace(index, block)
        # A formula every few ms for seconds on end (an answer of thousands of them):
        # the window keeps at least 3/4 of its time for everything else.
        spent_ms = (time.perf_counter() - started) * 1000
        self._math_timer.setInterval(max(MATH_FRAME_MS, round(MATH_SHARE * spent_ms)))
        if self._markdown.math_ready:  # blocks left for the next turn
            self._math_timer.start()

    # -- the document ------------------------------------------------------------------

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
            self._starts.append(cursor.position())
            self._insert(cursor, block)

    def _replace(self, index: int, block: Block) -> None:
        """Put `block` in place of block `index`, leaving the others as they are."""
        doc = self.document()
        cursor = QTextCursor(doc)
        start = self._starts[index]
        size = doc.characterCount()
        if index + 1 < len(self._starts):
            cursor.setPosition(self._starts[index + 1])
        else:
            cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.setPosition(start, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._insert(cursor, block)
        moved = doc.characterCount() - size
        for n in range(index + 1, len(self._starts)):
            self._starts[n] += moved

    def _insert(self, cursor: QTextCursor, block: Block) -> None:
        # A block starts where its separator does, so replacing it removes both.
        doc = self.document()
        for key, png in block.images.items():
            if key not in self._resources:
                self._resources.add(key)
                doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"math:{key}"), _image(key, png))
        if not block.html:
            return  # (a piece with nothing to show): no separator either
        if cursor.position() > 0:
            cursor.insertBlock()  # else Qt merges a fragment into the previous paragraph
        cursor.insertHtml(block.html)

    # -- links ---------------------------------------------------------------------------

    def _link(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == "copy":
            index = url.path() or url.toString().split(":", 1)[1]
            codes = self._markdown.code_blocks
            if index.isdigit() and int(index) < len(codes):
                QGuiApplication.clipboard().setText(codes[int(index)])
        elif scheme in WEB_SCHEMES and url.isValid() and url.host():
            # Shown whole before it is opened: the text of a link need not say where it goes.
            if Dialogs.open_link(self, url.toString(QUrl.ComponentFormattingOption.FullyEncoded)):
                QDesktopServices.openUrl(url)
        # Anything else (file:, javascript:, data:, a relative path) is never opened.

    def _fit_height(self, *_: object) -> None:
        height = int(self.document().size().height()) + 6
        if height != self.height():
            self.setFixedHeight(max(height, 24))


def _image(key: str, png: bytes) -> QImage:
    image = _DECODED.get(key)
    if image is None:
        image = _DECODED[key] = QImage.fromData(png)
        if len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    else:
        _DECODED.move_to_end(key)
    return image


def _step_end(text: str) -> int:
    """Where the first step of `text` ends: STEP_CHARS characters, STEP_LINES lines or
    STEP_FORMULAS formulas (two "$" each, roughly), whichever comes first."""
    end = min(len(text), STEP_CHARS)
    dollar = -1
    for _ in range(2 * STEP_FORMULAS):
        dollar = text.find("$", dollar + 1, end)
        if dollar < 0:
            break
    else:
        end = dollar + 1
    newline = -1
    for _ in range(STEP_LINES):
        newline = text.find("\n", newline + 1, end)
        if newline < 0:
            return end
    return newline + 1
