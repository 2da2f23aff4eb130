"""Token pieces (bytes) to text, safe for characters split across tokens."""

from __future__ import annotations

import codecs


class Utf8Stream:
    """Feed the bytes of each token; get back only whole characters.

    A character whose bytes span several tokens comes out once complete; bytes that
    can never form a character become U+FFFD instead of raising.
    """

    def __init__(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # Bound once: this runs per token.
        self.feed = decoder.decode
        self._decoder = decoder

    def flush(self) -> str:
        """Whatever is left at the end of the stream (an incomplete character: U+FFFD)."""
        return self._decoder.decode(b"", final=True)
