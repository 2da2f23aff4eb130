"""Decode speed with drafts from the conversation's own text against without them.

Three replies, each with the same model, prompt, sampling settings and seed both ways:
(a) an answer that quotes an attached document, (b) a reply to the Phi-4-reasoning
system prompt (thinking, then an answer), (c) a story with nothing to copy. Runs
alternate without/with drafts so drift of the machine's speed hits both alike. Prints
JSON: tokens/s both ways and their ratio, the acceptance rate, the engine's own
speed-up estimate, and the cost of verifying 1, 2, 4 and 8 tokens in one batch here.

With --project, each reply is also run twice more: once with the engine's rule deciding
as if batches cost what they cost on a GPU, once with the largest draft every step; for
both, the time the steps would take on the GPU is projected from the batches used: each
at its steady GPU cost (a Phi-4-shaped Q4_K_M on an H100/H200, 41 of 41 layers, 2k deep:
6.44 ms for one token, 6.56 for two, 9.23 for four), and each change of batch size at
half the round trip measured in the token loop (ROUND_TRIP); Python's time per step is
not counted. The acceptance is the small model's, on its own text. "ceiling" replays the
replies without drafts with every proposal verified exactly as far as it is right, at
steady costs: the most any rule could get from drafts out of the context. With
--verify-costs MODEL, the projection uses costs measured here instead: MODEL with every
layer on the GPU, 2,048 tokens deep, 1, 2, 4 and 8 tokens in one batch, each size
repeated on its own and each between one-token steps (the extra time of the one-token
steps after it counted as its own).

    python bench/speculative.py [--model PATH] [--tokens 200] [--pairs 5] [--threads N]
                                [--temperature T] [--n-gpu-layers N] [--project]
                                [--verify-costs MODEL]

Goals: >= 1.3x on (a) and (b) on a GPU, and >= 0.97x on (c) everywhere.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import llama_cpp

from app.core import speculative
from app.core.draft_lookup import DraftLookup
from app.core.engine import LlamaEngine, LoadParams
from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT
from app.core.types import GenParams, Message


def cases() -> dict[str, list[Message]]:
    document = (ROOT / "README.md").read_text(encoding="utf-8")[:6000]
    return {
        "a_quotes_document": [
            Message("system", "You are a helpful assistant. Answer from the attached document."),
            Message("user", f"Attached document (README.md):\n\n{document}\n\n"
                            "Quote the document's first two paragraphs exactly, then say what the app is for."),
        ],
        "b_reasoning_then_answer": [
            Message("system", PHI4_REASONING_SYSTEM_PROMPT),
            Message("user", "A train leaves at 9:40 and arrives at 13:05. How long is the journey, in minutes?"),
        ],
        "c_nothing_to_copy": [
            Message("user", "Write a short story about a fox who learns to sail, with a surprising ending."),
        ],
    }


def reply(engine: LlamaEngine, messages: list[Message], params: GenParams):
    engine.reset()
    for ev in engine.stream(messages, params):
        if ev.kind == "stats":
            return ev.stats
    raise RuntimeError("no stats")


def _fill(engine: LlamaEngine, depth: int, spare: int) -> list[int]:
    """Decode `depth` tokens of README.md into a fresh context; returns them and `spare` more."""
    engine.reset()
    tokens = engine.tokenize((ROOT / "README.md").read_text(encoding="utf-8"))
    tokens = (tokens * (1 + (depth + spare) // max(len(tokens), 1)))[: depth + spare]
    batch = engine._batch_size
    for start in range(0, depth, batch):
        assert engine._decode(tokens[start : min(start + batch, depth)]) == 0
    return tokens


def _timed_decode(engine: LlamaEngine, tokens: list[int]) -> float:
    """Seconds to decode `tokens` at the end of the context, the GPU's queue drained."""
    t0 = time.perf_counter()
    assert engine._decode(tokens) == 0
    llama_cpp.llama_synchronize(engine._ctx)
    return time.perf_counter() - t0


def _cut(engine: LlamaEngine, depth: int) -> None:
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(engine._ctx), 0, depth, -1)
    del engine._cached[depth:]


