"""What the local server adds over the engine in-process: tokens/s a client sees through
`serve` with the official openai client, against the same engine's own stream, and the time
to the first token it adds. Same model, same request (a new question each run, of the same
length, so neither side finds its prompt cached), replies of a set length (ignore_eos).

The server runs in this process on 127.0.0.1 with the one engine the in-process runs use
(never at the same time), so there is one copy of the model; the openai client runs in a
process of its own, as another program would. Prints one JSON object.

    python bench/serve_overhead.py [--model PATH] [--tokens 200] [--runs 5] [--ctx 2048] [--n-gpu-layers 0]
                                   [--cpu-threads N]

On a machine whose cores all run the model (2 cores: default_threads() takes both), the
client's own parsing takes CPU from it; --cpu-threads 1 there shows the server's cost with
a core left for the client, as default_threads() leaves on machines of more than 4.

Goals: tokens/s through the server >= 0.95 of in-process; first token <= 20 ms later.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai  # noqa: E402

from app.core.engine import LlamaEngine, LoadParams, default_threads  # noqa: E402
from app.core.serve.chat_request import parse_chat_request  # noqa: E402
from app.core.serve.server import LocalServer  # noqa: E402


def body(run: int, side: str, tokens: int) -> dict:
    # The same words each run, a different run tag: the prompt's length is the same, its end is new.
    # Greedy and no seed: a seeded request would read its whole prompt afresh, in-process would not.
    return {"messages": [{"role": "user", "content": f"Run {run:03d}{side}: count from one to fifty, one per line."}],
            "max_tokens": tokens, "temperature": 0.0, "ignore_eos": True, "stream": True}


def in_process(engine: LlamaEngine, request: dict) -> dict:
    req = parse_chat_request(request, (engine.name,))  # the very messages and settings the server would use
    t0 = time.perf_counter()
    first = last = None
    stats = None
    for ev in engine.stream(req.messages, req.params):
        if ev.kind in ("reasoning", "answer"):
            last = time.perf_counter()
            first = first or last
        elif ev.kind == "stats":
            stats = ev.stats
    return _result(t0, first, last, stats.generated_tokens)


def through_server(client: openai.OpenAI, model: str, request: dict) -> dict:
    t0 = time.perf_counter()
    first = last = None
    tokens = 0
    fields = dict(request)
    extra = {"ignore_eos": fields.pop("ignore_eos")}  # a llama-server field the client does not know
    stream = client.chat.completions.create(model=model, **fields, extra_body=extra,
                                            stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if chunk.choices:
            delta = chunk.choices[0].delta
            if delta.content or (delta.model_extra or {}).get("reasoning_content"):
                last = time.perf_counter()
                first = first or last
    return _result(t0, first, last, tokens)


def client_process(url: str, model: str, tokens: int) -> None:
    """The client side, in its own process: one reply per run number read from stdin, one
    JSON line per reply on stdout."""
    with openai.OpenAI(base_url=url, api_key="unused", max_retries=0) as client:
        for line in sys.stdin:
            run, side = line.split()
            print(json.dumps(through_server(client, model, body(int(run), side, tokens))), flush=True)


class Client:
    def __init__(self, url: str, model: str, tokens: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--client", url, model, str(tokens)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, run: int, side: str) -> dict:
        self.proc.stdin.write(f"{run} {side}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the client process failed")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _result(t0: float, first: float | None, last: float | None, tokens: int) -> dict:
    if first is None or last is None or last <= first:
        raise SystemExit("no text came back")
    # Tokens after the first, over the time they took: what a reader sees stream by.
    return {"first_s": first - t0, "tps": (tokens - 1) / (last - first), "tokens": tokens}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="a .gguf file (default: the tests' SmolLM2)")
    ap.add_argument("--tokens", type=int, default=200, help="tokens per reply (default: 200)")
    ap.add_argument("--runs", type=int, default=5, help="replies measured on each side (default: 5)")
    ap.add_argument("--ctx", type=int, default=2048, help="context size (default: 2048)")
    ap.add_argument("--n-gpu-layers", type=int, default=0, help="layers on the GPU (default: 0)")
    ap.add_argument("--cpu-threads", type=int, default=None, help="CPU threads for the model (default: the app's)")
    ap.add_argument("--client", nargs=3, default=None, metavar=("URL", "MODEL", "TOKENS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_process(args.client[0], args.client[1], int(args.client[2]))
        return 0
    model = args.model
    if model is None:
        from tests.model_files import smollm2_path

        model = smollm2_path()
    threads = args.cpu_threads or default_threads()
    engine = LlamaEngine(model, LoadParams(n_gpu_layers=args.n_gpu_layers, n_ctx=args.ctx, n_threads=threads))
    try:
        with LocalServer(engine, "127.0.0.1", 0) as server:
            client = Client(server.url, engine.name, args.tokens)
            try:
                in_process(engine, body(999, "w", args.tokens))  # warm-up, both paths
                client.ask(999, "x")
                inproc, served = [], []
                for run in range(args.runs):  # alternated, so drifts in machine load hit both sides alike
                    inproc.append(in_process(engine, body(run, "a", args.tokens)))
                    served.append(client.ask(run, "b"))
            finally:
                client.close()
    finally:
        engine.close()
    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    report = {
        "model": Path(model).name, "n_gpu_layers": args.n_gpu_layers, "cpu_threads": threads,
        "cpu_count": os.cpu_count(), "runs": args.runs,
        "tokens": served[-1]["tokens"],
        "tokens_per_second": {"in_process": round(med(inproc, "tps"), 2), "server": round(med(served, "tps"), 2)},
        "first_token_ms": {"in_process": round(med(inproc, "first_s") * 1000, 2),
                           "server": round(med(served, "first_s") * 1000, 2)},
    }
    report["tokens_per_second"]["ratio"] = round(med(served, "tps") / med(inproc, "tps"), 3)
    report["first_token_ms"]["added"] = round(report["first_token_ms"]["server"]
                                              - report["first_token_ms"]["in_process"], 2)
    report["goals_met"] = {"ratio>=0.95": report["tokens_per_second"]["ratio"] >= 0.95,
                           "added_first_token<=20ms": report["first_token_ms"]["added"] <= 20}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
