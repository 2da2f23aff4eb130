"""A thread as Markdown, the thinking folded into <details> blocks."""

from __future__ import annotations

from app.core.records import StoredMessage


def thread_markdown(title: str, messages: list[StoredMessage]) -> str:
    out = [f"# {title}", ""]
    for m in messages:
        if m.role == "user":
            out += ["## You", "", m.content, ""]
            continue
        out += ["## Assistant", ""]
        if m.reasoning:
            summary = f"Thinking ({m.think_seconds:.0f} s)" if m.think_seconds is not None else "Thinking"
            out += ["<details>", f"<summary>{summary}</summary>", "", m.reasoning, "", "</details>", ""]
        out += [m.content or f"_({m.state})_", ""]
    return "\n".join(out).rstrip() + "\n"
