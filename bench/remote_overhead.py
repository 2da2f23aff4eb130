"""What a remote engine adds on top of the server: first-token latency over a bare
httpx2 client sending the same request, and tokens/s as Ponder sees them against the
server's own figure (llama.cpp's timings.predicted_per_second, Ollama's eval_duration).

Without --url it runs against the llama.cpp stand-in of the tests (127.0.0.1, pacing its
pieces to --stand-in-tps). Prints one JSON object.

    python bench/remote_overhead.py [--url URL] [--model M] [--api-key-env NAME] [--tokens 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx2  # noqa: E402

from app.core.remote import RemoteEngine, protocols  # noqa: E402
from app.core.remote.http import resolve_key  # noqa: E402
from app.core.types import GenParams, Message  # noqa: E402


def question(run: int) -> list[Message]:
    # A new question each run: nothing is cached between runs, on either side.
    return [Message("user", f"Run {run}: count from one to fifty, one number per line.")]


def bare_first_token(client: httpx2.Client, engine: RemoteEngine, headers: dict, messages, params: GenParams) -> float:
    """Seconds from sending to the first text, with httpx2 alone and the same body."""
    ollama = engine.info.kind == "ollama"
    if ollama:
        path, body = "/api/chat", protocols.ollama_body(engine.model, messages, params, params.max_tokens,
                                                        engine.context_size, False)
    else:
        path, body = "/v1/chat/completions", protocols.openai_body(engine.info.kind, engine.model, messages, params,
                                                                  params.max_tokens, False)
    t0 = time.perf_counter()
    with client.stream("POST", engine.info.root + path, json=body, headers=headers) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines():
            data = line[5:].strip() if line.startswith("data:") else line
            if not data or data == "[DONE]" or data.startswith(":"):
                continue
            piece = protocols.ollama_piece(json.loads(data)) if ollama else protocols.openai_piece(json.loads(data))
            if piece.reasoning or piece.content:
                return time.perf_counter() - t0
    raise SystemExit("the server sent no text")


def ponder_run(engine: RemoteEngine, messages, params: GenParams) -> dict:
    t0 = time.perf_counter()
    engine.count_prompt_tokens(messages)
    count_s = time.perf_counter() - t0
    first = last = None
    t0 = time.perf_counter()
    stats = None
    for ev in engine.stream(messages, params):
        if ev.kind in ("reasoning", "answer"):
            last = time.perf_counter()
            first = first or last
        elif ev.kind == "stats":
            stats = ev.stats
        elif ev.kind == "error":
            raise SystemExit(ev.message)
    seen = stats.generated_tokens / (last - first) if last and first and last > first else 0.0
    server = (engine.last_server_timings or {}).get("predicted_per_second")
    return {"count_s": count_s, "first_s": (first or time.perf_counter()) - t0, "seen_tps": seen,
            "server_tps": server, "tokens": stats.generated_tokens}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None, help="a server (default: the llama.cpp stand-in on 127.0.0.1)")
    ap.add_argument("--model", default=None, help="the server's model (default: the first it lists)")
    ap.add_argument("--api-key-env", default=None, help="environment variable with the API key")
    ap.add_argument("--tokens", type=int, default=200, help="tokens per reply (default: 200)")
    ap.add_argument("--runs", type=int, default=5, help="replies measured (default: 5)")
    ap.add_argument("--stand-in-tps", type=float, default=100.0, help="the stand-in's pace (default: 100 tok/s)")
    args = ap.parse_args()

    standin = None
    url = args.url
    if url is None:
        from tests.core.remote.standin import StandIn

        pieces = [f"{i} " for i in range(args.tokens)]
        half = len(pieces) // 2
        standin = StandIn(reasoning=pieces[:half], answer=pieces[half:], pace=1 / args.stand_in_tps,
                          predicted_per_second=args.stand_in_tps).__enter__()
        url = standin.url
    try:
        with RemoteEngine(url, args.model, api_key_env=args.api_key_env) as engine:
            key = resolve_key(None, args.api_key_env, engine.info.kind)  # the same key, if any
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            params = GenParams(max_tokens=args.tokens, seed=1, temperature=0.0)
            bare, runs = [], []
            # As Ponder streams: one client, a fresh connection per reply.
            with httpx2.Client(timeout=httpx2.Timeout(10.0, read=300.0),
                               limits=httpx2.Limits(max_keepalive_connections=0)) as client:
                for run in range(args.runs):
                    bare.append(bare_first_token(client, engine, headers, question(2 * run), params))
                    runs.append(ponder_run(engine, question(2 * run + 1), params))
            server = [r["server_tps"] for r in runs if r["server_tps"] is not None]
            report = {
                "url": engine.info.root, "kind": engine.info.kind, "model": engine.model,
                "stand_in": standin is not None, "runs": args.runs, "tokens": runs[-1]["tokens"],
                "first_token_ms": {
                    "bare_httpx2": round(statistics.median(bare) * 1000, 2),
                    "ponder": round(statistics.median(r["first_s"] for r in runs) * 1000, 2),
                },
                "count_prompt_ms": round(statistics.median(r["count_s"] for r in runs) * 1000, 2),
                "tokens_per_second": {
                    "ponder_seen": round(statistics.median(r["seen_tps"] for r in runs), 2),
                    "server_reported": round(statistics.median(server), 2) if server else None,
                },
            }
            report["first_token_ms"]["added"] = round(report["first_token_ms"]["ponder"]
                                                      - report["first_token_ms"]["bare_httpx2"], 2)
    finally:
        if standin is not None:
            standin.__exit__(None, None, None)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
