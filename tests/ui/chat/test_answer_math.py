"""A reply's new formulas show as source at once and as images once typeset."""

import uuid

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextDocument

from app.ui.chat.answer_view import AnswerView


def test_formula_arrives_after_the_text(qtbot):
    view = AnswerView()
    qtbot.addWidget(view)
    tex = f"\\frac{{{uuid.uuid4().int % 10**9}}}{{7}}"
    view.set_markdown(f"So $${tex}$$ holds.\n")
    assert view.math_pending and tex in view.toPlainText()
    qtbot.waitUntil(lambda: not view.math_pending, timeout=20000)
    html = view.toHtml()
    key = html.split('src="math:', 1)[1].split('"', 1)[0]
    image = view.document().resource(QTextDocument.ResourceType.ImageResource, QUrl(f"math:{key}"))
    assert image is not None and not image.isNull()
    assert tex not in view.toPlainText()
