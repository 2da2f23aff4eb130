"""Speculative decoding on the real SmolLM2: drafts change the speed, never the output.

Exact equality needs a batch's logits to equal one-at-a-time logits bit for bit. llama.cpp's
CPU backend gives that with flash attention and one thread (checked below); with more
threads its attention splits a single token's work differently from a batch's, so logits
differ slightly and a greedy reply can take the other branch at a near-tie. The `exact`
engine here is set up so, which makes "same tokens" a test of the draft logic itself.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import llama_cpp
import numpy as np
import pytest

from app.core import speculative
from app.core.engine import LlamaEngine, LoadParams
from app.core.speculative import AFTERMATH_STEPS, MAX_DRAFT, MIN_STAY, DraftController, DraftCosts, prior_ratios
from app.core.types import GenParams, Message

DOC = (
    "The lighthouse at Cape Farrow was built in 1871 from granite cut on the island itself. "
    "Its lamp burned whale oil until 1902, then kerosene, and since 1951 an electric bulb "
    "whose beam reaches twenty-two nautical miles. The keeper's cottage now holds a small "
    "museum about the shipwrecks of the northern channel, including the schooner Mary Dune, "
    "lost with all hands in the storm of November 1888."
)
LONG_DOC = "\n".join(
    f"Section {i}. Shipment {i * 37 % 101} left the harbour on day {i * 3} carrying {i * 11 % 17} "
    f"crates of tin, {i * 5 % 13} barrels of oil and letters for the island of {name}."
    for i, name in enumerate(["Arden", "Bellow", "Corran", "Dunmore", "Eask", "Fenwick"] * 6)
)
THINK_GRAMMAR = r'''
root ::= "<think>" thought "</think>" answer
thought ::= [a-z] [a-z ,.]{10,200}
answer ::= [A-Z] [a-z ,.]{5,200} "."
'''


def user(text: str) -> list[Message]:
    return [Message("system", "You are a helpful assistant."), Message("user", text)]


CONVERSATIONS = {
    "quote": (user(f"Here is a document:\n\n{DOC}\n\nQuote the document exactly."), GenParams(max_tokens=120)),
    "long document": (user(f"{LONG_DOC}\n\nWhat did shipment 74 carry? Quote its section."),
                      GenParams(max_tokens=80)),
    "multi-turn": ([*user(f"Summarise this:\n{DOC}"),
                    Message("assistant", "The lighthouse at Cape Farrow was built in 1871 and now holds a museum."),
                    Message("user", "When was it built, and what does the keeper's cottage hold now?")],
                   GenParams(max_tokens=100)),
    "reasoning grammar": (user(f"{DOC}\n\nWhen did the lamp switch to electricity? Think first."),
                          GenParams(max_tokens=200, grammar=THINK_GRAMMAR)),
    "nothing to copy": (user("Write a short poem about autumn."), GenParams(max_tokens=60)),
    "code": (user("Fix the bug and give the whole function:\n```python\ndef mean(values):\n    total = 0\n"
                  "    for v in values:\n        total += v\n    return total / len(value)\n```"),
             GenParams(max_tokens=80)),
    "thread of three": ([*user("List three uses of tin."), Message("assistant", "1. Cans\n2. Solder\n3. Bronze"),
                         Message("user", "And three of oil?"), Message("assistant", "1. Fuel\n2. Lamps\n3. Soap"),
                         Message("user", "Now repeat both lists, tin first.")], GenParams(max_tokens=60)),
    "cut mid-draft": (user(f"Repeat exactly: {DOC}"), GenParams(max_tokens=23)),
}


@pytest.fixture(scope="module")
def exact(smollm2):
    eng = LlamaEngine(smollm2, LoadParams(n_ctx=4096, n_batch=64, n_threads=1, flash_attn=True))
    yield eng
    eng.close()


@pytest.fixture
def always_draft(monkeypatch):
    """Draft as many tokens as allowed every step, whatever it costs: the most draft traffic."""
    monkeypatch.setattr(DraftController, "size", lambda self: MAX_DRAFT + 1)


def run(engine, messages, params, cancel=None, answer_now=None, on_event=None):
    """(text events as (kind, text), stats); checks that the context holds exactly the
    reply's confirmed tokens afterwards."""
    engine.reset()
    events, stats = [], None
    for ev in engine.stream(messages, params, cancel, answer_now):
        if ev.kind in ("reasoning", "answer"):
            events.append((ev.kind, ev.text))
        elif ev.kind == "stats":
            stats = ev.stats
        if on_event:
            on_event(ev, events)
    mem = llama_cpp.llama_get_memory(engine._ctx)
    assert llama_cpp.llama_memory_seq_pos_max(mem, 0) == len(engine.cached_tokens) - 1
    return events, stats


