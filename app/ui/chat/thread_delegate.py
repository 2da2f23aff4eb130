"""How a row of the thread list looks: the date group's header above the first thread
of a group, the title (elided with "…", a search's matches marked), a snippet of the
message a search matched, a ⋯ button on the row under the mouse or selected, and the
in-place title editor (F2 or a double-click).

Everything is drawn with QTextLayout and plain strings: a title or message is never
read as markup, whatever it contains.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
    QValidator,
)
from PySide6.QtWidgets import QLineEdit, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.chat.thread_list import GroupRole, SnippetRole, ThreadIdRole, TitleSpansRole

MARGIN = 4  # between the list's edge and a row's rounded background
PAD_X, PAD_Y = 10, 7  # inside the row's background
BUTTON = 24  # the ⋯ button's square
SNIPPET_GAP = 2
HEADER_TOP, HEADER_FIRST_TOP, HEADER_BOTTOM = 14, 6, 4
MAX_TITLE = 200  # characters a rename may give


def _dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def _alpha(colour: QColor, alpha: int) -> QColor:
    colour = QColor(colour)
    colour.setAlpha(alpha)
    return colour


def _small(font: QFont, weight: QFont.Weight = QFont.Weight.Normal) -> QFont:
    small = QFont(font)
    if font.pointSizeF() > 0:
        small.setPointSizeF(font.pointSizeF() * 0.88)
    else:
        small.setPixelSize(max(8, round(font.pixelSize() * 0.88)))
    small.setWeight(weight)
    return small


def draw_marked(painter: QPainter, font: QFont, rect: QRect, text: str, spans, colour: QColor,
                mark: QTextCharFormat, room: int | None = None) -> None:
    """`text` on one line in `rect`, elided with "…" to fit `room` (default: the rect's
    width; less where `mark` makes a match wider), with `mark` over each (start, end) span
    still visible."""
    metrics = QFontMetrics(font)
    shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width() if room is None else room)
    visible = len(shown) if shown == text else max(0, len(shown) - 1)  # the last is "…"
    formats = []
    for start, end in spans:
        end = min(end, visible)
        if start < end:
            marked = QTextLayout.FormatRange()
            marked.start, marked.length, marked.format = start, end - start, mark
            formats.append(marked)
    layout = QTextLayout(shown, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.NoWrap)
    layout.setTextOption(option)
    layout.setFormats(formats)
    layout.beginLayout()
    line = layout.createLine()
    if line.isValid():
        line.setLineWidth(rect.width())
    layout.endLayout()
    painter.setPen(colour)
    y = rect.top() + (rect.height() - metrics.height()) / 2
    layout.draw(painter, QPoint(rect.left(), round(y)))


def fit_snippet(metrics: QFontMetrics, text: str, start: int, end: int, width: int) -> tuple[str, int, int]:
    """Drop words from the front of `text` until its match [start, end) fits in `width`;
    the new text starts with "…". Returns it with the match's new place."""
    if end <= start or metrics.horizontalAdvance(text[:end]) <= width:
        return text, start, end
    starts = [i for i in range(1, start) if text[i - 1] == " "] + [start]  # words, nearest last
    cut = next((i for i in starts if metrics.horizontalAdvance("…" + text[i:end]) <= width), start)
    return "…" + text[cut:], start + 1 - cut, end + 1 - cut


class NonBlank(QValidator):
    """A title must have something besides spaces: Enter does nothing until it does."""

    def validate(self, text: str, pos: int):
        state = QValidator.State.Acceptable if text.strip() else QValidator.State.Intermediate
        return state, text, pos


class TitleEditor(QLineEdit):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("threadTitleEditor")
        self.setMaxLength(MAX_TITLE)
        self.setValidator(NonBlank(self))
        self.setPlaceholderText("A title cannot be empty")

    def event(self, event) -> bool:
        # Esc belongs to the editor (cancel the rename), not to the window's "Stop reply".
        if event.type() == event.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
            event.accept()
            return True
        return super().event(event)


