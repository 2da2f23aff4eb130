"""The layers slider: live estimate, Apply reloads on the worker with the chosen count,
a CPU-only build disables it with the reason, and running out of memory offers a retry."""

import pytest
from PySide6.QtCore import Qt

from app.core import hardware
from app.core.errors import OutOfMemory
from app.core.fit import AUTO_LAYERS, auto_layers, plan_load
from tests.core.test_fit import CPU_ONLY, GIB, gpu, phi4_layout


def test_slider_shows_the_estimate_and_the_output_step(qtbot):
    from app.ui.models.model_bar import OffloadControls

    bar = OffloadControls()
    qtbot.addWidget(bar)
    hw = gpu(int(11.6e9))
    bar.set_plan(plan_load(phi4_layout(), hw, 4096, AUTO_LAYERS))
    assert bar.slider.isEnabled() and bar.auto_box.isChecked()
    assert (bar.slider.minimum(), bar.slider.maximum()) == (0, 41)
    assert bar.backend_label.text() == "CUDA: Test GPU"
    bar.slider.setValue(38)
    assert bar.fit_label.text().startswith("38/41 layers on GPU:") and "11.6 GB free" in bar.fit_label.text()
    assert not bar.auto_box.isChecked() and bar.apply_button.isVisibleTo(bar)
    bar.slider.setValue(40)
    assert "output layer on the CPU" in bar.fit_label.text()
    with qtbot.waitSignal(bar.layers_chosen) as sig:
        bar.apply_button.click()
    assert sig.args == [40]


def test_cpu_only_build_disables_the_slider_with_the_reason(qtbot):
    from app.ui.models.model_bar import OffloadControls

    bar = OffloadControls()
    qtbot.addWidget(bar)
    bar.set_plan(plan_load(phi4_layout(), CPU_ONLY, 4096, AUTO_LAYERS))
    assert not bar.slider.isEnabled() and not bar.auto_box.isEnabled()
    assert bar.backend_label.text() == "CPU only"
    assert "CPU only" in bar.slider.toolTip()
    assert not bar.hint_label.isVisibleTo(bar)  # no GPU in this computer: nothing to get


def test_cpu_only_build_on_a_computer_with_a_gpu_says_once_how_to_get_a_gpu_build(qtbot):
    import dataclasses

    from app.core.system_gpus import SystemGpu
    from app.ui.models.model_bar import OffloadControls

    bar = OffloadControls()
    qtbot.addWidget(bar)
    with_gpu = dataclasses.replace(CPU_ONLY, system_gpus=(SystemGpu("NVIDIA", "/dev/nvidia0"),))
    bar.set_plan(plan_load(phi4_layout(), with_gpu, 4096, AUTO_LAYERS))
    assert bar.backend_label.text() == "CPU only" and not bar.slider.isVisibleTo(bar)
    assert bar.hint_label.isVisibleTo(bar)
    assert bar.hint_label.text().startswith("This computer has an NVIDIA GPU")
    assert "-DGGML_CUDA=on" in bar.hint_label.toolTip() and "-DGGML_VULKAN=on" in bar.hint_label.toolTip()
    assert bar.hint_how.isVisibleTo(bar)
    box = bar.show_hint_details()  # the commands, where they can be selected and copied
    assert "-DGGML_CUDA=on" in box.text() and "-DGGML_VULKAN=on" in box.text()
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    box.close()
    bar.hint_close.click()
    assert not bar.hint_label.isVisibleTo(bar)
    bar.set_plan(plan_load(phi4_layout(), with_gpu, 4096, AUTO_LAYERS))  # the next load: said once already
    assert not bar.hint_label.isVisibleTo(bar) and not bar.hint_close.isVisibleTo(bar)
    assert not bar.hint_how.isVisibleTo(bar)


