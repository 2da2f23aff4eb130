"""The threads column on a real window and a real SQLite file: date groups, keyboard,
rename in place, Delete and undo, search marks, the ⋯ menu, and folding when narrow."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, QPointF, Qt
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QAbstractScrollArea, QApplication, QMenu, QWidget

from app.core.records import Thread
from app.core.store import Store
from app.ui.chat.thread_delegate import TitleEditor, fit_snippet
from app.ui.chat.thread_list import GroupRole, SnippetRole, ThreadIdRole, ThreadListModel, TitleSpansRole

DAY = 86400.0


def seed(app, threads: list[tuple[float, str, str]]) -> list[int]:
    """(days ago, title, answer) threads written through a second store with its own clock;
    returns their ids, newest first, as the list shows them."""
    now = time.time()
    clock = {"t": now}
    ids = []
    with Store(app.store.db_path, clock=lambda: clock["t"]) as store:
        for age, title, answer in threads:
            clock["t"] = now - age * DAY
            thread = store.create_thread(title)
            question = store.add_message(thread.id, None, "user", f"Tell me about {title.lower()}")
            store.add_message(thread.id, question.id, "assistant", answer, reasoning="Let me think it over.")
            ids.append(thread.id)
    app.session.refresh_threads()
    return [t.id for t in app.store.list_threads()]


THREADS = [
    (400, "Graphs", "A tree with n nodes has n - 1 edges."),
    (3, "Birthday paradox", "With 23 people the chance is above one half."),
    (1, "Odd numbers", "Their sum is a square."),
    (0, "Blue sky", "Rayleigh scattering favours short waves."),
    (0, "Primes", "There are 8 primes below 20."),
]


def rows(view) -> list[tuple[str, str]]:
    model = view.model()
    return [(model.index(r).data(GroupRole), model.index(r).data()) for r in range(model.rowCount())]


def header_point(view, row: int) -> QPoint:
    rect = view.visualRect(view.model().index(row))
    return QPoint(rect.center().x(), rect.top() + 3)


def item_point(view, row: int) -> QPoint:
    rect = view.visualRect(view.model().index(row))
    return QPoint(rect.left() + 30, rect.bottom() - 8)


def test_threads_are_grouped_by_day_and_headers_are_not_rows(make_app):
    app = make_app()
    seed(app, THREADS)
    year = str(datetime.fromtimestamp(time.time() - 400 * DAY).year)
    assert rows(app.window.thread_list) == [
        ("Today", "Primes"), ("", "Blue sky"), ("Yesterday", "Odd numbers"),
        ("Previous 7 days", "Birthday paradox"), (year, "Graphs"),
    ]
    model = app.window.thread_list.model()
    assert all(model.index(r).data(ThreadIdRole) for r in range(model.rowCount()))


def test_sync_changes_rows_and_their_headers_never_resets():
    now = datetime(2026, 3, 15, 12).timestamp()
    model = ThreadListModel(clock=lambda: now)

    def thread(tid: int, age_days: float, title: str = "") -> Thread:
        return Thread(tid, title or f"T{tid}", 0.0, now - age_days * DAY, None, {})

    model.sync([thread(1, 0), thread(2, 1), thread(3, 1)])
    assert [model.index(r).data(GroupRole) for r in range(3)] == ["Today", "Yesterday", ""]
    third = QPersistentModelIndex(model.index(2))
    seen = []
    model.modelReset.connect(lambda: seen.append("reset"))
    model.rowsMoved.connect(lambda *a: seen.append("moved"))
    model.rowsInserted.connect(lambda *a: seen.append("inserted"))
    model.rowsRemoved.connect(lambda *a: seen.append("removed"))
    model.dataChanged.connect(lambda top, bottom, *_: seen.append(("changed", top.row())))

    model.sync([thread(2, 0), thread(1, 0), thread(3, 1)])  # thread 2 had a new message

    assert "reset" not in seen and seen.count("moved") == 1 and "inserted" not in seen and "removed" not in seen
    assert {("changed", 0), ("changed", 1), ("changed", 2)} <= set(seen)
    assert [model.index(r).data(GroupRole) for r in range(3)] == ["Today", "", "Yesterday"]
    assert third.isValid() and third.row() == 2 and third.data(ThreadIdRole) == 3
    seen.clear()
    model.sync([thread(2, 0), thread(1, 0), thread(3, 1)])
    assert seen == []  # nothing changed: no signal at all


def test_arrow_keys_move_between_threads_and_a_header_takes_no_click(make_app, qtbot):
    app = make_app()
    ids = seed(app, THREADS)
    view = app.window.thread_list
    app.session.select_thread(ids[0])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 1 and app.session.thread_id == ids[1]
    qtbot.keyClick(view, Qt.Key.Key_Down)  # onto the row under the "Yesterday" header
    assert view.currentIndex().row() == 2 and app.session.thread_id == ids[2]

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=header_point(view, 3))
    assert view.currentIndex().row() == 2 and app.session.thread_id == ids[2]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=item_point(view, 3))
    assert app.session.thread_id == ids[3]


def double_click(qtbot, view, pos: QPoint) -> None:
    # QTest sends a double-click alone; a real one comes after a press and release.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def hover(view, pos: QPoint) -> None:
    """Move the mouse over the list with no button held (QTest may remember one)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), view.viewport().mapToGlobal(QPointF(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def editor_of(view) -> TitleEditor | None:
    if view.state() != QAbstractItemView.State.EditingState:
        return None
    editors = [e for e in view.viewport().findChildren(TitleEditor) if e.isVisible()]
    return editors[0] if len(editors) == 1 else None


def test_rename_in_place_saves_on_enter_cancels_on_esc_and_refuses_blank(make_app, qtbot):
    app = make_app()
    ids = seed(app, THREADS)
    view = app.window.thread_list
    app.window.activateWindow()
    app.session.select_thread(ids[0])
    view.setFocus()

    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = editor_of(view)
    assert editor is not None and editor.text() == "Primes" and editor.selectedText() == "Primes"
    qtbot.keyClicks(editor, "Prime numbers")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on its next event-loop turn
    qtbot.waitUntil(lambda: app.store.get_thread(ids[0]).title == "Prime numbers")
    assert view.model().index(0).data() == "Prime numbers" and editor_of(view) is None

    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = editor_of(view)
    qtbot.keyClicks(editor, "Something else")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: editor_of(view) is None)
    assert app.store.get_thread(ids[0]).title == "Prime numbers"

    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = editor_of(view)
    editor.clear()
    qtbot.keyClicks(editor, "   ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.keyClick(editor, Qt.Key.Key_End)  # a turn of the loop after Enter: a commit would have run
    assert editor_of(view) is editor and app.store.get_thread(ids[0]).title == "Prime numbers"  # refused
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: editor_of(view) is None)
    assert app.store.get_thread(ids[0]).title == "Prime numbers"

    double_click(qtbot, view, item_point(view, 1))
    editor = editor_of(view)
    assert editor is not None and editor.text() == "Blue sky"
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: editor_of(view) is None)
    double_click(qtbot, view, header_point(view, 2))
    assert editor_of(view) is None  # a header is not a title


