"""How `ask` and `serve` load a local model: --kv-cache, and the layers, cache precision and
prompt micro-batch taken from the same load plan as the window's."""

from __future__ import annotations

import pytest

from app import cli
from app.core import gguf_info, hardware
from app.core.fit import auto_layers
from tests.core.test_fit import CPU_ONLY, GIB, gpu, phi4_layout


@pytest.mark.parametrize("command", [["ask", "hi"], ["serve"]])
def test_kv_cache_option(command, capsys):
    parser = cli.build_parser()
    assert parser.parse_args([*command, "--model", "m.gguf"]).kv_cache is None  # the window's setting
    for value in ("auto", "f16", "q8_0"):
        assert parser.parse_args([*command, "--kv-cache", value]).kv_cache == value
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([*command, "--kv-cache", "q4_0"])
    assert exit_.value.code == 2 and "--kv-cache" in capsys.readouterr().err


@pytest.fixture
def machine(monkeypatch):
    """Phi-4's layout on a machine the test chooses (a 12 GiB GPU unless changed)."""
    layout = phi4_layout()
    state = {"hw": gpu(12 * GIB)}
    monkeypatch.setattr(gguf_info, "read_layout", lambda path: layout)
    monkeypatch.setattr(hardware, "detect", lambda: state["hw"])
    return layout, state


def parsed(*options: str):
    return cli.build_parser().parse_args(["ask", "--model", "phi4.gguf", *options, "hi"])


def test_auto_layers_with_an_auto_cache_take_q8_0_when_that_fits_every_layer(machine, capsys):
    args = parsed("--n-gpu-layers", "auto", "--ctx", "16384")
    load = cli.load_params(args.model, args, "auto")
    assert (load.n_gpu_layers, load.kv_cache_type, load.n_ctx) == (41, "q8_0", 16384)
    assert load.n_batch in (512, 1024, 2048)
    assert capsys.readouterr().err.strip().endswith("context cache at q8_0 so every layer fits")


def test_the_option_wins_over_the_setting(machine, capsys):
    layout, state = machine
    args = parsed("--n-gpu-layers", "auto", "--ctx", "16384", "--kv-cache", "f16")
    load = cli.load_params(args.model, args, "auto")
    assert (load.n_gpu_layers, load.kv_cache_type, load.n_batch) == (auto_layers(layout, 16384, state["hw"]), "f16", 512)
    assert "q8_0" not in capsys.readouterr().err
    args = parsed("--n-gpu-layers", "auto", "--ctx", "16384")
    assert cli.load_params(args.model, args, "f16").kv_cache_type == "f16"  # the window's setting


def test_a_layers_count_keeps_an_auto_cache_at_f16_and_gets_the_micro_batch(machine, capsys):
    _, state = machine
    state["hw"] = gpu(80 * GIB)
    args = parsed("--n-gpu-layers", "30", "--ctx", "4096")
    load = cli.load_params(args.model, args, None)
    assert (load.n_gpu_layers, load.kv_cache_type, load.n_batch) == (30, "f16", 2048)
    assert capsys.readouterr().err == ""  # nothing was chosen for the person: nothing to say
    args = parsed("--n-gpu-layers", "-1", "--kv-cache", "q8_0")
    assert cli.load_params(args.model, args, None).kv_cache_type == "q8_0"


def test_on_the_cpu_the_micro_batch_is_512(machine, capsys):
    _, state = machine
    state["hw"] = CPU_ONLY
    args = parsed("--n-gpu-layers", "auto", "--ctx", "16384")
    load = cli.load_params(args.model, args, "auto")
    assert (load.n_gpu_layers, load.kv_cache_type, load.n_batch) == (0, "f16", 512)
    assert capsys.readouterr().err.startswith("0/41 layers on GPU")
