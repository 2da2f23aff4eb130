"""The llama.cpp sampler chain for one reply."""

from __future__ import annotations

import llama_cpp

from app.core.errors import AppError
from app.core.types import GenParams


def build_sampler(vocab, params: GenParams):
    """A sampler chain for `params`; the caller frees it with llama_sampler_free."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    add = lambda s: llama_cpp.llama_sampler_chain_add(chain, s)  # noqa: E731
    if params.grammar:
        grammar = llama_cpp.llama_sampler_init_grammar(vocab, params.grammar.encode("utf-8"), b"root")
        if not grammar:
            llama_cpp.llama_sampler_free(chain)
            raise AppError("The output grammar could not be parsed (GBNF with a 'root' rule is expected).")
        add(grammar)
    if params.ignore_eos:
        add(_ban_end_of_generation(vocab))
    if params.temperature <= 0:
        add(llama_cpp.llama_sampler_init_greedy())
        return chain
    # top-k first: it cuts a 100k vocabulary down before the sorts the others need.
    if params.top_k > 0:
        add(llama_cpp.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0.0:
        add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
    add(llama_cpp.llama_sampler_init_temp(params.temperature))
    seed = llama_cpp.LLAMA_DEFAULT_SEED if params.seed is None else params.seed & 0xFFFFFFFF
    add(llama_cpp.llama_sampler_init_dist(seed))
    return chain


def _ban_end_of_generation(vocab):
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]
    biases = (llama_cpp.llama_logit_bias * len(eog))(*[llama_cpp.llama_logit_bias(t, float("-inf")) for t in eog])
    return llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(eog), biases)
