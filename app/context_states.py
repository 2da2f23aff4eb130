"""Where each conversation's read prompt is kept on disk, and how much of the disk it may take.

One store per run of the window, the `ask` command or the server, all in the same folder
(the store's lock is per process; its files are renamed into place atomically, so runs side
by side at worst miss each other's newest state). The budget is the setting in gigabytes.
"""

from __future__ import annotations

import logging
import math

from app import paths
from app.core.saved_states import GB, StateStore

log = logging.getLogger(__name__)
FOLDER = "context-states"


def budget_bytes(gigabytes: float) -> int:
    """The setting (GB, 1000**3 bytes; 0 turns saving off) as the store's budget."""
    if not math.isfinite(gigabytes) or gigabytes <= 0:
        return 0
    return int(gigabytes * GB)


def open_store(gigabytes: float) -> StateStore | None:
    """The store in the cache folder, with the setting's budget (None when there is no cache
    folder to be had: prompts are then read in full, as before). Cheap: it only sweeps
    leftovers of interrupted saves; nothing is read until a prompt looks for a state."""
    try:
        root = paths.cache_dir() / FOLDER
    except OSError as exc:
        log.warning("no folder for saved context states: %s", exc)
        return None
    return StateStore(root, budget_bytes(gigabytes))


def gb_text(n_bytes: int) -> str:
    """Disk use for people: "0 GB", "0.3 GB", "12 GB"."""
    if n_bytes <= 0:
        return "0 GB"
    value = n_bytes / GB
    if value < 0.05:
        return "under 0.1 GB"
    return f"{value:.1f} GB" if round(value, 1) < 10 else f"{value:,.0f} GB"