def test_delete_key_deletes_the_selected_thread_and_ctrl_z_brings_it_back(make_app, qtbot):
    app = make_app()
    ids = seed(app, THREADS)
    view, window = app.window.thread_list, app.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    app.session.select_thread(ids[1])
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert ids[1] not in [t.id for t in app.store.list_threads()]
    assert view.model().rowCount() == 4 and window.undo_button.isVisibleTo(window)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [t.id for t in app.store.list_threads()] == ids
    assert app.session.thread_id == ids[1] and not window.undo_button.isVisibleTo(window)


def test_search_marks_title_matches_and_shows_a_snippet_for_message_matches(make_app):
    app = make_app()
    seed(app, [*THREADS, (2, "Waves <b>bold</b>", "Light is a wave; blue light scatters more.")])
    window = app.window
    window.search.setText("blue")
    model = window.thread_list.model()
    found = {model.index(r).data(): model.index(r) for r in range(model.rowCount())}
    assert set(found) == {"Blue sky", "Waves <b>bold</b>"}  # the title as typed, never markup
    assert found["Blue sky"].data(TitleSpansRole) == [(0, 4)] and found["Blue sky"].data(SnippetRole) is None
    snippet = found["Waves <b>bold</b>"].data(SnippetRole)
    assert found["Waves <b>bold</b>"].data(TitleSpansRole) == []
    assert snippet.text[snippet.start:snippet.end] == "blue" and "scatters" in snippet.text
    window.search.setText("")
    assert model.rowCount() == 6 and all(model.index(r).data(SnippetRole) is None for r in range(6))


def test_a_long_snippet_keeps_its_match_in_view():
    metrics = QFontMetrics(QFont())
    text = "…" + "several words before the match " * 3 + "MATCH and after"
    start = text.index("MATCH")
    width = metrics.horizontalAdvance("several words before MATCH")
    fitted, s, e = fit_snippet(metrics, text, start, start + 5, width)
    assert fitted[s:e] == "MATCH" and fitted.startswith("…")
    assert metrics.horizontalAdvance(fitted[:e]) <= width


def open_menus(app) -> list[QMenu]:
    return [m for m in app.window.sidebar.findChildren(QMenu, "threadMenu") if m.isVisible()]


