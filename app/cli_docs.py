"""`ask --doc FILE`: documents read, fitted to the loaded model's context, and put in
the prompt; what was used is reported before the reply (a `context` event with
--json, a short note on stderr otherwise)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.core.documents import (
    DEFAULT_MAX_BYTES,
    ContextPlan,
    Document,
    extract_files,
    prepare_context,
    reply_reserve,
)
from app.core.errors import AppError
from app.core.types import GenParams, Message


class DocumentsDontFit(AppError):
    """Even the most relevant passages leave no room in the context."""


def add_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("--doc", action="append", type=Path, default=[], metavar="FILE",
                     help="attach a document (PDF, DOCX, text, Markdown, HTML, CSV, JSON, code); repeatable")
    ask.add_argument("--max-doc-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20,
                     help="skip documents larger than this (MiB)")


def read(args: argparse.Namespace) -> list[Document]:
    """The --doc files as Documents (failed ones carry their reason)."""
    if not args.doc:
        return []
    return extract_files(args.doc, max_bytes=int(args.max_doc_mb * 2**20))


def attach(docs: list[Document], engine, messages: list[Message], params: GenParams, as_json: bool) -> list[Message]:
    """The messages with the documents in them; reports the plan; raises
    DocumentsDontFit when they cannot go in at all."""

    def count(text: str) -> int:
        return len(engine.tokenize(text, starts_prompt=False))

    plan, final = prepare_context(messages, docs, count_prompt_tokens=engine.count_prompt_tokens,
                                  count_tokens=count, context_size=engine.context_size,
                                  reply_reserve=reply_reserve(params, engine.context_size))
    if as_json:
        print(json.dumps(plan.to_json(), ensure_ascii=False), flush=True)
    else:
        sys.stderr.write(summary(plan) + "\n")
    if plan.decision == "refuse":
        raise DocumentsDontFit(plan.reason or "The documents do not fit in the context.")
    return final


def summary(plan: ContextPlan) -> str:
    """One line per document: what the model gets from it."""
    lines = []
    for d in plan.documents:
        if d.mode == "whole":
            lines.append(f"{d.name}: whole ({d.tokens:,} tokens)")
        elif d.mode == "passages":
            where = ", ".join(p.location for p in d.passages) or "none fitted"
            lines.append(f"{d.name}: {len(d.passages)} passages of {d.tokens:,} tokens ({where})")
        elif d.mode == "failed":
            lines.append(f"{d.name}: not used: {d.error}")
        else:
            lines.append(f"{d.name}: left out ({d.tokens:,} tokens)")
    return "[documents] " + "; ".join(lines)
