"""Speculative decoding with drafts from the conversation's own text.

After each sampled token the engine asks `SpeculativeDecoder.advance` to put it into the
context. When the text so far has an earlier occurrence of its last few tokens
(app/core/draft_lookup.py), the tokens that followed it are decoded in the same batch,
with logits at each of them. The engine then samples every position in order with its
own sampler chain, exactly as it would have without the draft: while the sampled token
equals the drafted one, the next position's logits are already there and no decode is
needed; at the first difference the rest of the draft is removed from the context.
Each position is sampled once, from the model's own distribution given the tokens
before it, so the output distribution is the model's (and on llama.cpp's CPU backend,
where a batch's logits equal one-at-a-time logits bit for bit, the same seed gives the
same text).

A draft costs more than a single-token decode (on a GPU little for a few tokens; on a
CPU about half as much again per extra token), and on a GPU a change of batch size costs
the next steps too (see AFTERMATH_STEPS). So `DraftController` picks one batch size and
keeps to it, every step drafting as many tokens (an n-gram proposal, padded with each
token's latest successor), and changes size only when the measured costs and the recent
acceptance say another size pays clearly better. While it is not drafting it keeps
scoring the drafts it would have made against the tokens actually sampled, which costs
no model time, so it starts again when the text starts repeating.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import llama_cpp

from app.core.draft_lookup import NGRAM_SIZES, DraftLookup

MAX_DRAFT = 8  # tokens drafted at most per step
# Start drafting only when the expected speed-up is at least this: the cost and acceptance
# estimates are noisy, and drafts that only break even add nothing.
MIN_GAIN = 1.1
# Cost of decoding m tokens in one batch relative to one token, in a steady run of that
# size, before any is measured. GPU: a Phi-4-shaped Q4_K_M with all 41 layers on one
# H100/H200, 2k deep: 6.44 ms for one token, 6.56 for two, 9.23 for four. CPU: the same
# model on 16 threads: 229, 345, 532 ms (SmolLM2-135M on 2 threads here: 5.7, 9.5, 12.8 ms).
GPU_COSTS = {1: 1.0, 2: 6.56 / 6.44, 4: 9.23 / 6.44}
CPU_COSTS = {1: 1.0, 2: 345 / 229, 4: 532 / 229}
_EWMA = 0.15  # weight of a new cost measurement
# Steps after a change of batch size that are not steady: a CUDA backend replays a captured
# graph for each step, and a batch of another size makes it run the next step without one
# and capture it again on the step after. Measured in the token loop on an H100 (Phi-4
# shape, 2k deep), a 2-token batch between one-token steps cost 10.4-12.7 ms (with the
# extra of the steps after it) where one token costs 6.4-6.6 and a steady run of 2-token
# batches 6.5-6.7. So the batch size changes rarely.
AFTERMATH_STEPS = 2
# What the steps after a change of batch size cost above steady ones, in one-token steps,
# before it is measured. GPU: half the round trip measured above (0.88-0.94); CPU: little.
GPU_CHANGE = 0.45
CPU_CHANGE = 0.05
# Steps at one batch size before the controller considers another.
MIN_STAY = 16
# A change between two drafting sizes must promise this much more.
SWITCH_GAIN = 1.05
RESCALE_ABOVE = 1.2  # a size measured this much dearer than the prior makes the others dearer too
_DECAY = 0.97  # per draft scored: acceptance reflects the last few dozen drafts


def prior_ratios(points: dict[int, float], largest: int) -> list[float]:
    """Cost ratios for batches of 0..largest tokens, piecewise linear through `points`
    and extended past the last point along the last segment's slope."""
    xs = sorted(points)
    out = [0.0, 1.0]
    for m in range(2, largest + 1):
        lo = max((x for x in xs if x <= m), default=xs[0])
        hi = min((x for x in xs if x >= m), default=None)
        if hi is None:  # past the last point: keep the last slope
            a, b = xs[-2], xs[-1]
            slope = (points[b] - points[a]) / (b - a)
            out.append(points[b] + slope * (m - b))
        elif hi == lo:
            out.append(points[lo])
        else:
            out.append(points[lo] + (points[hi] - points[lo]) * (m - lo) / (hi - lo))
    return out


