"""What a remote engine adds on top of the server: first-token latency over a bare
httpx2 client sending the same request, and tokens/s as Ponder sees them against the
server's own figure (llama.cpp's timings.predicted_per_second, Ollama's eval_duration).

Without --url it runs against the llama.cpp stand-in of the tests (127.0.0.1, pacing its
pieces to --stand-in-tps). With --llama-server it starts llama.cpp's real llama-server on
127.0.0.1 with SmolLM2, its layers on two RPC servers (as the tests do: built once from the
pinned llama-cpp-python sdist and cached, see tests/llama_servers.py), and stops them after.
Replies are --tokens long (ignore_eos). Prints one JSON object.

    python bench/remote_overhead.py [--url URL | --llama-server] [--model M] [--api-key-env NAME]
                                    [--tokens 200] [--runs 5]
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
    """Seconds from sending to the first text, with httpx2 alone and the body Ponder sends."""
    ollama = engine.info.kind == "ollama"
    if ollama:
        path, body = "/api/chat", protocols.ollama_body(engine.model, messages, params, params.max_tokens,
                                                        engine.context_size, False)
    else:
        path, body = "/v1/chat/completions", protocols.openai_body(engine.info.kind, engine.model, messages, params,
                                                                  params.max_tokens, engine.supports_answer_now)
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


def start_cluster():
    """llama-server with SmolLM2's layers on two RPC servers, all on 127.0.0.1 (the tests' own)."""
    import tempfile

    from tests.llama_servers import Cluster, build
    from tests.model_files import smollm2_path

    log_dir = Path(tempfile.mkdtemp(prefix="remote-overhead-"))
    print(f"servers' logs in {log_dir}", file=sys.stderr)
    return Cluster(build(), smollm2_path(), log_dir, extra=["--jinja", "--reasoning-format", "deepseek"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--url", default=None, help="a server (default: the llama.cpp stand-in on 127.0.0.1)")
    where.add_argument("--llama-server", action="store_true",
                       help="start llama.cpp's llama-server over two RPC servers on 127.0.0.1 with SmolLM2")
    ap.add_argument("--model", default=None, help="the server's model (default: the first it lists)")
    ap.add_argument("--api-key-env", default=None, help="environment variable with the API key")
    ap.add_argument("--tokens", type=int, default=200, help="tokens per reply (default: 200)")
    ap.add_argument("--runs", type=int, default=5, help="replies measured (default: 5)")
    ap.add_argument("--stand-in-tps", type=float, default=100.0, help="the stand-in's pace (default: 100 tok/s)")
    args = ap.parse_args()

    standin = cluster = None
    url = args.url
    if args.llama_server:
        cluster = start_cluster()
        url = cluster.url
    elif url is None:
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
            params = GenParams(max_tokens=args.tokens, seed=1, temperature=0.0, ignore_eos=True)
            bare, runs = [], []
            # As Ponder streams: one client, a fresh connection per reply.
            with httpx2.Client(timeout=httpx2.Timeout(10.0, read=300.0),
                               limits=httpx2.Limits(max_keepalive_connections=0)) as client:
                for run in range(args.runs):
                    # Each goes first every other run, so neither always follows the other's
                    # reply (the server's slot and cache are then in the same state for both).
                    order = ("bare", "ponder") if run % 2 == 0 else ("ponder", "bare")
                    for i, who in enumerate(order):
                        messages = question(2 * run + i)
                        if who == "bare":
                            bare.append(bare_first_token(client, engine, headers, messages, params))
                        else:
                            runs.append(ponder_run(engine, messages, params))
            server = [r["server_tps"] for r in runs if r["server_tps"] is not None]
            report = {
                "url": engine.info.root, "kind": engine.info.kind, "model": engine.model,
                "server": "stand-in" if standin is not None else (
                    "llama-server over two RPC servers on 127.0.0.1" if cluster is not None else engine.info.label),
                "version": engine.info.version, "runs": args.runs, "tokens": runs[-1]["tokens"],
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
            # Each run's two requests went back to back: their difference, run by run, is
            # less at the mercy of a busy machine than the difference of the two medians.
            report["first_token_ms"]["added_paired_median"] = round(
                statistics.median(r["first_s"] - b for r, b in zip(runs, bare)) * 1000, 2)
            tps = report["tokens_per_second"]
            if tps["server_reported"]:
                tps["ratio"] = round(tps["ponder_seen"] / tps["server_reported"], 3)
    finally:
        if standin is not None:
            standin.__exit__(None, None, None)
        if cluster is not None:
            cluster.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
