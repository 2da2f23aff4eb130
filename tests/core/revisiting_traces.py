"""Long thinking traces that come back to their ideas again and again without looping:
the false alarms a loop detector must not raise.

Written the way reasoning models write (Phi-4-reasoning's "Wait, let me double-check",
"Let me revisit case 3", a function drafted and then corrected), with the stock phrases
such traces lean on, but each return brings new numbers or new words. Seeded, so every
run reads the same text.
"""

from __future__ import annotations

import random

CHECKS = ["Wait, let me double-check that.", "Hmm, let me verify this another way.",
          "Let me make sure I have not slipped somewhere.", "Actually, let me recompute to be safe.",
          "But wait, is that right? Let me check again.", "Let me go back and confirm this step."]
AGREE = ["Yes, that matches.", "Good, the same result.", "So that is consistent.", "Okay, that checks out.",
         "Both ways give the same number, so I trust it."]
LINKS = ["Now the next part.", "Moving on.", "Next, consider the following.", "So far so good.",
         "Let me keep going.", "Now, back to the main question."]


def arithmetic(seed: int, steps: int) -> str:
    """A long calculation, every step checked once more in another way."""
    rng = random.Random(seed)
    out = ["Okay, so I need to add up the costs of a large order, item by item, and I want to be careful."]
    total = 0
    for i in range(steps):
        a, b = rng.randint(12, 99), rng.randint(11, 89)
        p = a * b
        r = rng.randint(1, 9)
        out.append(f"Item {i + 1}: {a} units at {b} each. {a} times {b}: {a} times {b + r} is {a * (b + r)}, "
                   f"minus {a} times {r}, which is {a * r}, gives {p}.")
        out.append(rng.choice(CHECKS))
        out.append(f"{b} times {a}: {b} times {a - a % 10} is {b * (a - a % 10)}, plus {b} times {a % 10} is "
                   f"{b * (a % 10)}, total {p}. {rng.choice(AGREE)}")
        total += p
        out.append(f"Running total after item {i + 1}: {total}.")
        if rng.random() < 0.25:
            j = rng.randint(1, i + 1)
            out.append(f"Hmm, wait. Did I carry correctly back at item {j}? Let me revisit it. "
                       f"I think I did, the partial sums there were fine; the total {total} stands.")
        out.append(rng.choice(LINKS))
    out.append(f"So the whole order comes to {total}. Let me reconsider whether I missed any item: "
               f"I counted {steps} items, and the list has {steps}. Good.")
    return "\n\n".join(out)


def cases(seed: int, limit: int) -> str:
    """A search through cases that comes back to earlier cases with new arguments."""
    rng = random.Random(seed)
    out = [f"We want every n up to {limit} for which n squared plus n plus 41 is prime. "
           "I will go case by case and revisit anything that looks suspicious."]
    for n in range(limit):
        v = n * n + n + 41
        factor = next((d for d in range(2, int(v ** 0.5) + 1) if v % d == 0), None)
        if factor is None:
            out.append(f"Case n = {n}: {n} squared is {n * n}, plus {n} plus 41 gives {v}. Trying divisors up to "
                       f"{int(v ** 0.5)}, none divides {v}, so {v} is prime.")
        else:
            out.append(f"Case n = {n}: the value is {v}, and {v} divided by {factor} is {v // factor}, so it "
                       f"is composite. Interesting, the pattern breaks here.")
        if rng.random() < 0.3 and n > 3:
            back = rng.randint(1, n - 1)
            w = back * back + back + 41
            out.append(rng.choice([
                f"{rng.choice(CHECKS)} Back at n = {back} I found {w}; is {w} odd? Yes, n squared plus n is "
                f"even, so adding 41 makes it odd, and 2 never divides.",
                f"Going back to n = {back}: {w}. I should be sure I tried 3 there. The digit sum of {w} is "
                f"{sum(map(int, str(w)))}, so 3 divides it only if that does.",
                f"Hmm, n = {back} again. Value {w}. Odd, because {back} times {back + 1} is even. "
                f"Its square root is about {w ** 0.5:.1f}, so I only needed divisors below that.",
            ]))
        if rng.random() < 0.2:
            out.append(rng.choice([
                f"Let me step back. Why does this work at all? Euler's polynomial gives primes for a long run; "
                f"it must fail by n = 40, where the value is 41 squared. I am at n = {n}.",
                f"Stepping back again: at n = 40 we get 40 times 41 plus 41, which is 41 times 41, so the run "
                f"cannot go past 39. {40 - n} cases remain before that point.",
                f"A sanity check on the big picture: {n} cases done, all matching the known result that "
                f"n from 0 to 39 give primes. Nothing surprising yet.",
            ]))
    return "\n\n".join(out)


