"""The model bar above the conversation: the model loaded and the two ways to change it,
then where its layers run (backend, the layers slider, the fit readout) beside the
context meter.

The slider runs 0..blocks+1; the last step is the output layer, labelled, because
on a GPU it roughly doubles decode speed. Moving it only updates the estimate; the
model reloads when the person presses Apply, so they see the cost before paying it.

Every label here gives up width before the window has to grow: a GPU's name and the fit
readout ("40/41 layers on GPU: … output layer on the CPU") are long, and the window must
still fit 600 px with the threads column open.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLayout,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.core.fit import AUTO_LAYERS, LoadPlan, gb
from app.ui import style
from app.ui.models.elided_label import ElidedLabel
from app.ui.plain import message_box, plain_label, tip
from app.ui.shortcuts import shortcut_text

SLIDER_MIN, SLIDER_MAX = 80, 240  # px: 41 steps still land under a finger at the least


class OffloadControls(QWidget):
    layers_chosen = Signal(int)  # a count, or AUTO_LAYERS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan: LoadPlan | None = None
        self.backend_label = ElidedLabel(min_chars=8)  # the driver names the GPU
        self.backend_label.setObjectName("backendLabel")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("layersSlider")
        self.slider.setMinimumWidth(SLIDER_MIN)
        self.slider.setMaximumWidth(SLIDER_MAX)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.slider.setPageStep(5)
        self.auto_box = QCheckBox("Auto")
        self.auto_box.setToolTip("Put as many layers on the GPU as the estimate says fit, with a safety margin.")
        self.fit_label = ElidedLabel(min_chars=10)
        self.fit_label.setObjectName("fitLabel")
        # A CPU-only build on a computer with a GPU: how to get a build that uses it, said
        # here until the person closes it, then not again this run.
        self.hint_label = ElidedLabel(min_chars=12)
        self.hint_label.setObjectName("gpuHintLabel")
        self.hint_how = QPushButton("How…")  # the commands, in a box they can be copied from
        self.hint_how.setObjectName("secondaryButton")
        self.hint_how.setToolTip("Show how to get a build of llama.cpp that uses the GPU")
        self.hint_how.clicked.connect(self.show_hint_details)
        self.hint_close = QPushButton("×")
        self.hint_close.setObjectName("secondaryButton")
        self.hint_close.setToolTip("Hide this hint")
        self.hint_close.clicked.connect(self._dismiss_hint)
        self._hint_dismissed = False
        self._hint: str | None = None
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("secondaryButton")
        self.apply_button.setToolTip("Reload the model with this many layers on the GPU.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.backend_label, self.hint_label, self.hint_how, self.hint_close, self.slider, self.auto_box, self.fit_label,
                  self.apply_button):
            layout.addWidget(w)
        layout.addStretch(1)
        self.slider.valueChanged.connect(self._moved)
        self.auto_box.toggled.connect(self._auto_toggled)
        self.apply_button.clicked.connect(self._apply)
        self.set_plan(None)

    # -- state in ----------------------------------------------------------------------

    def set_plan(self, plan: LoadPlan | None) -> None:
        """Show what the load under way (or done) uses; None before any model."""
        self.plan = plan
        self.setHidden(plan is None)  # nothing loaded or loading: nothing to place
        hw = plan.hardware if plan else None
        if hw is None:
            self.backend_label.setText("")
        elif hw.gpus and hw.supports_offload:
            gpu = hw.gpus[0]
            self.backend_label.setText(f"{gpu.backend}: {gpu.description}")
            self.backend_label.setToolTip(tip(f"{gpu.backend}: {gpu.description}\n"
                                              f"{gb(gpu.free_bytes)} free of {gb(gpu.total_bytes)}"))
        else:
            self.backend_label.setText("CPU only")
            self.backend_label.setToolTip(tip(hw.offload_unavailable_reason or ""))
        self._show_hint(hw.gpu_build_hint if hw else None)
        usable = self.adjustable
        for w in (self.slider, self.auto_box):
            w.setEnabled(usable)
            w.setVisible(usable)  # a control that can never move is only noise
        if not usable:
            reason = (hw.offload_unavailable_reason if hw else None) or (
                "The layers could not be read from this model file." if plan else "Load a model first.")
            self.slider.setToolTip(tip(reason))
            # Without a GPU, "CPU only" says it all; with one, say where the layers went.
            self.fit_label.setText("All layers on the CPU" if hw and hw.gpus else "")
            self.fit_label.setToolTip(tip(reason))
            self.apply_button.setVisible(False)
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, plan.layout.layer_count)
        self.slider.setValue(plan.n_gpu_layers)
        self.slider.blockSignals(False)
        self.auto_box.blockSignals(True)
        self.auto_box.setChecked(plan.auto)
        self.auto_box.blockSignals(False)
        self.slider.setToolTip(
            f"Layers on the GPU: {plan.layout.block_count} blocks, then the output layer as the "
            f"last step ({plan.layout.layer_count}).")
        self._moved(plan.n_gpu_layers)

    def _show_hint(self, hint: str | None) -> None:
        shown = bool(hint) and not self._hint_dismissed
        if shown:
            self.hint_label.setText(hint.splitlines()[0])
            self.hint_label.setToolTip(tip(hint))
        self._hint = hint if shown else None
        self.hint_label.setVisible(shown)
        self.hint_how.setVisible(shown)
        self.hint_close.setVisible(shown)

    def show_hint_details(self):
        """The whole hint in a message box whose text can be selected and copied."""
        if not self._hint:
            return None
        text = self._hint.replace("\n", "\n\n")  # one paragraph per way, easier to copy from
        box = message_box(QMessageBox.Icon.Information, "Use the GPU", text, self.window())
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()  # not modal to the app's loop: the window goes on working while it is open
        return box

    def _dismiss_hint(self) -> None:
        self._hint_dismissed = True
        self._show_hint(None)

    @property
    def adjustable(self) -> bool:
        """The layers of the plan shown can be moved between GPU and CPU."""
        plan = self.plan
        hw = plan.hardware if plan else None
        return bool(plan and plan.layout and hw and hw.gpus and hw.supports_offload)

    def forget_unless_adjustable(self) -> None:
        """After a load failed with no model left: keep the slider only where choosing fewer
        layers (then Apply) is a way to try again."""
        if not self.adjustable:
            self.set_plan(None)

    def set_busy(self, busy: bool) -> None:
        """No reload while a reply streams or a load is under way."""
        self.apply_button.setEnabled(not busy)

    # -- reactions ---------------------------------------------------------------------

    def chosen(self) -> int:
        return AUTO_LAYERS if self.auto_box.isChecked() else self.slider.value()

    def _preview(self, value: int) -> LoadPlan:
        """The plan Apply would load with: the context cache's precision and the micro-batch
        follow the layers (a count keeps an "auto" cache at f16; Auto may choose q8_0)."""
        auto = self.auto_box.isChecked()
        if (value, auto) == (self.plan.n_gpu_layers, self.plan.auto):
            return self.plan
        return self.plan.replan(AUTO_LAYERS if auto else value)

    def _moved(self, value: int) -> None:
        if self.plan is None or self.plan.layout is None:
            return
        if self.auto_box.isChecked() and value != self._preview(value).n_gpu_layers:
            self.auto_box.blockSignals(True)
            self.auto_box.setChecked(False)  # moving the slider is a manual choice
            self.auto_box.blockSignals(False)
        preview = self._preview(value)
        est = preview.estimate()
        self.fit_label.setText(est.label(auto_q8=preview.kv_auto_q8))
        why = ("\nThe context cache is kept at q8_0 (half the memory of f16, decoding a little slower deep in "
               "a long context) because at f16 not every layer fits on the GPU. Settings can fix its precision."
               if preview.kv_auto_q8 else "")
        self.fit_label.setToolTip(tip(
            f"GPU: weights {gb(est.gpu_weights)}, context cache {gb(est.gpu_kv)}, compute "
            f"{gb(est.gpu_compute)}, runtime {gb(est.gpu_overhead)}\n"
            f"RAM: {gb(est.ram_bytes)} (weights {gb(est.ram_weights)}, context cache {gb(est.ram_kv)})\n"
            f"Context: {est.n_ctx:,} tokens, cache at {est.kv_type}; prompts read {preview.n_batch:,} tokens "
            f"at a time{why}"))
        self.fit_label.setProperty("warn", not est.fits_gpu)
        self.fit_label.style().unpolish(self.fit_label)
        self.fit_label.style().polish(self.fit_label)
        self._update_apply()

    def _auto_toggled(self, on: bool) -> None:
        if on and self.plan is not None and self.plan.layout is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._preview(AUTO_LAYERS).n_gpu_layers)
            self.slider.blockSignals(False)
            self._moved(self.slider.value())
        self._update_apply()

    def _update_apply(self) -> None:
        plan = self.plan
        changed = plan is not None and (self.slider.value() != plan.n_gpu_layers or self.auto_box.isChecked() != plan.auto)
        self.apply_button.setVisible(changed)

    def _apply(self) -> None:
        self.apply_button.setVisible(False)
        self.layers_chosen.emit(self.chosen())


class ModelBar(QWidget):
    """Two rows above the conversation: the model's name (cut with "…" rather than widen
    the window) with Open model… and Models…; then where its layers run, and `meter` (how
    full the context is) at the right, or on a row of its own when the layers controls
    need the width (a GPU's slider in a narrow window). Empty rows take no room."""

    def __init__(self, meter: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBar")
        self.name_label = ElidedLabel("No model loaded", min_chars=16)  # a file's name, or why it failed
        self.name_label.setObjectName("modelLabel")
        # What answers: this computer or a saved connection (its menu: app/ui/models/engines_front.py).
        self.engine_button = QPushButton("This computer")
        self.engine_button.setObjectName("engineButton")
        self.engine_button.setToolTip("What answers: the model on this computer, or a model server")
        self.engine_button.setAutoDefault(False)
        # Shown whenever prompts and documents leave this computer.
        self.badge = plain_label()  # a host name from outside
        self.badge.setObjectName("remoteBadge")
        self.badge.hide()
        self.open_button = QPushButton("Open model…")
        self.open_button.setToolTip(f"Load a .gguf file from this computer ({shortcut_text('open_model')})")
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("Download Phi-4-reasoning, or choose among the models you have")
        for button in (self.open_button, self.models_button):
            button.setObjectName("secondaryButton")  # quieter than Send, the one primary action
            button.setAutoDefault(False)
        self.meter = meter
        self.offload = OffloadControls()
        self.top = QHBoxLayout()
        self.top.addWidget(self.engine_button)
        self.top.addWidget(self.name_label, 1)
        self.top.addWidget(self.badge)
        self.top.addWidget(self.open_button)
        self.top.addWidget(self.models_button)
        self.below = QHBoxLayout()
        self.below.setSpacing(style.L)
        self.below.addWidget(self.offload, 1)
        self.below.addWidget(meter)
        self.own_row = QHBoxLayout()  # the meter, when it does not fit beside the layers controls
        self.own_row.addStretch(1)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(style.XS)
        rows.addLayout(self.top)
        rows.addLayout(self.below)
        rows.addLayout(self.own_row)
        # The bar's least width is minimumSizeHint's (any one row's), not the sum of the
        # second row's parts: the meter moves down instead.
        rows.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)

    def meter_beside(self) -> bool:
        """The meter shares the layers controls' row (False: it has a row of its own)."""
        return self.below.indexOf(self.meter) >= 0

    def _part_widths(self) -> tuple[int, int]:
        offload = self.offload.minimumSizeHint().width() if self.offload.isVisibleTo(self) else 0
        meter = self.meter.sizeHint().width() if self.meter.isVisibleTo(self) else 0
        return offload, meter

    def _place_meter(self) -> None:
        offload, meter = self._part_widths()
        beside = not offload or not meter or self.width() >= offload + self.below.spacing() + meter
        if beside == self.meter_beside():
            return
        (self.own_row if beside else self.below).removeWidget(self.meter)
        (self.below if beside else self.own_row).addWidget(self.meter)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        offload, meter = self._part_widths()
        width = max(self.top.minimumSize().width(), offload, meter)
        return QSize(width, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_meter()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # a part shown, hidden or grown: still room?
            self._place_meter()
        return super().event(event)
