"""`ask --doc FILE`: documents read, fitted to the loaded model's context, and put in
the prompt; what was used is reported before the reply (a `context` event with
--json, a short note on stderr otherwise)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.core.conversation import Request, fit_documents
from app.core.documents import DEFAULT_MAX_BYTES, ContextPlan, Document, extract_files
from app.core.errors import AppError


class DocumentsDontFit(AppError):
    """Even the most relevant passages leave no room in the context."""


class NoDocumentRead(AppError):
    """Every --doc file failed: answering without them would answer another question."""


def add_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("--doc", action="append", type=Path, default=[], metavar="FILE",
                     help="attach a document (PDF, DOCX, text, Markdown, HTML, CSV, JSON, code); repeatable")
    ask.add_argument("--max-doc-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20,
                     help="skip documents larger than this (MiB)")


def read(args: argparse.Namespace) -> list[Document]:
    """The --doc files as Documents (failed ones carry their reason, and are reported
    with the plan); raises NoDocumentRead when not one of them could be read."""
    if not args.doc:
        return []
    docs = extract_files(args.doc, max_bytes=int(args.max_doc_mb * 2**20))
    if not any(d.ok for d in docs):
        reasons = " ".join(d.error or f"{d.name} could not be read." for d in docs)
        raise NoDocumentRead(f"No document could be read, so the question was not asked. {reasons}")
    return docs


def attach(docs: list[Document], engine, request: Request, as_json: bool) -> tuple[ContextPlan, Request]:
    """The plan and the request with the documents in it, fitted with the engine's own
    counts (the window's path, conversation.fit_documents); reports the plan; raises
    DocumentsDontFit when they cannot go in at all."""
    plan, fitted = fit_documents(request, docs, engine.count_prompt_tokens, engine.count_tokens, engine.context_size)
    if as_json:
        print(json.dumps(plan.to_json(), ensure_ascii=False), flush=True)
    else:
        sys.stderr.write(summary(plan) + "\n")
    if plan.decision == "refuse":
        raise DocumentsDontFit(plan.reason or "The documents do not fit in the context.")
    return plan, fitted


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