def verify_ms(engine: LlamaEngine, depth: int, sizes=(1, 2, 4, 8), reps: int = 10) -> dict[str, float]:
    """Milliseconds to decode m tokens in one batch after `depth` tokens of context, each
    size repeated on its own (a GPU's graph for that size captured once and replayed)."""
    tokens = _fill(engine, depth, 16)
    out = {}
    for m in sizes:
        times = []
        for _ in range(reps):
            times.append(_timed_decode(engine, tokens[depth : depth + m]))
            _cut(engine, depth)
        out[str(m)] = round(statistics.median(times) * 1000, 2)
    engine.reset()
    return out


def in_loop_ms(engine: LlamaEngine, depth: int, sizes=(2, 4, 8), rounds: int = 8) -> dict[str, float]:
    """What a batch of m tokens costs in the token loop, in milliseconds: one-token steps
    until they are steady, the batch, then the one-token steps after it, whose time above a
    steady step is the batch's too (app.core.speculative.AFTERMATH_STEPS; on a GPU a batch of
    another size makes the next steps run without their captured graph). "1" is a steady
    one-token step."""
    settle, after = 5, speculative.AFTERMATH_STEPS
    tokens = _fill(engine, depth, settle + max(sizes) + after + 1)
    steady, out = [], {}
    for m in sizes:
        costs = []
        for _ in range(rounds):
            pos = depth
            singles = []
            for _ in range(settle):
                singles.append(_timed_decode(engine, tokens[pos : pos + 1]))
                pos += 1
            base = statistics.median(singles[2:])  # the first two may still be re-capturing
            batch = _timed_decode(engine, tokens[pos : pos + m])
            pos += m
            extra = 0.0
            for _ in range(after):
                extra += _timed_decode(engine, tokens[pos : pos + 1]) - base
                pos += 1
            costs.append(batch + extra)
            steady.extend(singles[2:])
            _cut(engine, depth)
        out[str(m)] = round(statistics.median(costs) * 1000, 2)
    out["1"] = round(statistics.median(steady) * 1000, 2)
    engine.reset()
    return dict(sorted(out.items(), key=lambda kv: int(kv[0])))


def gpu_verify_costs(path: Path, threads: int | None) -> dict:
    """Verify costs of `path` with every layer on the GPU, 2,048 tokens deep: milliseconds
    per batch size on its own and in the token loop; the steady ratios to one token and
    what a change of size to and from m costs (in the loop less steady), which a
    projection uses."""
    with LlamaEngine(path, LoadParams(n_gpu_layers=-1, n_ctx=4096, n_threads=threads)) as engine:
        ms = verify_ms(engine, 2048)
        loop = in_loop_ms(engine, 2048)
    return {"model": path.name, "n_gpu_layers": -1, "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
            "ms_at_depth_2048": ms, "in_loop_ms_at_depth_2048": loop,
            "ratios": {m: ms[str(m)] / ms["1"] for m in (1, 2, 4, 8)},
            "round_trip": {m: max(loop[str(m)] - ms[str(m)], 0.0) / ms["1"] for m in (2, 4, 8)}}


def ceiling(prompt: list[int], replies: list[list[int]], gpu_costs: dict[int, float]) -> dict:
    """The most drafts from the context could give this reply at GPU verify costs: the
    engine's proposals replayed over the reply, each verified exactly as far as it turns out
    right (no rule can know that beforehand). Over a sampled reply this is what a perfect
    rule would have kept, since a draft is kept exactly when the sampled tokens equal it.
    Totals over `replies`, each after the same `prompt`."""
    gpu = speculative.prior_ratios(gpu_costs, speculative.MAX_DRAFT + 1)
    total = kept = 0
    cost = 0.0
    for reply_tokens in replies:
        cost_one, kept_one = _replay_best(prompt, reply_tokens, gpu)
        total, kept, cost = total + len(reply_tokens), kept + kept_one, cost + cost_one
    return {"tokens": total, "kept": kept, "projected_gpu_ratio": round(total / cost, 3) if cost else 1.0}