def test_batch_logits_equal_one_at_a_time_logits_on_this_engine(exact):
    tokens = exact.tokenize(f"{LONG_DOC}\n{DOC}")[:700]
    ctx, n_vocab = exact._ctx, llama_cpp.llama_vocab_n_tokens(exact._vocab)

    def row(i):
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).copy()

    exact.reset()
    for start in range(0, 690, 64):
        assert exact._decode(tokens[start : min(start + 64, 690)]) == 0
    singles = []
    for t in tokens[690:]:
        assert exact._decode([t]) == 0
        singles.append(row(-1))
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, 690, -1)
    batch = llama_cpp.llama_batch_init(10, 0, 1)
    try:
        for j, t in enumerate(tokens[690:]):
            batch.token[j], batch.pos[j], batch.n_seq_id[j], batch.logits[j] = t, 690 + j, 1, 1
            batch.seq_id[j][0] = 0
        batch.n_tokens = 10
        assert llama_cpp.llama_decode(ctx, batch) == 0
        assert all(np.array_equal(row(j), singles[j]) for j in range(10))
    finally:
        llama_cpp.llama_batch_free(batch)
        exact.reset()


def _fields(params: GenParams) -> dict:
    return {f: getattr(params, f) for f in params.__slots__}


def with_(params: GenParams, **changes) -> GenParams:
    return GenParams(**(_fields(params) | changes))


def test_greedy_replies_are_the_same_tokens_with_and_without_drafts(exact, always_draft):
    drafted = accepted = 0
    for name, (messages, params) in CONVERSATIONS.items():
        greedy = with_(params, temperature=0.0)
        plain_events, plain = run(exact, messages, with_(greedy, drafts=False))
        plain_context = exact.cached_tokens
        draft_events, drafts = run(exact, messages, greedy)
        assert draft_events == plain_events, name
        assert exact.cached_tokens == plain_context, name
        assert (drafts.generated_tokens, drafts.finish_reason) == (plain.generated_tokens, plain.finish_reason)
        assert plain.draft_tokens == 0
        drafted += drafts.draft_tokens
        accepted += drafts.draft_accepted
    # The drafts were real traffic: many verified, most kept, some turned down.
    assert accepted > 100 and drafted > accepted


def test_a_fixed_seed_gives_the_same_sample_here(exact, always_draft):
    # Each position is sampled once, in order, from the same logits: the sampler's random
    # numbers are used exactly as without drafts.
    messages, params = CONVERSATIONS["quote"]
    for seed in (1, 2, 3):
        sampled = with_(params, temperature=0.9, seed=seed, max_tokens=60)
        plain, _ = run(exact, messages, with_(sampled, drafts=False))
        drafted, stats = run(exact, messages, sampled)
        assert drafted == plain
        assert stats.draft_tokens > 0


def _chi_squared_p(a: Counter, b: Counter) -> float:
    """p-value of a chi-squared test that two samples come from one distribution. Tokens
    seen fewer than 10 times in both samples together are pooled, so every expected count
    is at least 5; the tail uses the Wilson-Hilferty approximation (ample at p ~ 1e-3)."""
    total_a, total_b = sum(a.values()), sum(b.values())
    cells, rare_a, rare_b = [], 0, 0
    for token in set(a) | set(b):
        if a[token] + b[token] >= 10:
            cells.append((a[token], b[token]))
        else:
            rare_a, rare_b = rare_a + a[token], rare_b + b[token]
    if rare_a + rare_b:
        cells.append((rare_a, rare_b))
    if len(cells) < 2:
        return 1.0
    stat = 0.0
    for x, y in cells:
        col = x + y
        for observed, row_total in ((x, total_a), (y, total_b)):
            expected = col * row_total / (total_a + total_b)
            stat += (observed - expected) ** 2 / expected
    k = len(cells) - 1
    z = ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


