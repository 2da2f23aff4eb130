"""Turning llama.cpp's load failures (a NULL and some log lines) into AppErrors."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.errors import AppError, CorruptModel, ModelLoadError, OutOfMemory, UnsupportedArchitecture

_UNKNOWN_ARCH = re.compile(r"unknown model architecture: '([^']*)'")
_OOM = re.compile(
    r"out of memory|unable to allocate|failed to allocate|cudaMalloc failed|"
    r"failed to create .*buffer|insufficient memory|not enough memory|ErrorOutOfDeviceMemory",
    re.IGNORECASE,
)
_CORRUPT = re.compile(
    r"not within the file bounds|corrupted or incomplete|failed to read|"
    r"unexpectedly reached end of file|invalid magic|tensor .* has wrong shape|"
    r"wrong number of tensors|missing tensor|invalid .* type",
    re.IGNORECASE,
)


def translate_model_failure(lines: list[str], path: Path, n_gpu_layers: int) -> AppError:
    """The error to show for a model that llama.cpp refused to load."""
    text = "\n".join(lines)
    name = path.name
    if m := _UNKNOWN_ARCH.search(text):
        return UnsupportedArchitecture(
            f"{name} uses the model architecture '{m.group(1)}', which this version of "
            f"llama.cpp cannot run.",
            architecture=m.group(1),
        )
    if _OOM.search(text):
        return OutOfMemory(_oom_message(name, n_gpu_layers, None), n_gpu_layers=n_gpu_layers)
    if _CORRUPT.search(text):
        return CorruptModel(
            f"{name} is damaged or incomplete (perhaps an interrupted download). Download it again.",
            log=_tail(lines),
        )
    return ModelLoadError(f"llama.cpp could not load {name}. {_last_error(lines)}".strip(), log=_tail(lines))


def translate_context_failure(lines: list[str], path: Path, n_gpu_layers: int, n_ctx: int) -> AppError:
    """The error for a model that loaded but whose context (KV cache) could not be made."""
    return OutOfMemory(_oom_message(path.name, n_gpu_layers, n_ctx), n_gpu_layers=n_gpu_layers, n_ctx=n_ctx, log=_tail(lines))


def _oom_message(name: str, n_gpu_layers: int, n_ctx: int | None) -> str:
    what = f"{name} with a {n_ctx:,}-token context" if n_ctx else name
    where = "GPU and system memory" if n_gpu_layers else "memory"
    advice = "Try a smaller context size"
    if n_gpu_layers:
        advice += " or fewer layers on the GPU"
    return f"Not enough {where} to load {what}. {advice}, or a smaller quantization."


def _last_error(lines: list[str]) -> str:
    for line in reversed(lines):
        if "error" in line.lower() or "failed" in line.lower():
            return line.strip()
    return ""


def _tail(lines: list[str]) -> str:
    return "\n".join(lines[-20:])
