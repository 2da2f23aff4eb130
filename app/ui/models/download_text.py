"""Words and numbers for downloads, shared by the models dialog, the first-run panel and the status bar."""

from __future__ import annotations


def size_text(n: int | None, approx: bool = False) -> str:
    if n is None:
        return "size unknown"
    text = f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
    return f"about {text}" if approx else text


def short_size(n: int | None) -> str:
    """"about 9 GB" for a button, where two decimals would be false precision."""
    if not n:
        return ""
    return f"about {n / 1e9:.0f} GB" if n >= 1e9 else f"about {n / 1e6:.0f} MB"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min left"
    if s >= 60:
        return f"{s // 60} min left"
    return f"{s} s left"


def progress_text(p) -> str:
    """"1.20 GB of 9.05 GB · 12.3 MB/s · 11 min left" from a core Progress."""
    speed = f"{p.speed / 1e6:.1f} MB/s" if p.speed else "starting…"
    return f"{size_text(p.done)} of {size_text(p.total)} · {speed} · {duration_text(p.eta)}"


def percent(p) -> int:
    return int(p.fraction * 100) if p is not None else 0


def failure_text(message: str, kind: str, kept: bool = False) -> str:
    """The core's message (said once), then what happens next; `kept`: part of the file is
    on disk and the next try continues from it."""
    if kind == "offline":
        return f"{message} Turn offline mode off to download; models already downloaded work without a network."
    if kind in ("network", "disk") and kept:
        return f"{message} What was downloaded is kept, and the next try continues from there."
    return message