def drafting(seed: int, rounds: int) -> str:
    """A function drafted, tested on examples, and corrected, again and again."""
    rng = random.Random(seed)
    names = ["total", "acc", "result", "running", "s"]
    out = ["I need a function that returns the longest run of equal neighbours in a list. Let me draft it."]
    for k in range(rounds):
        var = rng.choice(names)
        start = rng.choice(["1", "0"])
        # Built from parts chosen one by one: a model redrafting says it in new words each time.
        out.append(" ".join([
            rng.choice([f"Draft {k + 1}:", f"Version {k + 1}.", f"Round {k + 1}, rewriting it:", "Let me redo it."]),
            rng.choice([f"best starts at {start} and the counter {var} at 1;", f"{var} = 1 and best = {start};",
                        f"I keep two numbers, {var} for the current run and best (initially {start});"]),
            rng.choice(["walk through the list once,", "go from the second element to the end,",
                        "for each i after the first,"]),
            rng.choice([f"growing {var} when xs[i] equals xs[i - 1] and resetting it to 1 otherwise,",
                        f"if the element repeats its neighbour then {var} += 1, else {var} = 1,",
                        f"a match with the previous value extends {var}; a change restarts it,"]),
            rng.choice([f"and best = max(best, {var}) each time.", "keeping the largest run seen.",
                        f"updating best whenever {var} passes it."]),
        ]))
        xs = [rng.randint(0, 3) for _ in range(rng.randint(4, 9))]
        run = best = 1
        for a, b in zip(xs, xs[1:]):
            run = run + 1 if a == b else 1
            best = max(best, run)
        out.append(f"Test on {xs}: by hand the longest run is {best}. Tracing the draft gives {best}. "
                   f"{rng.choice(AGREE)}")
        if start == "0":
            one = rng.randint(1, 9)
            out.append(" ".join([
                rng.choice(["But wait:", "Hold on.", "Hmm, again the start value.", "One problem remains."]),
                rng.choice([f"with best at 0, the list [{one}] gives 0,", f"a single {one} would come out as 0,",
                            f"for [{one}] the answer would be 0,"]),
                rng.choice(["and it should be 1.", "which is wrong: its run has length 1.",
                            "but one element is a run of 1."]),
                rng.choice(["Start best at 1, and handle the empty list first.",
                            "So best begins at 1; an empty list returns 0 early.",
                            "The fix: initialise to 1 and special-case empty input."]),
            ]))
        if rng.random() < 0.4:
            out.append(f"{rng.choice(CHECKS)} What about a list like {[rng.randint(5, 9)] * rng.randint(2, 5)}? "
                       f"All equal, so the run is the whole length; the draft's counter reaches it at the end "
                       f"and max records it. Fine.")
        out.append(rng.choice(LINKS))
    return "\n\n".join(out)


def all_traces() -> dict[str, str]:
    """Name -> trace; together well over 20,000 tokens of SmolLM2's tokenizer."""
    return {
        "arithmetic-1": arithmetic(1, 220),
        "arithmetic-2": arithmetic(2, 160),
        "cases": cases(3, 40) + "\n\n" + cases(4, 40),
        "drafting-1": drafting(5, 12),
        "drafting-2": drafting(6, 12),
        "arithmetic-3": arithmetic(7, 200),
    }
