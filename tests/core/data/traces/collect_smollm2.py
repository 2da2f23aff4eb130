"""Writes the SmolLM2 traces the loop-detector tests read (run once; the files are kept).

    PYTHONPATH=. python tests/core/data/traces/collect_smollm2.py

loop_*.txt: greedy replies (temperature 0), where this small model falls into saying the
same thing again and again, as reasoning models do when they loop. sampled_*.txt: long
replies at temperature 1.0 (end of text banned so they run on), which wander and come
back to their ideas in new words without repeating themselves verbatim, unless they
fall into a loop after all: sampled_bridge.txt did ("that is very important" again and
again, with small changes) and is kept as loop_sampled_bridge.txt.
"""

from __future__ import annotations

from pathlib import Path

from app.core.engine import LlamaEngine, LoadParams
from app.core.types import GenParams, Message
from tests.model_files import smollm2_path

HERE = Path(__file__).resolve().parent
LOOPS = {
    "loop_sky.txt": "Explain step by step why the sky is blue.",
    "loop_primes.txt": "Think step by step: how many prime numbers are there below 100?",
    "loop_trains.txt": "A train leaves at 3 pm at 60 km/h and another at 4 pm at 80 km/h. When does the second "
                       "catch up? Check your work.",
}
SAMPLED = {
    "sampled_hiking.txt": "Think out loud, at length, about how to plan a week-long hiking trip: weigh each choice, "
                          "go back to earlier choices and check them again.",
    "sampled_bridge.txt": "Reason step by step about whether a city should build a new bridge or improve its "
                          "ferries. Revisit your arguments several times.",
}


def reply(engine: LlamaEngine, question: str, params: GenParams) -> str:
    engine.reset()
    return "".join(e.text for e in engine.stream([Message("user", question)], params)
                   if e.kind in ("reasoning", "answer"))


def main() -> None:
    with LlamaEngine(smollm2_path(), LoadParams(n_ctx=8192)) as engine:
        for name, question in LOOPS.items():
            text = reply(engine, question, GenParams(temperature=0.0, max_tokens=1500, ignore_eos=True,
                                                     loop_watch=False))
            (HERE / name).write_text(text, encoding="utf-8")
        for i, (name, question) in enumerate(SAMPLED.items()):
            text = reply(engine, question, GenParams(temperature=1.0, top_p=0.95, max_tokens=4000, seed=11 + i,
                                                     ignore_eos=True, loop_watch=False))
            (HERE / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
