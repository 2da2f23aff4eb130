"""How often a failing download is tried again: in its own module so the window can
name a policy without importing huggingface_hub (~0.5 s) at start-up."""

from __future__ import annotations

from dataclasses import dataclass

# One call gives up after this many requests for a file's bytes. A drop on a working line
# resumes where it stopped, so a few tries cover a flaky network; a server that restarts
# from zero (ignoring Range) or cuts off a little further each time would otherwise be
# asked forever. The partial file is kept, so trying again later loses nothing.
MAX_TRIES = 8
# ...and after this many seconds without a byte past the furthest one it already had.
# Not a limit on the whole download (a 9 GB file takes hours on a slow line): only time
# spent getting nowhere, re-fetching bytes already on disk or waiting to retry, counts.
MAX_STALLED_S = 180.0


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff: a failing server is never retried forever."""

    attempts: int = 5  # failed tries in a row without new bytes, the first one included
    base_delay: float = 1.0
    max_delay: float = 16.0
    max_tries: int = MAX_TRIES  # requests for the bytes in one call, however they end
    max_stalled_s: float = MAX_STALLED_S  # seconds in one call without a byte past the furthest so far

    def delay(self, failures: int) -> float:
        return min(self.max_delay, self.base_delay * (2 ** max(0, failures - 1)))
