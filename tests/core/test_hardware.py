"""Backend detection on this machine's llama-cpp-python build."""

import llama_cpp

from app.core.hardware import detect, system_ram


def test_detect_lists_the_cpu_and_agrees_with_the_build():
    hw = detect()
    assert any(d.kind == "cpu" for d in hw.devices)
    assert hw.supports_offload == bool(llama_cpp.llama_supports_gpu_offload())
    if not hw.supports_offload:
        assert hw.backend_name == "CPU only"
        assert "CPU" in hw.offload_unavailable_reason
        assert hw.gpu_free_bytes == 0
    else:
        assert hw.gpus and hw.backend_name == hw.gpus[0].backend
        assert 0 < hw.gpus[0].free_bytes <= hw.gpus[0].total_bytes


def test_system_ram_is_read():
    total, available = system_ram()
    assert total > 0 and 0 < available <= total