class DraftCosts:
    """Measured cost of decoding m tokens in one batch, as a ratio to one token.

    One per loaded model: the backend (CPU, GPU, the split between them) decides it.
    Measurements replace the prior as they come in."""

    def __init__(self, on_gpu: bool, largest: int = MAX_DRAFT + 1) -> None:
        self._prior = prior_ratios(GPU_COSTS if on_gpu else CPU_COSTS, largest)
        self._ratio = list(self._prior)
        self._seen = [False] * len(self._ratio)
        self.single: float | None = None  # seconds per single-token step (EWMA)
        # What a change of size costs above steady steps, in one-token steps (EWMA).
        self.change = GPU_CHANGE if on_gpu else CPU_CHANGE
        self._last_m, self._run = 0, 0  # size of the last timed decode, and how many in a row
        self._extra: float | None = None  # the change being measured, so far

    def ratio(self, m: int) -> float:
        return self._ratio[min(m, len(self._ratio) - 1)]

    def step(self, m: int, seconds: float) -> None:
        """A timed decode of `m` tokens in the token loop. It counts only once AFTERMATH_STEPS
        decodes of the same size came before it: the first steps after a change of size are
        slow for reasons of their own (a GPU runs them without a captured graph, then
        captures one), which the controller avoids by changing size rarely."""
        if m == self._last_m:
            self._run += 1
        else:
            self._end_change()
            # measured only between the token loop's own steps, not after an interruption
            self._extra = 0.0 if self.single and self._last_m else None
            self._last_m, self._run = m, 0
        if self._run >= AFTERMATH_STEPS:
            self.observe(m, seconds)
        elif self._extra is not None:
            self._extra += seconds / self.single - self.ratio(m)
            if self._run == AFTERMATH_STEPS - 1:
                self._end_change()

    def interrupted(self) -> None:
        """Something else ran on the context (a prompt, text the engine put in): the next
        step's size change is not the token loop's own."""
        self._end_change()
        self._last_m = self._run = 0

    def _end_change(self) -> None:
        if self._extra is not None:
            self.change += _EWMA * (max(self._extra, 0.0) - self.change)
            self._extra = None

    def observe(self, m: int, seconds: float) -> None:
        if m <= 1:
            self.single = seconds if self.single is None else self.single + _EWMA * (seconds - self.single)
        elif self.single and m < len(self._ratio):
            measured = seconds / self.single
            # Measurements blend in slowly (a single batch can be a hiccup), except a first one
            # far above the prior: the prior is then another machine's, and is left halfway at once.
            far_off = not self._seen[m] and measured > self._ratio[m] * RESCALE_ABOVE
            self._ratio[m] += (0.5 if far_off else _EWMA) * (measured - self._ratio[m])
            self._seen[m] = True
            # Sizes not measured yet are dearer by the same factor when this one is: the prior
            # is a Phi-4's on a GPU, and a model whose every step is mostly fixed overhead (a
            # small one on a GPU) pays that for each size. Never cheaper than the prior: drafts
            # must not get more eager on a guess. Small differences (a CPU's batches costing
            # 10% more than the prior's CPU) are left to each size's own measurements.
            factor = self._ratio[m] / self._prior[m]
            if factor > RESCALE_ABOVE:
                for k in range(2, len(self._ratio)):
                    if not self._seen[k]:
                        self._ratio[k] = max(self._ratio[k], self._prior[k] * factor)


class _Rate:
    """A hit rate that forgets slowly, starting from a prior worth a few observations."""

    __slots__ = ("hits", "trials")

    def __init__(self, prior: float, weight: float = 3.0) -> None:
        self.hits, self.trials = prior * weight, weight

    def add(self, hits: int, trials: int) -> None:
        self.hits = self.hits * _DECAY + hits
        self.trials = self.trials * _DECAY + trials

    @property
    def value(self) -> float:
        return self.hits / self.trials