COPY_PROMPT = user(f"Repeat this text exactly:\n\n{DOC}\n\nRepeat:")
POSITIONS = range(1, 5)  # tokens after the first can come from a verify batch's rows


def sample_counts(engine, replies: int, first_seed: int, drafts: bool) -> tuple[list[Counter], int]:
    """Token counts at each of POSITIONS over `replies` samples, and the drafts verified."""
    counts, drafted = [Counter() for _ in POSITIONS], 0
    engine.reset()
    prompt_tokens = engine.count_prompt_tokens(COPY_PROMPT)
    for seed in range(first_seed, first_seed + replies):
        params = GenParams(temperature=1.0, top_k=0, top_p=1.0, seed=seed, max_tokens=POSITIONS[-1] + 2,
                           drafts=drafts)
        for ev in engine.stream(COPY_PROMPT, params):  # the prompt stays cached between samples
            if ev.kind == "stats":
                drafted += ev.stats.draft_tokens
        reply = engine.cached_tokens[prompt_tokens:]
        for slot, pos in enumerate(POSITIONS):
            counts[slot][reply[pos]] += 1
    return counts, drafted


def test_sampling_distribution_is_the_models_with_drafts(exact, always_draft, monkeypatch):
    # Two independent samples, different seeds on each side, so this tests the
    # distribution and not merely the seed. At temperature 1 the model copies the
    # document's next token about 60% of the time and spreads the rest: an acceptance
    # rule that favoured drafts would over-represent the copied token.
    # Tolerance: 4 positions at p < 0.001 each: a correct engine fails with probability
    # under 0.4% for a given set of seeds, and the seeds are fixed, so a build passes or
    # fails every time. The last part checks that the test has the power to fail: a rule
    # that keeps every draft (copied token about 75% instead of 55%) is caught.
    plain, _ = sample_counts(exact, 160, 10_000, drafts=False)
    drafted_counts, drafted = sample_counts(exact, 160, 0, drafts=True)
    assert drafted > 150  # the drafts side did verify drafts
    for slot, pos in enumerate(POSITIONS):
        assert _chi_squared_p(plain[slot], drafted_counts[slot]) > 0.001, pos

    real_sample = speculative.SpeculativeDecoder.sample

    def keeps_every_draft(self, smpl):
        token = real_sample(self, smpl)
        return self._pending[self._at] if self._at < len(self._pending) else token

    monkeypatch.setattr(speculative.SpeculativeDecoder, "sample", keeps_every_draft)
    biased, _ = sample_counts(exact, 160, 0, drafts=True)
    assert min(_chi_squared_p(plain[slot], biased[slot]) for slot in range(len(POSITIONS))) < 0.001


def test_cancel_stops_within_a_token_and_leaves_only_confirmed_tokens(exact, always_draft):
    messages, _ = CONVERSATIONS["quote"]
    cancel = threading.Event()

    def on_event(ev, events):
        if len(events) == 5:
            cancel.set()

    _, stats = run(exact, messages, GenParams(temperature=0, max_tokens=200), cancel, on_event=on_event)
    assert stats.finish_reason == "cancelled"
    assert 5 <= stats.generated_tokens <= 7
    assert stats.draft_tokens > 0  # drafts were in play when it stopped


def test_answer_now_closes_the_thinking_mid_draft(exact, always_draft):
    # The grammar never closes the thinking, and the document gives drafts to verify.
    messages = user(f"Think about this text, repeating it: {DOC}")
    grammar = 'root ::= "<think>" [a-zA-Z0-9 ,.\'-]+'
    answer_now = threading.Event()

    def on_event(ev, events):
        if len(events) == 12:
            answer_now.set()

    events, stats = run(exact, messages, GenParams(temperature=0, max_tokens=60, grammar=grammar), None, answer_now,
                        on_event)
    kinds = [k for k, _ in events]
    assert kinds[:12] == ["reasoning"] * 12 and "answer" in kinds
    assert "reasoning" not in kinds[kinds.index("answer") :]
    assert stats.thinking_end == "answer_now" and not stats.reasoning_unfinished
    assert stats.draft_accepted > 0
    close = exact.tokenize("\n</think>\n\n", starts_prompt=False)
    cached = exact.cached_tokens
    assert any(cached[i : i + len(close)] == close for i in range(len(cached)))


