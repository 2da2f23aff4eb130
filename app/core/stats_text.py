"""The status bar's words for a reply: where its prompt came from (also on the `ask` line),
its speed while it streams, and its totals.

A restored conversation answers in a second where reading it again took a minute: saying
so tells the person why, and what the saved states on disk are for. A short prompt read in
a blink is not worth the room, so nothing is said of it.
"""

from __future__ import annotations

from app.core.types import Stats

WORTH_SECONDS = 1.0  # a read this slow is felt
WORTH_TOKENS = 1_000  # a prompt this long is worth a word even when it was quick


def seconds_text(seconds: float) -> str:
    """"0.6 s" under ten seconds, "41 s" above; "under 0.1 s" rather than a puzzling "0.0 s"."""
    if seconds < 0.05:
        return "under 0.1 s"
    return f"{seconds:.1f} s" if seconds < 9.95 else f"{seconds:,.0f} s"


def prompt_text(stats: Stats) -> str:
    """"restored 12,034 tokens in 0.6 s · read 14 in 0.1 s", "read 12,034 tokens in 41 s",
    or "" when the prompt part is not worth saying (nothing restored, a short, quick read)."""
    read = stats.evaluated_prompt_tokens
    read_seconds = max(0.0, stats.prompt_seconds - stats.restore_seconds)
    about = "about " if stats.counts_estimated else ""
    if stats.restored_prompt_tokens > 0:
        return (f"restored {stats.restored_prompt_tokens:,} tokens in {seconds_text(stats.restore_seconds)}"
                f" · read {about}{read:,} in {seconds_text(read_seconds)}")
    if read_seconds >= WORTH_SECONDS or read >= WORTH_TOKENS:
        return f"read {about}{read:,} tokens in {seconds_text(read_seconds)}"
    return ""


def drafts_text(speedup: float) -> str:
    """" · 1.6x from drafts" once accepted drafts make the reply measurably faster."""
    return f" · {speedup:.1f}x from drafts" if speedup >= 1.05 else ""


def rate_line(rate) -> str:
    """While a reply streams (a RateEvent): speed, tokens so far, seconds."""
    return (f"{rate.tokens_per_second:.1f} tok/s · {rate.tokens:,} tokens · {rate.seconds:.0f} s"
            + drafts_text(rate.draft_speedup))


def totals_line(stats: Stats) -> str:
    """When a reply ends: where the prompt came from (when worth saying), speed, tokens, and the
    time spent thinking (left out when there was none) and answering."""
    prompt = prompt_text(stats)
    thought = stats.reasoning_tokens > 0 or stats.think_seconds >= 0.5
    return ((f"{prompt} · " if prompt else "")
            + f"{stats.tokens_per_second:.1f} tok/s · {stats.generated_tokens:,} tokens · "
            + (f"thought {stats.think_seconds:.0f} s · " if thought else "")
            + f"answered in {stats.answer_seconds:.0f} s"
            + drafts_text(stats.draft_speedup))
