"""Strings from outside (a model file's metadata, file names, documents, errors) are shown
as the characters they are, never read as HTML: message boxes, labels, tooltips, chips,
the model bar and the status bar.

The hostile strings here name a small red PNG rather than /dev/zero: where Qt did read
them as HTML it would open the file they name, and a test must fail, not hang.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives in QtGui
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QToolTip, QWidget

from app.core.catalog import Catalog
from app.core.fit import AUTO_LAYERS, plan_load
from app.core.hardware import Device, Hardware
from app.core.local_models import ImportedModels
from app.core.scripted_engine import ScriptedEngine
from app.core.store import Store
from app.core.verify import VerifiedStore
from app.settings import Settings
from app.ui.chat.chat_session import ChatSession
from app.ui.dialogs import Dialogs
from app.ui.main_window import MainWindow
from app.ui.models.download_worker import DownloadPlace
from app.ui.models.model_manager import ModelManager
from app.ui.plain import MAX_TIP_CHARS, button_text, message_box, plain_label, tip
from tests import model_files
from tests.core.test_fit import GIB, phi4_layout
from tests.hub_server import LocalHub

RICH = Qt.TextFormat.RichText
PLAIN = Qt.TextFormat.PlainText
AUTO = Qt.TextFormat.AutoText
DEV_ZERO = '<b>bold</b> <img src="file:///dev/zero">'
# A file name cannot hold '/': markup that still reads as HTML, and an image by a relative name.
NAME = "<b>bold<b> <img src=probe.png>"


def shown(text: str, fmt: Qt.TextFormat = AUTO) -> str:
    """The characters Qt draws for `text` in `fmt` (a tooltip is always AutoText: Qt guesses
    from the first line)."""
    if fmt == PLAIN or (fmt == AUTO and not GuiQt.mightBeRichText(text)):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def label_shows(label: QLabel) -> str:
    return shown(label.text(), label.textFormat())


@pytest.fixture
def probe(tmp_path) -> Path:
    """A red square: drawn only where some text was read as HTML."""
    image = QImage(24, 24, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    path = tmp_path / "probe.png"
    assert image.save(str(path))
    return path


@pytest.fixture
def hostile(probe) -> str:
    return f'<b>bold</b> <img src="file://{probe}">'


def red_pixels(widget: QWidget) -> int:
    QApplication.sendPostedEvents()  # layouts settle: each label gets the size its text asks for
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.sizeInBytes() // 4)
    return int(np.count_nonzero(pixels == QColor("red").rgb()))


@contextmanager
def boxes(click: str | None = None):
    """Each message box shown meanwhile, as (text, its format); each is answered at once by
    its `click` button, or else closed as cancelled. A box Qt builds itself (the static
    QMessageBox.warning) is found the same way."""
    seen: list[tuple[str, Qt.TextFormat]] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        seen.append((box.text(), box.textFormat()))
        button = next((b for b in box.buttons() if b.text() == click), None) if click else None
        if button is not None:
            button.click()
        else:
            box.reject()

    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(answer)
    timer.start()
    try:
        yield seen
    finally:
        timer.stop()


# -- the helpers -----------------------------------------------------------------------------


def test_a_tooltip_shows_its_characters_with_lines_and_spaces_kept(qtbot):
    for text in (DEV_ZERO, f"{DEV_ZERO}\nsecond  line\twith &amp; and \"quotes\"", "a\n<b>bold</b>"):
        assert GuiQt.mightBeRichText(tip(text))  # Qt takes it as rich text, which says exactly `text`
        assert shown(tip(text)) == text
    long = "<i>" + "x" * (5 * MAX_TIP_CHARS)
    assert shown(tip(long)) == long[: MAX_TIP_CHARS - 1] + "…"
    assert tip("") == ""  # no tooltip at all


def test_a_real_tooltip_shows_the_characters(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    QToolTip.showText(widget.mapToGlobal(QPoint(2, 2)), tip(DEV_ZERO), widget)
    label = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "qtooltip_label" and w.isVisible())
    assert label_shows(label) == DEV_ZERO
    QToolTip.hideText()
    qtbot.waitUntil(lambda: not shiboken6.isValid(label))  # its hide timer has run and it is gone


def test_message_boxes_and_labels_are_plain(qtbot):
    box = message_box(QMessageBox.Icon.Warning, "Ponder", DEV_ZERO)
    assert box.textFormat() == PLAIN and box.text() == DEV_ZERO
    label = plain_label(DEV_ZERO)
    assert label_shows(label) == DEV_ZERO
    assert button_text("R&D notes") == "R&&D notes"  # a button would take '&' for its shortcut key


# -- models ------------------------------------------------------------------------------------


class UI:
    """The real window over a local Hub, with a catalog whose texts are markup, and
    llama.cpp behind it (the default engine)."""

    def __init__(self, qtbot, tmp_path: Path, hostile: str) -> None:
        self.qtbot = qtbot
        self.hub = LocalHub().__enter__()
        catalog = Catalog({
            "default": {"model": "tiny", "quant": "Q4_K_M"},
            "models": [{"id": "tiny", "name": hostile, "description": f"About: {hostile}",
                        "repos": [{"repo_id": "tester/Tiny-GGUF", "pattern": "Tiny-{quant}.gguf"}],
                        "sizes": {"Q4_K_M": 1_000_000}}],
        })
        place = DownloadPlace(VerifiedStore(tmp_path / "verified.json"), cache_dir=tmp_path / "hf-cache",
                              endpoint=self.hub.url)
        self.manager = ModelManager(catalog, place, ImportedModels(tmp_path / "models.json"),
                                    lmstudio=[tmp_path / "lmstudio"])
        self.store = Store(tmp_path / "chat.db")
        self.session = ChatSession.create(self.store, Settings())
        self.models = self.session.models
        self.window = MainWindow(self.session, manager=self.manager)
        self.window.show()

    def settle(self, state: str, act) -> None:
        with self.qtbot.waitSignal(self.models.model_changed, timeout=30000,
                                   check_params_cb=lambda s, t: s in ("ready", "failed")) as blocker:
            act()
        assert blocker.args[0] == state, blocker.args

    def close(self) -> None:
        threads = list(self.manager._threads)
        self.window.close()
        self.store.close()
        self.hub.__exit__(None, None, None)
        assert all(t.isFinished() for t in threads)


@pytest.fixture
def ui(qtbot, tmp_path, hostile):
    made = UI(qtbot, tmp_path, hostile)
    yield made
    made.close()


def test_a_model_file_with_markup_in_its_metadata_is_refused_in_plain_text(ui, hostile, tmp_path):
    path = model_files.write_raw_gguf(tmp_path / "odd.gguf", [
        model_files.kv_string("general.architecture", hostile),
        model_files.kv_string("general.name", hostile),
        model_files.kv_string("general.description", hostile),
    ])
    with boxes() as seen:
        assert not ui.window.import_model(path)
    ((text, fmt),) = seen
    assert fmt == PLAIN and 'architecture \'<b>bold</b> <img src="file:///' in shown(text, fmt)  # cut short after

    ui.settle("failed", lambda: ui.window.choose_model(path))  # llama.cpp refuses the architecture
    banner = ui.window.banner  # the failure, above the conversation
    assert hostile in banner.text()
    assert red_pixels(banner) == 0  # the banner draws the characters, not the image
    assert ui.window.model_label.textFormat() == PLAIN
    panel = ui.window.models.first_run  # no model ever loaded: the way to get one
    assert panel.isVisible() and panel.status.textFormat() == PLAIN and panel.text.textFormat() == PLAIN


def test_a_model_file_named_with_markup_in_the_question_the_model_bar_and_the_models_dialog(
        ui, tiny_phi3, hostile, tmp_path):
    path = tmp_path / f"{NAME}.gguf"
    shutil.copyfile(tiny_phi3, path)
    with boxes(click="Load") as seen:
        ui.settle("ready", lambda: ui.window.import_model(path))
    ((text, fmt),) = seen
    assert fmt == PLAIN and shown(text, fmt).startswith(f"{NAME}.gguf (phi3) was added")
    assert label_shows(ui.window.model_label) == f"Model: {NAME}.gguf"

    dialog = ui.window.open_models()
    labels = [label_shows(w) for w in dialog.findChildren(QLabel)]
    assert f"{hostile}\nAbout: {hostile}" in labels  # the catalog's name and description
    found = next(w for w in dialog.local_box.findChildren(QLabel) if NAME in label_shows(w))
    assert label_shows(found) == f"{NAME}.gguf\n{tmp_path}"
    assert shown(found.toolTip()) == str(path)
    assert red_pixels(dialog) == 0


def test_a_gpu_named_with_markup_is_shown_plain(qtbot, hostile):
    from app.ui.models.model_bar import OffloadControls

    bar = OffloadControls()
    qtbot.addWidget(bar)
    bar.show()
    card = Device("CUDA0", hostile, "gpu", 8 * GIB, 8 * GIB)  # as the driver names it
    bar.set_plan(plan_load(phi4_layout(), Hardware((card,), 64 * GIB, 48 * GIB, True), 4096, AUTO_LAYERS))
    assert label_shows(bar.backend_label) == f"CUDA: {hostile}"
    assert red_pixels(bar) == 0


# -- documents, errors, threads ------------------------------------------------------------------


def test_a_document_named_with_markup_is_a_plain_chip(make_app, qtbot, tmp_path):
    app = make_app()
    app.load()
    good = tmp_path / f"{NAME}.txt"
    good.write_text("Plain notes.\n", encoding="utf-8")
    bad = tmp_path / f"{NAME}.pdf"
    bad.write_bytes(b"%PDF-1.7 not really")
    app.window.documents.add_paths([str(good), str(bad)])
    qtbot.waitUntil(lambda: [a.state for a in app.window.documents.pending] == ["ready", "failed"], timeout=20000)
    chips = app.window.attachment_tray.row.chips
    for chip in chips:
        assert label_shows(chip.name_label) == chip.attachment.name
        assert chip.detail_label.textFormat() == PLAIN
        assert shown(chip.toolTip()).startswith(f"{chip.attachment.name}\n")
    assert [c.attachment.name for c in chips] == [good.name, bad.name]
    assert red_pixels(app.window.attachment_tray) == 0


class FailingEngine(ScriptedEngine):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def stream(self, *args, **kwargs):
        raise RuntimeError(self.message)


def test_errors_with_markup_are_shown_plain_in_the_reply_and_in_error_boxes(make_app, qtbot, hostile,
                                                                             tmp_path, monkeypatch):
    app = make_app()
    app.load()
    app.models._worker._engine = FailingEngine(hostile)
    app.ask("Why?")
    reply = app.store.path(app.session.thread_id)[-1]
    widget = app.window.chat.widgets[reply.id]
    assert reply.state == "error" and hostile in label_shows(widget.error_label)

    where = tmp_path / NAME / "missing folder" / "thread.md"
    monkeypatch.setattr(Dialogs, "save_markdown", lambda parent, suggested: str(where))
    with boxes() as seen:
        app.window.export_thread()
    ((text, fmt),) = seen
    assert fmt == PLAIN and shown(text, fmt).startswith(f"Could not write {where}:")


def test_a_thread_title_with_markup_is_a_plain_tooltip(make_app):
    app = make_app()
    app.load()
    app.ask("First")
    app.session.rename_thread(app.session.thread_id, DEV_ZERO)
    model = app.session.thread_model
    index = model.index(model.row_of(app.session.thread_id))
    assert index.data() == DEV_ZERO
    assert shown(index.data(Qt.ItemDataRole.ToolTipRole)) == DEV_ZERO
