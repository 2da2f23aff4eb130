"""How often a failing download is tried again: in its own module so the window can
name a policy without importing huggingface_hub (~0.5 s) at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff: a failing server is never retried forever."""

    attempts: int = 5  # tries in a row without progress, the first one included
    base_delay: float = 1.0
    max_delay: float = 16.0

    def delay(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** max(0, failures - 1)))