class ThreadDelegate(QStyledItemDelegate):
    renamed = Signal(int, str)  # thread id, new title (never blank)

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view  # ThreadListView: where the mouse is

    # -- geometry (the view asks the same questions for hit tests) ----------------------------

    def header_height(self, option: QStyleOptionViewItem, index: QModelIndex) -> int:
        if not index.data(GroupRole):
            return 0
        top = HEADER_FIRST_TOP if index.row() == 0 else HEADER_TOP
        return top + QFontMetrics(_small(option.font, QFont.Weight.DemiBold)).height() + HEADER_BOTTOM

    def item_rect(self, option: QStyleOptionViewItem, index: QModelIndex) -> QRect:
        """The row's own area (its background), below any group header."""
        rect = option.rect
        return QRect(rect.left() + MARGIN, rect.top() + self.header_height(option, index),
                     rect.width() - 2 * MARGIN, rect.bottom() - rect.top() - self.header_height(option, index) + 1)

    def title_rect(self, option: QStyleOptionViewItem, index: QModelIndex, button: bool) -> QRect:
        item = self.item_rect(option, index)
        width = item.width() - 2 * PAD_X - (BUTTON if button else 0)
        return QRect(item.left() + PAD_X, item.top() + PAD_Y, max(0, width), option.fontMetrics.height())

    def button_rect(self, option: QStyleOptionViewItem, index: QModelIndex) -> QRect:
        item = self.item_rect(option, index)
        title = self.title_rect(option, index, True)
        return QRect(item.right() - PAD_X // 2 - BUTTON + 1, title.center().y() - BUTTON // 2 + 1, BUTTON, BUTTON)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 (Qt's name)
        height = 2 * PAD_Y + option.fontMetrics.height() + self.header_height(option, index)
        if index.data(SnippetRole) is not None:
            height += SNIPPET_GAP + QFontMetrics(_small(option.font)).height()
        return QSize(100, height)

    # -- drawing ----------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        try:
            self._paint(painter, option, index)
        finally:
            painter.restore()

    def _paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        palette, dark = option.palette, _dark(option.palette)
        enabled = option.state & QStyle.StateFlag.State_Enabled
        group = QPalette.ColorGroup.Normal if enabled else QPalette.ColorGroup.Disabled
        text_colour = palette.color(group, QPalette.ColorRole.Text)
        dim = palette.color(group, QPalette.ColorRole.PlaceholderText)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        header = self.header_height(option, index)
        if header:
            font = _small(option.font, QFont.Weight.DemiBold)
            inset = MARGIN + PAD_X
            rect = QRect(option.rect.left() + inset, option.rect.top(), option.rect.width() - 2 * inset,
                         header - HEADER_BOTTOM)
            painter.setFont(font)
            painter.setPen(dim)
            shown = QFontMetrics(font).elidedText(index.data(GroupRole), Qt.TextElideMode.ElideRight, rect.width())
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom), shown)
        item = self.item_rect(option, index)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = self.view.hover_pos is not None and item.contains(self.view.hover_pos)
        if selected or hovered:
            accent = palette.color(QPalette.ColorRole.Highlight)
            fill = _alpha(accent, 90 if dark else 45) if selected else _alpha(text_colour, 22 if dark else 14)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(item), 6, 6)
        mark = QTextCharFormat()
        mark.setBackground(QColor("#7a5c00" if dark else "#fde68a"))
        mark.setForeground(text_colour)
        show_button = selected or hovered
        title = self.title_rect(option, index, show_button)
        draw_marked(painter, option.font, title, index.data(Qt.ItemDataRole.DisplayRole) or "",
                    index.data(TitleSpansRole) or [], text_colour, mark)
        snippet = index.data(SnippetRole)
        if snippet is not None:
            font = _small(option.font)
            metrics = QFontMetrics(font)
            full = self.title_rect(option, index, False)  # below the ⋯ button: the whole width
            rect = QRect(full.left(), full.bottom() + 1 + SNIPPET_GAP, full.width(), metrics.height())
            match = snippet.text[snippet.start:snippet.end]
            bolder = QFontMetrics(_small(option.font, QFont.Weight.DemiBold)).horizontalAdvance(match)
            room = rect.width() - max(0, bolder - metrics.horizontalAdvance(match))
            text, start, end = fit_snippet(metrics, snippet.text, snippet.start, snippet.end, room)
            mark.setFontWeight(QFont.Weight.DemiBold)
            draw_marked(painter, font, rect, text, [(start, end)] if end > start else [], dim, mark, room)
        if show_button:
            self._draw_button(painter, self.button_rect(option, index), text_colour, dark)

    def _draw_button(self, painter: QPainter, rect: QRect, colour: QColor, dark: bool) -> None:
        pos = self.view.hover_pos
        if pos is not None and rect.contains(pos):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_alpha(colour, 40 if dark else 28))
            painter.drawRoundedRect(QRectF(rect), 5, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        centre = QRectF(rect).center()
        for dx in (-5, 0, 5):  # ⋯ drawn, not typed: no font lacks it
            painter.drawEllipse(centre + QPoint(dx, 0).toPointF(), 1.5, 1.5)

    # -- renaming in place ------------------------------------------------------------------

    def createEditor(self, parent, option, index):  # noqa: N802 (Qt's name)
        return TitleEditor(parent)

    def setEditorData(self, editor: TitleEditor, index: QModelIndex) -> None:  # noqa: N802 (Qt's name)
        editor.setText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.selectAll()

    def updateEditorGeometry(self, editor, option, index) -> None:  # noqa: N802 (Qt's name)
        title = self.title_rect(option, index, False)
        editor.setGeometry(title.adjusted(-4, -4, 4, 4))

    def setModelData(self, editor: TitleEditor, model, index: QModelIndex) -> None:  # noqa: N802 (Qt's name)
        # The store is the model's source: the session renames and the list follows by rows.
        title = editor.text().strip()
        if title and title != index.data(Qt.ItemDataRole.EditRole):
            self.renamed.emit(index.data(ThreadIdRole), title)