class DraftController:
    """The batch size to decode at: 1 (no drafts) or 1 + k drafted tokens every step.

    Every step decodes the same size until the estimates say another size pays clearly
    better (MIN_GAIN to start drafting, SWITCH_GAIN between drafting sizes, at most every
    MIN_STAY steps), since a change of size costs steps of its own on a GPU. Acceptance is
    kept per drafted position: the chance it is right given the ones before it were (a
    copied passage tends to go on being copied, so later positions run higher)."""

    def __init__(self, costs: DraftCosts) -> None:
        self.costs = costs
        self._rates = [_Rate(0.3)] + [_Rate(0.6) for _ in range(MAX_DRAFT - 1)]
        # For single drafts while the size is 1: per n-gram size matched, the first drafted
        # token's rate and each later one's given the ones before it were right.
        self._first = {n: _Rate(0.3) for n in NGRAM_SIZES}
        self._next = {n: _Rate(0.6) for n in NGRAM_SIZES}
        self._size = 1
        self._since = 0  # steps at this size

    def record(self, hits: int, tested: int, n: int = 0, proposed: int = 0) -> None:
        """A draft (or a guess scored without being verified): of its first `tested` tokens,
        the first `hits` were what the model sampled; the first `proposed` of them came
        from an `n`-token match (the rest padding)."""
        for j in range(min(tested, MAX_DRAFT)):
            self._rates[j].add(1 if j < hits else 0, 1)
        tested = min(tested, proposed)
        if tested > 0 and n in self._first:
            hits = min(hits, proposed)
            self._first[n].add(1 if hits else 0, 1)
            if tested > 1:
                self._next[n].add(max(hits - 1, 0), tested - 1)

    def single_draft(self, n: int, available: int) -> int:
        """While the size is 1: how many of `available` tokens proposed from an `n`-token
        match to verify in a batch of this step alone (0: none). It pays where the match
        is nearly always right (a passage being copied), even counting the change of size
        there and back."""
        if self._size != 1 or n not in self._first:
            return 0
        a1, a2 = self._first[n].value, self._next[n].value
        trip = 2 * self.costs.change
        best_k, best = 0, MIN_GAIN
        expected, p = 1.0, a1
        for k in range(1, min(available, MAX_DRAFT) + 1):
            expected += p
            p *= a2
            gain = expected / (self.costs.ratio(k + 1) + trip)
            if gain > best:
                best_k, best = k, gain
        return best_k

    def gain(self, size: int) -> float:
        """Expected tokens per unit of time at `size`, against one token per step."""
        expected, p = 1.0, 1.0
        for rate in self._rates[: size - 1]:
            p *= rate.value
            expected += p  # tokens a step gives: the sampled one plus accepted drafts
        return expected / self.costs.ratio(size)

    def size(self) -> int:
        """The batch size for the next step."""
        self._since += 1
        if self._since < MIN_STAY:
            return self._size
        self._since = MIN_STAY // 2  # look again in a few steps, not every step
        gains = [self.gain(m) for m in range(1, MAX_DRAFT + 2)]
        best = max(range(len(gains)), key=gains.__getitem__) + 1
        current = gains[self._size - 1]
        need = MIN_GAIN if self._size == 1 else SWITCH_GAIN
        if best != self._size and (gains[best - 1] > current * need or current < 1.0):
            self._size, self._since = best, 0
        return self._size


@dataclass(frozen=True, slots=True)
class DraftReport:
    drafted: int  # draft tokens verified by the model
    accepted: int  # of those, the ones kept
    speedup: float  # estimated: time without drafts / time with them