def _replay_best(prompt: list[int], reply_tokens: list[int], gpu: list[float]) -> tuple[float, int]:
    lookup, cost = DraftLookup(prompt), 0.0
    i, n, kept = 0, len(reply_tokens), 0
    while i < n:
        lookup.append(reply_tokens[i])
        right = 0
        if i < n - 1:
            _, proposal = lookup.propose(min(speculative.MAX_DRAFT, n - 1 - i))
            while right < len(proposal) and proposal[right] == reply_tokens[i + 1 + right]:
                right += 1
            lookup.extend(reply_tokens[i + 1 : i + 1 + right])
        cost += gpu[1 + right]
        kept += right
        i += 1 + right
    return cost, kept


# What changing from one-token steps to m-token batches and back costs, as a ratio to one
# steady step, when not measured with --verify-costs: a Phi-4-shaped Q4_K_M, 41 of 41
# layers on an H100, 2k deep, in the token loop: 10.41 ms for a 2-token batch between
# one-token steps (with the extra time of the two steps after it) against 6.52 steady,
# 12.67 against 8.93 for 4, 16.73 against 13.04 for 8; one token 6.28 ms.
ROUND_TRIP = {2: 0.62, 4: 0.60, 8: 0.59}


def drafted_run(engine: LlamaEngine, messages: list[Message], params: GenParams, rule: str,
                gpu_costs: dict[int, float], round_trip: dict[int, float]) -> dict:
    """One reply with drafts, and the time its steps would take at GPU verify costs
    (`gpu_costs`: batch size -> cost as a ratio to one token), against one step per token.
    rule "gpu": the engine's own rule deciding as if its batches cost that; "every": every
    proposal verified in full (acceptance with no cost rule in the way)."""
    sizes: Counter = Counter()
    order: list[int] = []
    real_decode, real_size = speculative.SpeculativeDecoder._decode, speculative.DraftController.size
    real_costs, real_prior, real_change = engine._draft_costs, speculative.GPU_COSTS, speculative.GPU_CHANGE

    def counting_decode(self, token, draft):
        sizes[1 + len(draft)] += 1
        order.append(1 + len(draft))
        return real_decode(self, token, draft)

    speculative.SpeculativeDecoder._decode = counting_decode
    if rule == "every":
        speculative.DraftController.size = lambda self: speculative.MAX_DRAFT + 1
    else:
        speculative.GPU_COSTS = gpu_costs  # the prior a GPU load starts from
        speculative.GPU_CHANGE = statistics.mean(round_trip.values()) / 2
        engine._draft_costs = speculative.DraftCosts(on_gpu=True)
        engine._draft_costs.step = lambda m, seconds: None  # keep the GPU's costs, not this machine's
    try:
        stats = reply(engine, messages, params)
    finally:
        speculative.SpeculativeDecoder._decode = real_decode
        speculative.DraftController.size = real_size
        engine._draft_costs = real_costs
        speculative.GPU_COSTS, speculative.GPU_CHANGE = real_prior, real_change
    gpu = speculative.prior_ratios(gpu_costs, speculative.MAX_DRAFT + 1)
    trip = speculative.prior_ratios({1: 0.0, **round_trip}, speculative.MAX_DRAFT + 1)
    # each change of size costs half a round trip of the larger size
    changes = [max(a, b) for a, b in pairwise(order) if a != b]
    steps_cost = sum(gpu[m] * count for m, count in sizes.items()) + sum(trip[m] / 2 for m in changes)
    return {
        "tokens": stats.generated_tokens,
        "drafted": stats.draft_tokens,
        "accepted": stats.draft_accepted,
        "acceptance": round(stats.draft_accepted / stats.draft_tokens, 3) if stats.draft_tokens else 0.0,
        "batches": dict(sorted(sizes.items())),
        "size_changes": len(changes),
        # one decode per token without drafts, against the verify batches actually used
        "projected_gpu_ratio": round(stats.generated_tokens / steps_cost, 3) if steps_cost else 1.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--temperature", type=float, default=GenParams().temperature)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--project", action="store_true", help="also project the GPU speed-up")
    ap.add_argument("--verify-costs", type=Path, metavar="MODEL",
                    help="project with verify costs measured on MODEL, all layers on the GPU")
    args = ap.parse_args()
    if args.verify_costs is not None:
        if not args.verify_costs.is_file():
            ap.error(f"no model file at {args.verify_costs}")
        args.project = True  # measured costs serve only the projection
    if args.model is None:
        from tests.model_files import smollm2_path

        args.model = smollm2_path()
    load = LoadParams(n_gpu_layers=args.n_gpu_layers, n_ctx=args.ctx, n_threads=args.threads)
    result = {"bench": "speculative", "model": args.model.name, "n_gpu_layers": args.n_gpu_layers,
              "threads": args.threads, "tokens": args.tokens, "pairs": args.pairs, "seed": args.seed,
              "temperature": args.temperature, "cases": {}}
    gpu_costs, round_trip = speculative.GPU_COSTS, ROUND_TRIP
    if args.verify_costs is not None:
        measured = gpu_verify_costs(args.verify_costs, args.threads)
        result["verify_costs"] = measured
        gpu_costs, round_trip = measured["ratios"], measured["round_trip"]
    result["projection_costs"] = {str(m): round(r, 3) for m, r in gpu_costs.items()}
    result["projection_round_trip"] = {str(m): round(r, 3) for m, r in round_trip.items()}
    with LlamaEngine(args.model, load) as engine:
        result["verify_ms_at_depth_2048"] = verify_ms(engine, 2048)
        result["in_loop_ms_at_depth_2048"] = in_loop_ms(engine, 2048)
        for name, messages in cases().items():
            base = GenParams(max_tokens=args.tokens, seed=args.seed, temperature=args.temperature)
            reply(engine, messages, GenParams(max_tokens=16, seed=1))  # warm-up
            off, on, accepted, drafted, estimate, counts = [], [], 0, 0, [], []
            n_prompt, plain_replies = engine.count_prompt_tokens(messages), []
            for _ in range(args.pairs):
                plain = reply(engine, messages, GenParams(**{**_fields(base), "drafts": False}))
                plain_replies.append(engine._cached[n_prompt:])  # the reply, less its last token
                drafts = reply(engine, messages, base)
                off.append(plain.tokens_per_second)
                on.append(drafts.tokens_per_second)
                drafted += drafts.draft_tokens
                accepted += drafts.draft_accepted
                estimate.append(drafts.draft_speedup)
                counts.append((plain.generated_tokens, drafts.generated_tokens))
            case = {
                "prompt_tokens": n_prompt,
                "tok_s_without": round(statistics.median(off), 2),
                "tok_s_with": round(statistics.median(on), 2),
                "ratio": round(statistics.median(on) / statistics.median(off), 3),
                "ratio_of_pairs_median": round(statistics.median(b / a for a, b in zip(off, on)), 3),
                "drafted_per_reply": round(drafted / args.pairs, 1),
                "acceptance": round(accepted / drafted, 3) if drafted else 0.0,
                "engine_speedup_estimate_median": statistics.median(estimate),
                "tokens_without_with": counts,
                "tok_s_without_runs": off,
                "tok_s_with_runs": on,
            }
            if args.project:
                case["gpu_rule_projection"] = drafted_run(engine, messages, base, "gpu", gpu_costs, round_trip)
                case["every_proposal_verified"] = drafted_run(engine, messages, base, "every", gpu_costs, round_trip)
                case["ceiling"] = ceiling(engine.tokenize(engine.render(messages).text), plain_replies, gpu_costs)
            result["cases"][name] = case
        costs = engine._draft_costs
        result["measured_cost_ratios"] = {str(m): round(costs.ratio(m), 2) for m in (2, 3, 5, 9)}
    result["machine"] = platform.machine()
    result["llama_cpp_python"] = llama_cpp.__version__
    print(json.dumps(result))


def _fields(params: GenParams) -> dict:
    return {f: getattr(params, f) for f in params.__slots__}


if __name__ == "__main__":
    main()
