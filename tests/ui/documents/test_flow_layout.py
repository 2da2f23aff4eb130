"""Chips wrap onto new lines instead of widening the window."""

from PySide6.QtWidgets import QLabel, QWidget

from app.ui.documents.flow_layout import FlowLayout


def test_items_wrap_within_the_width(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    layout = FlowLayout(host, spacing=4)
    labels = [QLabel(f"document-{i}.pdf · 12 pages") for i in range(12)]
    for label in labels:
        layout.addWidget(label)
    host.resize(400, layout.heightForWidth(400))
    host.show()
    qtbot.waitExposed(host)
    rows = sorted({label.geometry().y() for label in labels})
    assert len(rows) > 1
    assert all(label.geometry().right() < 400 for label in labels)
    assert layout.heightForWidth(400) > layout.heightForWidth(4000)
    assert layout.minimumSize().width() <= max(label.sizeHint().width() for label in labels)
