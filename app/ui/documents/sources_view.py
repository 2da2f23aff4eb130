"""Which parts of the documents a reply was given, under the reply: "Sources".

Shown when a long document went in as passages, so a person can see (and open) the
exact chunks the model read instead of guessing what retrieval picked.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from app.core.documents import Document, DocumentPlan
from app.ui.plain import button_text


class SourcesView(QWidget):
    passage_opened = Signal(object, int, int)  # Document, start, end

    def __init__(self, used: list[tuple[Document, DocumentPlan]]) -> None:
        super().__init__()
        self.setObjectName("sourcesView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.setSpacing(0)
        passages = sum(len(p.passages) for _, p in used)
        whole = sum(1 for _, p in used if p.mode == "whole")
        self.toggle = QToolButton()
        self.toggle.setObjectName("sourcesToggle")
        self.toggle.setAutoRaise(True)
        self.toggle.setCheckable(True)
        self.summary = f"Sources: {passages} passage{'s' * (passages != 1)}" + (
            f" and {whole} whole file{'s' * (whole != 1)}" if whole else "")
        self.toggle.toggled.connect(self.set_expanded)
        layout.addWidget(self.toggle)
        self.body = QWidget()
        rows = QVBoxLayout(self.body)
        rows.setContentsMargins(16, 0, 0, 0)
        rows.setSpacing(0)
        self.rows: list[QToolButton] = []
        for doc, plan in used:
            if plan.mode == "whole":
                rows.addWidget(self._row(f"{doc.name}: whole ({plan.tokens:,} tokens)", doc, 0, len(doc.text)))
                continue
            for p in plan.passages:
                rows.addWidget(self._row(f"{doc.name} {p.location} ({p.tokens:,} tokens)", doc, p.start, p.end))
        hint = QLabel("Only these parts of the long documents were given to the model.")
        hint.setObjectName("sourcesHint")
        rows.addWidget(hint)
        layout.addWidget(self.body)
        self.set_expanded(False)

    def _row(self, text: str, doc: Document, start: int, end: int) -> QToolButton:
        row = QToolButton()
        row.setAutoRaise(True)
        row.setText(button_text(text))  # a file's name
        row.setToolTip("Show this passage")
        row.clicked.connect(lambda _=False: self.passage_opened.emit(doc, start, end))
        self.rows.append(row)
        return row

    @property
    def expanded(self) -> bool:
        return self.toggle.isChecked()

    def set_expanded(self, on: bool) -> None:
        if self.toggle.isChecked() != on:
            self.toggle.setChecked(on)  # comes back here through toggled
            return
        self.toggle.setText(("▾ " if on else "▸ ") + self.summary)
        self.body.setVisible(on)

    def row_texts(self) -> list[str]:
        return [r.text().replace("&&", "&") for r in self.rows]


def sources_for(pairs: list[tuple[Document, DocumentPlan | None]]) -> list[tuple[Document, DocumentPlan]] | None:
    """The documents a turn used, when any of them went in as passages; else None."""
    used = [(d, p) for d, p in pairs if d.ok and p is not None and p.mode in ("whole", "passages")]
    return used if any(p.mode == "passages" for _, p in used) else None
