"""The model bar gives up width before the window has to grow: a long model name ends in
"…" (and never vanishes), a GPU's long fit readout is cut, and the context meter moves to
a row of its own, so the threads column opens in a 600 px window without widening it.
Controls that cannot do anything (no model, no GPU) are not shown."""

from dataclasses import replace

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget

from app.core.fit import AUTO_LAYERS, plan_load
from tests.core.test_fit import CPU_ONLY, GIB, gpu, phi4_layout

LONG_NAME = "Phi-4-reasoning-plus-UD-Q4_K_XL-with-a-long-suffix.gguf"


def _gpu_plan(description: str = "NVIDIA GeForce RTX 4070 Laptop GPU"):
    hw = gpu(8 * GIB)
    hw = replace(hw, devices=(replace(hw.devices[0], description=description),))
    return plan_load(phi4_layout(), hw, 4096, AUTO_LAYERS)


def _outside_right_edge(window) -> list[str]:
    late = []
    for widget in window.findChildren(QWidget):
        if widget.isVisible() and widget.width() > 0 and not widget.isWindow():
            right = widget.mapTo(window, QPoint(widget.width(), 0)).x()
            if right > window.width():
                late.append(f"{type(widget).__name__}:{widget.objectName()} at {right}")
    return late


def test_elided_label_keeps_its_whole_text_and_its_first_characters(qtbot):
    from app.ui.models.elided_label import ElidedLabel

    label = ElidedLabel(f"Model: {LONG_NAME}", min_chars=16)
    qtbot.addWidget(label)
    assert label.textFormat() == Qt.TextFormat.PlainText
    metrics = label.fontMetrics()
    assert label.minimumSizeHint().width() < metrics.horizontalAdvance(label.text()) / 2
    assert label.minimumSizeHint().width() >= metrics.horizontalAdvance("Model: Phi-4-rea")
    label.resize(label.minimumSizeHint().width(), 20)
    shown = label.shown_text()
    assert label.elided() and shown.endswith("…") and shown.startswith("Model: Phi")
    assert label.text() == f"Model: {LONG_NAME}"  # what tests and callers read is the whole name
    label.resize(metrics.horizontalAdvance(label.text()) + 10, 20)
    assert not label.elided() and label.shown_text() == label.text()


def test_a_long_model_name_ends_in_an_ellipsis_with_the_threads_column_open(make_app, qtbot):
    app = make_app()
    app.load()
    window = app.window
    app.models.model_changed.emit("ready", LONG_NAME)
    window.resize(800, 700)
    qtbot.waitUntil(lambda: window.width() == 800)
    window.sidebar.set_collapsed(False)  # opened by hand below the width that folds it
    qtbot.waitUntil(lambda: window.sidebar.list.isVisible())
    label = window.model_label
    assert label.text() == f"Model: {LONG_NAME}"
    qtbot.waitUntil(lambda: label.elided())
    assert label.shown_text().startswith("Model: Phi-4") and label.shown_text().endswith("…")
    assert window.width() == 800 and _outside_right_edge(window) == []


def test_threads_open_in_a_600_px_window_with_a_gpu_bar_without_widening_it(make_app, qtbot):
    app = make_app()
    app.load()
    window = app.window
    app.models.model_changed.emit("ready", LONG_NAME)
    bar = window.offload
    bar.set_plan(_gpu_plan())
    bar.slider.setValue(bar.slider.maximum() - 1)  # "…; output layer on the CPU (much slower)", and Apply
    assert bar.apply_button.isVisibleTo(bar) and "output layer" in bar.fit_label.text()
    window.resize(600, 700)
    qtbot.waitUntil(lambda: window.width() == 600)
    window.sidebar.set_collapsed(False)
    qtbot.waitUntil(lambda: window.sidebar.list.isVisible())
    assert window.minimumSizeHint().width() <= 600
    window.resize(600, 700)
    qtbot.waitUntil(lambda: not window.model_bar.meter_beside())  # the meter took a row of its own
    assert window.width() == 600 and _outside_right_edge(window) == []
    assert window.model_label.width() > 0 and window.model_label.shown_text().startswith("Model: Phi")
    window.sidebar.set_collapsed(True)
    window.resize(1200, 700)
    qtbot.waitUntil(lambda: window.model_bar.meter_beside())  # room again: back beside the slider


def test_no_slider_before_a_model_nor_on_a_machine_without_a_gpu(make_app, qtbot):
    app = make_app()
    bar = app.window.offload
    assert not bar.isVisibleTo(app.window)  # the first run: nothing to place anywhere
    bar.set_plan(plan_load(phi4_layout(), CPU_ONLY, 4096, AUTO_LAYERS))
    assert bar.isVisibleTo(app.window) and bar.backend_label.text() == "CPU only"
    assert not bar.slider.isVisibleTo(bar) and not bar.auto_box.isVisibleTo(bar)
    assert bar.fit_label.text() == ""  # "CPU only" says it all
    bar.set_plan(_gpu_plan())
    assert bar.slider.isVisibleTo(bar) and bar.slider.isEnabled() and bar.auto_box.isVisibleTo(bar)
    assert "NVIDIA GeForce RTX 4070 Laptop GPU" in bar.backend_label.toolTip()  # when the name is cut


def test_a_failed_load_with_nothing_loaded_clears_the_bar_unless_fewer_layers_could_help(make_app, qtbot):
    app = make_app()
    bar = app.window.offload
    bar.set_plan(plan_load(phi4_layout(), CPU_ONLY, 4096, AUTO_LAYERS))
    app.models.model_changed.emit("failed", "not a model")
    assert not bar.isVisibleTo(app.window) and bar.plan is None
    bar.set_plan(_gpu_plan())
    app.models.model_changed.emit("failed", "out of memory")
    assert bar.isVisibleTo(app.window) and bar.slider.isEnabled()  # fewer layers, then Apply, is a retry