def test_the_row_button_opens_its_menu_without_opening_the_thread(make_app, qtbot):
    app = make_app()
    ids = seed(app, THREADS)
    view = app.window.thread_list
    app.session.select_thread(ids[0])
    index = view.model().index(2)
    hover(view, item_point(view, 2))
    assert view.hover_pos is not None
    option = view._option(index)  # noqa: SLF001 (the view's own geometry helper)
    button = view.delegate.button_rect(option, index).center()
    assert view.zone(button) == ("button", index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=button)
    assert app.session.thread_id == ids[0]  # the thread did not open
    [menu] = open_menus(app)
    assert [a.text() for a in menu.actions() if a.text()] == ["Rename", "Thread settings…", "Delete"]
    menu.close()

    view.customContextMenuRequested.emit(header_point(view, 2))
    assert open_menus(app) == []  # a header has no menu
    view.customContextMenuRequested.emit(item_point(view, 3))
    [menu] = open_menus(app)
    rename = next(a for a in menu.actions() if a.text() == "Rename")
    menu.close()
    rename.trigger()
    editor = editor_of(view)
    assert editor is not None and editor.text() == view.model().index(3).data()


def outside_right_edge(window) -> list[str]:
    """Visible widgets (outside scrolled contents) whose right edge passes the window's."""
    late = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisibleTo(window) or widget.isWindow():
            continue
        parent = widget.parentWidget()
        scrolled = False
        while parent is not None and parent is not window:
            if isinstance(parent, QAbstractScrollArea):
                scrolled = True
            parent = parent.parentWidget()
        if scrolled:
            continue
        right = widget.mapTo(window, QPoint(widget.width(), 0)).x()
        if right > window.width():
            late.append(f"{type(widget).__name__}:{widget.objectName()} at {right}")
    return late


def test_the_column_folds_in_a_narrow_window_and_comes_back(make_app, qtbot):
    app = make_app()
    seed(app, THREADS)
    window, sidebar = app.window, app.window.sidebar
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: window.width() == 1100)
    assert not sidebar.collapsed and sidebar.list.isVisible()
    window.resize(850, 700)
    qtbot.waitUntil(lambda: sidebar.collapsed)
    assert sidebar.rail.isVisible() and not sidebar.list.isVisible() and sidebar.width() < 48
    assert not window.sidebar_action.isChecked()
    window.resize(600, 700)
    qtbot.waitUntil(lambda: window.width() == 600)
    assert outside_right_edge(window) == []
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: not sidebar.collapsed)
    assert sidebar.list.isVisible() and sidebar.width() >= 140 and window.sidebar_action.isChecked()

    window.sidebar_action.trigger()  # folded by the person: a wide window leaves it folded
    assert sidebar.collapsed
    window.resize(850, 700)
    qtbot.waitUntil(lambda: window.width() == 850)
    window.resize(1100, 700)
    qtbot.waitUntil(lambda: window.width() == 1100)
    assert sidebar.collapsed
    sidebar.rail_toggle.click()
    assert not sidebar.collapsed and sidebar.list.isVisible()


@pytest.mark.parametrize("dark", [False, True])
def test_rows_paint_with_marks_snippets_and_the_button(make_app, qtbot, dark):
    from app.ui.settings.theme import dark_palette

    app = make_app()
    seed(app, [*THREADS, (2, "A very long title " * 10, "blue " * 200)])
    view = app.window.thread_list
    if dark:
        view.setPalette(dark_palette())
    app.window.search.setText("blue")
    hover(view, item_point(view, 0))
    image = view.viewport().grab().toImage()  # paints the hover button, the marks and the snippet
    assert not image.isNull() and view.model().rowCount() == 2
    title_only, with_snippet = (view.model().index(r) for r in range(2))
    assert with_snippet.data(SnippetRole) is not None and title_only.data(SnippetRole) is None
    heights = [view.delegate.item_rect(view._option(i), i).height() for i in (title_only, with_snippet)]  # noqa: SLF001
    assert heights[1] > heights[0]  # the snippet has a line of its own


def test_an_index_outside_the_list_has_no_menu_or_zone(make_app):
    app = make_app()
    view = app.window.thread_list
    assert view.zone(QPoint(5, 5)) == ("", QModelIndex())
    assert not view.thread_index_at(QPoint(5, 5)).isValid()


def test_an_empty_list_says_how_to_start_and_a_search_that_finds_nothing_says_so(make_app):
    app = make_app()
    view = app.window.thread_list
    assert view.model().rowCount() == 0 and "start one" in view.empty_text()
    app.load()
    app.ask("Apples and pears")
    app.window.search.setText("zebra")
    assert view.model().rowCount() == 0 and view.empty_text() == "No thread matches this search."
    app.window.search.clear()
    assert view.model().rowCount() == 1