def test_thinking_budget_ends_at_the_same_token_with_drafts(exact, always_draft):
    messages = user(f"Think it through, quoting the text: {DOC}")
    grammar = 'root ::= "<think>" [a-zA-Z0-9 ,.\'-]+ "</think>" [A-Z] [a-z ]+ "."'
    params = GenParams(temperature=0, max_tokens=90, grammar=grammar, think_budget=30)
    plain_events, plain = run(exact, messages, with_(params, drafts=False))
    plain_context = exact.cached_tokens
    events, stats = run(exact, messages, params)
    assert events == plain_events and exact.cached_tokens == plain_context
    assert stats.thinking_end == plain.thinking_end == "budget"
    assert stats.reasoning_tokens == plain.reasoning_tokens == 30
    assert stats.draft_accepted > 0


def test_the_setting_off_means_no_drafts(exact, always_draft):
    messages, params = CONVERSATIONS["quote"]
    _, stats = run(exact, messages, with_(params, temperature=0, drafts=False))
    assert (stats.draft_tokens, stats.draft_accepted, stats.draft_speedup) == (0, 0, 1.0)


def test_a_follow_up_reuses_the_context_the_drafts_left(exact, always_draft):
    messages, params = CONVERSATIONS["quote"]
    events, _ = run(exact, messages, with_(params, temperature=0, max_tokens=40))
    answer = "".join(text for kind, text in events if kind == "answer")
    follow = [*messages, Message("assistant", answer), Message("user", "Thanks.")]
    events = list(exact.stream(follow, GenParams(temperature=0, max_tokens=5)))
    stats = events[-1].stats
    assert stats.evaluated_prompt_tokens < stats.prompt_tokens  # the earlier turn came from the cache


# -- the adaptive rule, without a model --------------------------------------------------


def test_prior_costs_interpolate_and_extend():
    ratios = prior_ratios({1: 1.0, 2: 1.5, 4: 2.5}, 6)
    assert ratios[1:] == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]


def settled(controller: DraftController) -> int:
    """The size the controller picks once it has had its look (it keeps a size MIN_STAY steps)."""
    for _ in range(MIN_STAY):
        size = controller.size()
    return size


def test_on_a_cpu_drafts_wait_for_a_high_acceptance_rate():
    controller = DraftController(DraftCosts(on_gpu=False))
    assert settled(controller) == 1  # a 1.5x dearer batch does not pay at the prior's rates
    for _ in range(40):
        controller.record(8, 8)  # what a copied passage looks like
    assert settled(controller) >= 5
    for _ in range(40):
        controller.record(0, 1)  # the copying stopped
    assert settled(controller) == 1


def test_on_a_gpu_a_short_draft_pays_even_at_modest_acceptance():
    controller = DraftController(DraftCosts(on_gpu=True))
    assert settled(controller) >= 2  # 2 tokens cost 1.02x one: a 30% chance pays
    for _ in range(60):
        controller.record(0, 1)
    assert settled(controller) == 1  # drafts that keep failing switch off


