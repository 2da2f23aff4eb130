"""The model bar's offload controls: backend, the layers slider, and the fit readout.

The slider runs 0..blocks+1; the last step is the output layer, labelled, because
on a GPU it roughly doubles decode speed. Moving it only updates the estimate; the
model reloads when the person presses Apply, so they see the cost before paying it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from app.core.fit import AUTO_LAYERS, LoadPlan, auto_layers, gb
from app.ui.plain import plain_label, tip


class OffloadControls(QWidget):
    layers_chosen = Signal(int)  # a count, or AUTO_LAYERS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan: LoadPlan | None = None
        self.backend_label = plain_label()  # the driver names the GPU
        self.backend_label.setObjectName("backendLabel")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("layersSlider")
        self.slider.setMinimumWidth(140)
        self.slider.setPageStep(5)
        self.auto_box = QCheckBox("Auto")
        self.auto_box.setToolTip("Put as many layers on the GPU as the estimate says fit, with a safety margin.")
        self.fit_label = QLabel("")
        self.fit_label.setObjectName("fitLabel")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Reload the model with this many layers on the GPU.")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.backend_label, self.slider, self.auto_box, self.fit_label, self.apply_button):
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
        hw = plan.hardware if plan else None
        if hw is None:
            self.backend_label.setText("")
        elif hw.gpus and hw.supports_offload:
            gpu = hw.gpus[0]
            self.backend_label.setText(f"{gpu.backend}: {gpu.description}")
            self.backend_label.setToolTip(f"{gb(gpu.free_bytes)} free of {gb(gpu.total_bytes)}")
        else:
            self.backend_label.setText("CPU only")
            self.backend_label.setToolTip(tip(hw.offload_unavailable_reason or ""))
        usable = bool(plan and plan.layout and hw and hw.gpus and hw.supports_offload)
        for w in (self.slider, self.auto_box):
            w.setEnabled(usable)
        if not usable:
            reason = (hw.offload_unavailable_reason if hw else None) or (
                "The layers could not be read from this model file." if plan else "Load a model first.")
            self.slider.setToolTip(tip(reason))
            self.fit_label.setText("All layers on the CPU" if plan else "")
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

    def set_busy(self, busy: bool) -> None:
        """No reload while a reply streams or a load is under way."""
        self.apply_button.setEnabled(not busy)

    # -- reactions ---------------------------------------------------------------------

    def chosen(self) -> int:
        return AUTO_LAYERS if self.auto_box.isChecked() else self.slider.value()

    def _moved(self, value: int) -> None:
        est = self.plan.estimate(value) if self.plan else None
        if est is None:
            return
        self.fit_label.setText(est.label())
        self.fit_label.setToolTip(
            f"GPU: weights {gb(est.gpu_weights)}, context cache {gb(est.gpu_kv)}, compute "
            f"{gb(est.gpu_compute)}, runtime {gb(est.gpu_overhead)}\n"
            f"RAM: {gb(est.ram_bytes)} (weights {gb(est.ram_weights)}, context cache {gb(est.ram_kv)})\n"
            f"Context: {est.n_ctx:,} tokens")
        self.fit_label.setProperty("warn", not est.fits_gpu)
        self.fit_label.style().unpolish(self.fit_label)
        self.fit_label.style().polish(self.fit_label)
        if self.auto_box.isChecked() and value != self.plan.n_gpu_layers:
            self.auto_box.blockSignals(True)
            self.auto_box.setChecked(False)  # moving the slider is a manual choice
            self.auto_box.blockSignals(False)
        self._update_apply()

    def _auto_toggled(self, on: bool) -> None:
        if on and self.plan is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(auto_layers(self.plan.layout, self.plan.n_ctx, self.plan.hardware))
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