def test_a_gpu_build_shows_no_hint(qtbot):
    import dataclasses

    from app.core.system_gpus import SystemGpu
    from app.ui.models.model_bar import OffloadControls

    bar = OffloadControls()
    qtbot.addWidget(bar)
    hw = dataclasses.replace(gpu(8 * GIB), build_backends=("Vulkan",))
    bar.set_plan(plan_load(phi4_layout(), hw, 4096, AUTO_LAYERS))
    assert bar.slider.isVisibleTo(bar) and not bar.hint_label.isVisibleTo(bar)
    # a Vulkan build with no device: the CPU, the reason, and still no hint to get a GPU build
    no_device = dataclasses.replace(CPU_ONLY, build_backends=("Vulkan",),
                                    system_gpus=(SystemGpu("AMD", "/sys/class/drm/card0"),))
    bar.set_plan(plan_load(phi4_layout(), no_device, 4096, AUTO_LAYERS))
    assert bar.backend_label.text() == "CPU only" and not bar.hint_label.isVisibleTo(bar)
    assert "uses Vulkan, but no Vulkan GPU was found" in bar.backend_label.toolTip()


@pytest.fixture
def gpu_machine(monkeypatch):
    hw = gpu(8 * GIB)
    monkeypatch.setattr(hardware, "detect", lambda: hw)
    return hw


def _load(app, path):
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s in ("ready", "failed"),
                              timeout=30000):
        app.models.load_model(str(path))


def test_apply_reloads_with_the_chosen_layers(make_app, tiny_phi3, gpu_machine):
    app = make_app()
    loads = []
    factory = app._factory
    app.models._worker._factory = lambda path, load: (loads.append(load.n_gpu_layers), factory(path, load))[1]
    _load(app, tiny_phi3)
    plan = app.models.load_plan
    assert plan.auto and loads == [plan.layout.layer_count]  # a tiny model fits whole
    bar = app.window.offload
    assert bar.slider.maximum() == plan.layout.layer_count and bar.slider.isEnabled()
    bar.slider.setValue(2)
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready", timeout=30000):
        bar.apply_button.click()
    assert loads[-1] == 2 and app.settings.value.n_gpu_layers == 2
    assert app.models.load_plan.n_gpu_layers == 2 and bar.slider.value() == 2


def test_out_of_memory_names_the_cost_and_offers_a_retry(make_app, monkeypatch, gpu_machine):
    app = make_app()
    layout = phi4_layout()
    monkeypatch.setattr("app.ui.models.generation_worker.read_layout", lambda path: layout)
    fits = auto_layers(layout, 4096, gpu_machine)
    loads = []
    factory = app._factory

    def factory_that_runs_out(path, load):
        loads.append(load.n_gpu_layers)
        if load.n_gpu_layers > fits:
            raise OutOfMemory("Not enough GPU and system memory to load phi4.gguf.")
        return factory(path, load)

    app.models._worker._factory = factory_that_runs_out
    app.settings.value = app.settings.value.with_changes(n_gpu_layers=41, context_size=4096)
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "failed", timeout=30000):
        app.models.load_model("/models/phi4.gguf")
    banner = app.window.banner  # in the window, with the retry as a button (not a question box)
    assert "41 of 41 layers" in banner.text() and "GB free" in banner.text()
    retry = f"Retry with {fits} layers on the GPU"
    assert banner.action_labels() == [retry, "Choose another model…", "Open Models…"]
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready", timeout=30000):
        banner.button(retry).click()
    assert loads == [41, fits] and banner.isHidden()
    assert app.settings.value.n_gpu_layers == fits  # the next start loads what worked


def test_real_load_shows_progress_then_the_plan(make_app, smollm2):
    from app.ui.models.generation_worker import llama_factory

    app = make_app()
    app.models._worker._factory = llama_factory
    states = []
    app.models.model_changed.connect(lambda state, text: states.append((state, text)))
    _load(app, smollm2)
    loading = [text for state, text in states if state == "loading"]
    percents = [int(t.rsplit(" ", 1)[1].rstrip("%")) for t in loading if t.endswith("%")]
    assert percents and percents == sorted(percents) and percents[-1] == 100
    assert states[-1][0] == "ready"
    plan = app.models.load_plan
    assert plan.layout.block_count == 30 and app.window.offload.backend_label.text()