def test_the_size_changes_rarely():
    """A change of batch size costs steps of its own on a GPU: the controller keeps a size
    MIN_STAY steps, and moves between drafting sizes only for a clear gain."""
    controller = DraftController(DraftCosts(on_gpu=True))
    first = settled(controller)
    for _ in range(60):
        controller.record(0, 1)
    sizes = [controller.size() for _ in range(MIN_STAY // 2)]
    assert sizes[0] == first or len(set(sizes)) == 1  # no flapping within a look
    assert settled(controller) == 1
    changes, previous = 0, 1
    for step in range(400):  # acceptance wobbling around one value
        controller.record(1 if step % 3 else 0, 1)
        size = controller.size()
        changes += size != previous
        previous = size
    assert changes <= 400 // MIN_STAY


def test_measured_costs_replace_the_prior():
    costs = DraftCosts(on_gpu=True)
    for _ in range(60):
        costs.observe(1, 0.010)
        costs.observe(5, 0.030)  # this machine: 5 tokens cost 3x one, not the GPU's 1.6x
    assert costs.single == pytest.approx(0.010) and costs.ratio(5) == pytest.approx(3.0, rel=0.01)
    controller = DraftController(costs)
    for _ in range(40):
        controller.record(1, 2)  # about half right
    assert settled(controller) <= 2


def test_one_dear_measurement_makes_unmeasured_sizes_dear_too():
    """A small model on a GPU: each step is mostly fixed overhead, so 2 tokens cost 1.6x one,
    not the 1.02x of the prior. A few measurements of one size must make every size dear,
    not dozens at each size."""
    costs = DraftCosts(on_gpu=True)
    controller = DraftController(costs)
    for i in range(40):
        controller.record(i % 2, 1)  # the first drafted token right half the time
    eager = settled(controller)
    before = [costs.ratio(m) for m in range(2, MAX_DRAFT + 2)]
    costs.observe(1, 0.0013)
    costs.observe(2, 0.0013 * 1.6)
    after = [costs.ratio(m) for m in range(2, MAX_DRAFT + 2)]
    assert all(a > b for a, b in zip(after, before, strict=True))
    assert eager == 2  # the prior's 1.02x: a 50% first token pays
    for _ in range(20):
        costs.observe(2, 0.0013 * 1.6)  # now 1.5 tokens per step cost 1.6 steps: not worth it
    assert settled(controller) == 1
    cheap = DraftCosts(on_gpu=True)
    cheap.observe(1, 0.010)
    cheap.observe(2, 0.010)  # cheaper than the prior: the unmeasured sizes keep theirs
    assert [cheap.ratio(m) for m in range(3, MAX_DRAFT + 2)] == before[1:]


def test_the_rules_constants_are_sane():
    assert speculative.MIN_GAIN > 1.0 and 1 <= MAX_DRAFT <= 16
    assert speculative.SWITCH_GAIN > 1.0 and MIN_STAY > AFTERMATH_STEPS


def test_only_steady_steps_are_measured():
    """The first steps after a change of size are slow on a GPU (no captured graph, then a
    capture); they must not count as what that size costs."""
    costs = DraftCosts(on_gpu=True)
    for _ in range(10):
        costs.step(1, 0.001)
    for _ in range(AFTERMATH_STEPS):
        costs.step(2, 0.005)  # re-capturing
    before = costs.ratio(2)
    assert before == pytest.approx(speculative.prior_ratios(speculative.GPU_COSTS, 2)[2])
    for _ in range(60):
        costs.step(2, 0.00105)
    assert costs.ratio(2) == pytest.approx(1.05, rel=0.02)
    for _ in range(AFTERMATH_STEPS):
        costs.step(1, 0.004)  # back to one token: slow again at first
    assert costs.single == pytest.approx(0.001)


def test_a_copied_passage_drafts_alone_while_the_size_is_one():
    """Where a match is nearly always right (a passage being copied) a draft in a batch of
    its own pays even counting the change of size there and back; a GPU's dear change needs
    more of it than a CPU's."""
    for on_gpu in (False, True):
        controller = DraftController(DraftCosts(on_gpu=on_gpu))
        assert settled(controller) in (1, 2)
        controller._size = 1  # as if the padded drafts had not paid
        assert controller.single_draft(3, 8) == 0  # at the prior rates
        for _ in range(40):
            controller.record(8, 8, n=3, proposed=8)
        assert controller.single_draft(3, 8) >= 4
        assert controller.single_draft(2, 8) <= 1  # other n-gram sizes keep their own rates
        for _ in range(40):
            controller.record(0, 1, n=3, proposed=8)
        assert controller.single_draft(3, 8) == 0


def test_a_change_of_size_is_measured_apart_from_steady_steps():
    costs = DraftCosts(on_gpu=True)
    start = costs.change
    for _ in range(10):
        costs.step(1, 0.001)
    for _ in range(40):
        costs.step(2, 0.006)  # the batch run without a graph
        costs.step(1, 0.003)  # the steps after it: without, then capturing
        costs.step(1, 0.002)
        for _ in range(4):
            costs.step(1, 0.001)
    assert costs.single == pytest.approx(0.001)
    assert costs.change > start  # each change cost several steps here
    costs.interrupted()  # a prompt was read: the next change is not the loop's own
    before = costs.change
    costs.step(1, 0.050)
    costs.step(1, 0.050)
    assert costs.change == before
