"""Links in answers: an http(s) link opens in the browser once the person has seen the
whole address and said yes; nothing else is ever opened."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QTextCursor
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QPlainTextEdit

from app.ui.chat.answer_view import AnswerView
from app.ui.dialogs import Dialogs

ADDRESS = "https://example.org/docs/page?q=a%20b&x=<1>#part"


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    urls: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: urls.append(url.toString()) or True))
    return urls


class Asked(list):
    """The addresses the person was asked about, and what they answer."""

    yes = True


@pytest.fixture
def asked(monkeypatch) -> Asked:
    urls = Asked()
    monkeypatch.setattr(Dialogs, "open_link", staticmethod(lambda parent, url: urls.append(url) or urls.yes))
    return urls


@pytest.fixture
def view(qtbot) -> AnswerView:
    v = AnswerView()
    qtbot.addWidget(v)
    v.resize(600, 200)
    v.show()
    qtbot.waitExposed(v)
    return v


def click_text(qtbot, view: AnswerView, words: str) -> None:
    """A real mouse click on `words` in the view."""
    cursor = QTextCursor(view.document())
    cursor.setPosition(view.toPlainText().index(words) + 2)
    point: QPoint = view.cursorRect(cursor).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_clicking_a_web_link_asks_with_the_whole_address_then_opens_it(view, qtbot, asked, opened):
    view.set_markdown(f"See [the docs]({ADDRESS}) for more.")
    click_text(qtbot, view, "the docs")
    assert len(asked) == 1 and QUrl(asked[0]) == QUrl(ADDRESS)
    assert "example.org/docs/page?q=a%20b&x=" in asked[0] and asked[0].endswith("#part")
    assert [QUrl(u) for u in opened] == [QUrl(ADDRESS)]


def test_a_link_is_not_opened_when_the_person_says_no(view, qtbot, asked, opened):
    asked.yes = False
    view.set_markdown("Go to <https://example.org/x> now.")
    click_text(qtbot, view, "example.org")
    assert len(asked) == 1 and opened == []


def test_clicking_plain_text_opens_nothing(view, qtbot, asked, opened):
    view.set_markdown("A [file](file:///etc/passwd) and [script](javascript:alert(1)) and [mail](mailto:a@b.c).")
    for words in ("file", "script", "mail"):
        click_text(qtbot, view, words)
    assert asked == [] and opened == []


@pytest.mark.parametrize("target", [
    "file:///etc/passwd", "javascript:alert(1)", "data:text/html,<b>x</b>", "relative/page.html", "/abs/path",
    "mailto:a@b.c", "ftp://example.org/f", "https:no-host", "copy:99", "copy:x",
])
def test_no_other_kind_of_link_is_ever_opened(view, asked, opened, target):
    # Answers never make such links (see syntax.py); the view refuses them all the same.
    view.set_markdown("```\ncode\n```\n")
    view.anchorClicked.emit(QUrl(target))
    assert asked == [] and opened == []


def test_the_question_shows_the_address_as_plain_text(qtbot):
    address = "https://example.org/<b>not bold</b>/" + "long/" * 60
    seen = {}

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        seen["address"] = dialog.findChild(QPlainTextEdit).toPlainText()
        label = dialog.findChild(QLabel)
        seen["question"], seen["format"] = label.text(), label.textFormat()
        buttons = dialog.findChild(QDialogButtonBox)
        next(b for b in buttons.buttons() if b.text() == "Open").click()

    QTimer.singleShot(0, answer)
    assert Dialogs.open_link(None, address) is True
    assert seen["address"] == address  # whole, as written
    assert seen["format"] == Qt.TextFormat.PlainText and "example.org" in seen["question"]

    QTimer.singleShot(0, lambda: QApplication.activeModalWidget().reject())
    assert Dialogs.open_link(None, address) is False