@pytest.fixture
def phi4_on_12_gib(monkeypatch):
    """Phi-4's layout on a 12 GiB GPU: at a 16k context every layer fits only with a q8_0 cache."""
    layout = phi4_layout()
    hw = gpu(12 * GIB)
    monkeypatch.setattr("app.ui.models.generation_worker.read_layout", lambda path: layout)
    monkeypatch.setattr(hardware, "detect", lambda: hw)
    return layout, hw


def test_loads_get_the_plans_micro_batch_and_cache_and_the_cache_setting_reloads(make_app, phi4_on_12_gib):
    layout, hw = phi4_on_12_gib
    app = make_app()
    loads = []
    factory = app._factory
    app.models._worker._factory = lambda path, load: (loads.append(load), factory(path, load))[1]
    app.settings.value = app.settings.value.with_changes(n_gpu_layers=AUTO_LAYERS, context_size=16384, kv_cache="auto")
    _load(app, "/models/phi4.gguf")
    plan = app.models.load_plan
    assert (plan.n_gpu_layers, plan.kv_cache_type, plan.kv_auto_q8) == (41, "q8_0", True)
    assert [(l.n_gpu_layers, l.kv_cache_type, l.n_batch) for l in loads] == [(41, "q8_0", plan.n_batch)]
    assert plan.n_batch in (512, 1024, 2048)
    bar = app.window.offload
    assert bar.fit_label.text().endswith("; context cache at q8_0 so every layer fits")
    assert "because at f16 not every layer fits" in bar.fit_label.toolTip()

    # Settings > context cache f16: the model reloads with it, fewer layers, the smallest micro-batch
    with app.qtbot.waitSignal(app.models.model_changed, check_params_cb=lambda s, t: s == "ready", timeout=30000):
        app.settings.update(kv_cache="f16")
    f16_layers = auto_layers(layout, 16384, hw)
    assert [(l.n_gpu_layers, l.kv_cache_type, l.n_batch) for l in loads[1:]] == [(f16_layers, "f16", 512)]
    assert "q8_0" not in bar.fit_label.text() and app.settings.value.kv_cache == "f16"


def test_moving_the_slider_previews_what_apply_would_load(qtbot, phi4_on_12_gib):
    from app.ui.models.model_bar import OffloadControls

    layout, hw = phi4_on_12_gib
    bar = OffloadControls()
    qtbot.addWidget(bar)
    bar.set_plan(plan_load(layout, hw, 16384, AUTO_LAYERS, "auto"))
    assert bar.auto_box.isChecked() and bar.slider.value() == 41 and "q8_0" in bar.fit_label.text()
    bar.slider.setValue(30)  # a count: an "auto" cache stays at f16
    assert not bar.auto_box.isChecked() and "q8_0" not in bar.fit_label.text()
    assert bar.fit_label.text().startswith("30/41 layers on GPU")
    bar.auto_box.setChecked(True)  # back to Auto: q8_0 again, and the box stays checked
    assert bar.auto_box.isChecked() and bar.slider.value() == 41
    assert bar.fit_label.text().endswith("so every layer fits") and not bar.apply_button.isVisibleTo(bar)

    manual = plan_load(layout, hw, 16384, 20, "auto")  # loaded with a count: Auto offers every layer
    bar.set_plan(manual)
    bar.auto_box.setChecked(True)
    assert bar.auto_box.isChecked() and bar.slider.value() == 41 and bar.apply_button.isVisibleTo(bar)
    with qtbot.waitSignal(bar.layers_chosen) as sig:
        bar.apply_button.click()
    assert sig.args == [AUTO_LAYERS]
