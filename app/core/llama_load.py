"""Loading a GGUF's weights and making its context with llama.cpp's low-level API, with the
failures translated into errors people can act on (app/core/load_errors.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import llama_cpp

from app.core import llama_runtime
from app.core.context_rules import default_context
from app.core.engine_contract import LoadParams, default_threads
from app.core.load_errors import translate_context_failure, translate_model_failure

log = logging.getLogger(__name__)

_FLASH_ATTN = {
    None: llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,
    True: llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
    False: llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
}


def cache_type(load: LoadParams) -> str:
    """The context cache's precision a load gets ("auto" reaching here means f16)."""
    return "q8_0" if load.kv_cache_type == "q8_0" else "f16"


def load_model_and_context(path: Path, load: LoadParams):
    """(model, context) for `path`; raises an AppError (out of memory, corrupt file, unknown
    architecture...) with nothing left allocated."""
    mp = llama_cpp.llama_model_default_params()
    mp.n_gpu_layers = 0x7FFFFFFF if load.n_gpu_layers < 0 else load.n_gpu_layers
    mp.use_extra_bufts = load.cpu_repack if load.cpu_repack is not None else not llama_runtime.cpu_has_amx()
    progress_cb = None
    if load.progress is not None:
        report = load.progress
        # Referenced until this function returns: llama.cpp calls it until the load does.
        progress_cb = llama_cpp.llama_progress_callback(lambda p, _ud: bool(report(p)))
        mp.progress_callback = progress_cb
    mark = llama_runtime.log_mark()
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), mp)
    if not model:
        raise translate_model_failure(llama_runtime.lines_since(mark), path, load.n_gpu_layers)
    n_ctx = default_context(llama_cpp.llama_model_n_ctx_train(model), load.n_ctx)
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = cp.n_ubatch = min(load.n_batch, n_ctx)
    cp.n_seq_max = 1
    cp.n_threads = cp.n_threads_batch = load.n_threads or default_threads()
    cp.no_perf = True
    flash_attn = load.flash_attn
    if cache_type(load) == "q8_0":
        cp.type_k = cp.type_v = llama_cpp.GGML_TYPE_Q8_0
        flash_attn = True  # llama.cpp keeps a quantized V cache only with flash attention
    cp.flash_attn_type = _FLASH_ATTN[flash_attn]
    mark = llama_runtime.log_mark()
    ctx = llama_cpp.llama_init_from_model(model, cp)
    if not ctx:
        lines = llama_runtime.lines_since(mark)
        llama_cpp.llama_model_free(model)
        raise translate_context_failure(lines, path, load.n_gpu_layers, n_ctx)
    del progress_cb
    log.info("loaded %s: n_ctx=%d n_gpu_layers=%d threads=%d n_batch=%d cache=%s", path.name, n_ctx,
             load.n_gpu_layers, cp.n_threads, cp.n_batch, cache_type(load))
    return model, ctx