class SpeculativeDecoder:
    """The verify/accept/rollback step over llama.cpp's low-level API, for one reply.

    `cached` is the engine's list of tokens whose keys and values are in the context;
    it only ever holds confirmed tokens: drafted ones sit in the context past its end
    until sampling confirms them, and `discard` removes any left."""

    def __init__(self, ctx, cached: list[int], controller: DraftController | None, max_batch: int) -> None:
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self.cached = cached
        self.controller = controller  # None: never draft
        self._max_draft = max(0, min(MAX_DRAFT, max_batch - 1))
        self._batch = llama_cpp.llama_batch_init(self._max_draft + 1, 0, 1)
        b = self._batch
        for i in range(self._max_draft + 1):
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = 1  # every position of a verify batch is sampled
        self.lookup = DraftLookup(cached) if controller is not None else None
        self._pending: list[int] = []  # drafted tokens in the context, not yet confirmed
        self._at = 0  # the next pending token to confirm
        self._idx = -1  # the batch row the next token is sampled from
        self._shadow: list[int] = []  # a guess not verified, scored against what is sampled
        self._shadow_at = 0
        self._source = (0, 0)  # (n-gram size matched, tokens proposed) of the pending draft or shadow
        self._step_m = 0  # size of the last decode, timed until its first sample
        self._step_seconds = 0.0
        self._last_step = (0, 0.0)  # (tokens, seconds) of the last timed decode
        self.drafted = self.accepted = 0
        self._saved = 0.0  # seconds drafts saved, by the cost measurements
        if controller is not None:
            controller.costs.interrupted()  # the prompt was just read

    # -- the engine's two calls per token ------------------------------------------------

    def sample(self, smpl) -> int:
        """Sample the next token with the engine's sampler chain, from the right row."""
        if not self._step_m:
            return llama_cpp.llama_sampler_sample(smpl, self._ctx, self._idx)
        t0 = time.perf_counter()
        token = llama_cpp.llama_sampler_sample(smpl, self._ctx, self._idx)  # waits for the decode
        seconds = self._step_seconds + time.perf_counter() - t0
        m, self._step_m = self._step_m, 0
        self._last_step = (m, seconds)
        if self.controller is not None:
            self.controller.costs.step(m, seconds)
        return token

    def advance(self, token: int, room: int) -> int:
        """Put the sampled `token` into the context, with a draft after it when that pays;
        `room` is how many tokens the reply may still take after this one. Returns
        llama_decode's code (0: done; nothing is half-cached otherwise)."""
        if self._at < len(self._pending):
            if token == self._pending[self._at]:  # already decoded: its logits are there
                self._at += 1
                self._idx += 1
                self.cached.append(token)
                self.lookup.append(token)
                if self._at == len(self._pending):
                    self._end_draft(rejected=False)
                return 0
            self._end_draft(rejected=True)
            self._drop_pending()
        draft: list[int] = []
        lookup = self.lookup
        if lookup is not None:
            if len(lookup) < len(self.cached):  # text the engine put in (the thinking's end)
                lookup.extend(self.cached[len(lookup) :])
            self._score_shadow(token)
            lookup.append(token)
            room = min(self._max_draft, room - 1)
            limit = min(self.controller.size() - 1, room)
            if limit > 0:  # a batch of the chosen size: the proposal, padded
                self._shadow = []
                n, proposal = lookup.propose(limit)
                draft, self._source = lookup.pad(proposal, limit), (n, len(proposal))
            elif not self._shadow:
                n, proposal = lookup.propose(MAX_DRAFT)
                k = min(self.controller.single_draft(n, len(proposal)), room) if proposal else 0
                if k > 0:
                    draft, self._source = proposal[:k], (n, k)
                else:  # not drafting: score what would have been drafted
                    self._shadow, self._shadow_at = lookup.pad(proposal, MAX_DRAFT), 0
                    self._source = (n, len(proposal))
        return self._decode(token, draft)

    def discard(self) -> None:
        """Remove unconfirmed draft tokens from the context (before the engine decodes
        anything itself, and at the end of the reply)."""
        if self._at < len(self._pending):
            self.accepted += self._at  # confirmed before the reply stopped or was steered
            self._drop_pending()
        self._pending, self._at, self._idx = [], 0, -1
        self._shadow = []
        if self.controller is not None:
            self.controller.costs.interrupted()  # the engine may decode text of its own next

    def report(self, wall_seconds: float) -> DraftReport:
        """Draft counts so far, and the speed-up they are estimated to give over
        `wall_seconds` of generation."""
        speedup = (wall_seconds + self._saved) / wall_seconds if wall_seconds > 0 else 1.0
        return DraftReport(self.drafted, self.accepted, round(max(speedup, 0.0), 2))

    def close(self) -> None:
        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None

    # -- internals ----------------------------------------------------------------------

    def _score_shadow(self, token: int) -> None:
        shadow = self._shadow
        if not shadow:
            return
        at = self._shadow_at
        if token == shadow[at]:
            at += 1
            if at < len(shadow):
                self._shadow_at = at
                return
            self.controller.record(at, at, *self._source)
        else:
            self.controller.record(at, at + 1, *self._source)
        self._shadow = []

    def _decode(self, token: int, draft: Sequence[int]) -> int:
        t0 = time.perf_counter()
        b, pos = self._batch, len(self.cached)
        b.token[0], b.pos[0] = token, pos
        for i, t in enumerate(draft, 1):
            b.token[i], b.pos[i] = t, pos + i
        b.n_tokens = m = 1 + len(draft)
        rc = llama_cpp.llama_decode(self._ctx, b)
        if rc:  # a failed or aborted batch leaves nothing half-cached
            llama_cpp.llama_memory_seq_rm(self._mem, 0, pos, -1)
            self._pending, self._at, self._idx = [], 0, -1
            return rc
        self.cached.append(token)
        self._pending, self._at, self._idx = list(draft), 0, 0
        self.drafted += len(draft)
        self._step_m, self._step_seconds = m, time.perf_counter() - t0
        return 0

    def _end_draft(self, rejected: bool) -> None:
        hits = self._at
        self.accepted += hits
        if self.controller is not None:
            self.controller.record(hits, hits + (1 if rejected else 0), *self._source)
            costs = self.controller.costs
            m, seconds = self._last_step
            if costs.single and m > 1:
                # this step gave hits + 1 tokens, which alone would each have cost a step
                self._saved += (hits + 1) * costs.single - seconds

    def _drop_pending(self) -> None:
        self._pending, self._at = [], 0
        if not llama_cpp.llama_memory_seq_rm(self._mem, 0, len(self.cached), -1):
            # The engine drafts only for models whose context can drop a tail; if one
            # cannot after all, the context no longer matches the text: stop the reply.
            raise RuntimeError("the context could not drop a rejected draft")
