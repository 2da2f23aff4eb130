"""Bytes off the wire into JSON payloads, with every parse bounded.

Server-sent events (OpenAI-compatible servers) and newline-delimited JSON (Ollama's
native API) both arrive as lines. A line longer than MAX_LINE_BYTES ends the reply
(a stream that never sends a newline would otherwise grow without end); a few
unreadable lines are skipped, more than MAX_BAD_LINES end it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from app.core.remote.errors import StreamMalformed

MAX_LINE_BYTES = 1 << 20
MAX_BAD_LINES = 20
DONE = "[DONE]"  # the OpenAI stream's last data line


class LineSplitter:
    """Bytes in, complete lines out (without their line ending), each bounded."""

    def __init__(self, where: str, limit: int = MAX_LINE_BYTES) -> None:
        self.where = where
        self.limit = limit
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        lines = []
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end < 0:
                break
            lines.append(self._line(self._buf[start:end]))
            start = end + 1
        del self._buf[:start]
        if len(self._buf) > self.limit:
            raise self._too_long()
        return lines

    def finish(self) -> list[str]:
        rest, self._buf = bytes(self._buf), bytearray()
        return [self._line(rest)] if rest.strip() else []

    def _line(self, raw: bytes | bytearray) -> str:
        if len(raw) > self.limit:
            raise self._too_long()
        return bytes(raw).rstrip(b"\r").decode("utf-8", errors="replace")

    def _too_long(self) -> StreamMalformed:
        return StreamMalformed(f"{self.where} sent a line longer than {self.limit // (1 << 20)} MB, which is not "
                               f"a reply Ponder can read; the reply was stopped there.")


class SSEDecoder:
    """Lines of a server-sent event stream in, each event's data out.

    Comments (': keep-alive', OpenRouter's ': OPENROUTER PROCESSING') and fields other
    than data are skipped; data lines of one event are joined with newlines (the SSE
    rule), bounded like a line.
    """

    def __init__(self, where: str, limit: int = MAX_LINE_BYTES) -> None:
        self.where = where
        self.limit = limit
        self._data: list[str] = []
        self._size = 0

    def feed(self, line: str) -> str | None:
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field != "data":
            return None
        value = value.removeprefix(" ")
        self._size += len(value) + 1
        if self._size > self.limit:
            raise StreamMalformed(f"{self.where} sent an event longer than {self.limit // (1 << 20)} MB; "
                                  f"the reply was stopped there.")
        self._data.append(value)
        return None

    def flush(self) -> str | None:
        if not self._data:
            return None
        data, self._data, self._size = "\n".join(self._data), [], 0
        return data


class PayloadReader:
    """Event texts in, JSON objects out; counts the ones that are not."""

    def __init__(self, where: str, max_bad: int = MAX_BAD_LINES) -> None:
        self.where = where
        self.max_bad = max_bad
        self.bad = 0

    def parse(self, text: str) -> dict | None:
        text = text.strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        self.bad += 1
        if self.bad > self.max_bad:
            raise StreamMalformed(f"{self.where} sent more than {self.max_bad} lines that are not its protocol's "
                                  f"JSON; the reply was stopped there.")
        return None


def sse_payloads(chunks: Iterable[bytes], where: str) -> Iterator[dict | str]:
    """JSON objects from an SSE byte stream; the string DONE at '[DONE]'."""
    lines, events, payloads = LineSplitter(where), SSEDecoder(where), PayloadReader(where)
    for chunk in chunks:
        for line in lines.feed(chunk):
            data = events.feed(line)
            if data is not None:
                yield from _payload(data, payloads)
    for line in lines.finish():
        data = events.feed(line)
        if data is not None:
            yield from _payload(data, payloads)
    data = events.flush()
    if data is not None:
        yield from _payload(data, payloads)


def _payload(data: str, payloads: PayloadReader) -> Iterator[dict | str]:
    if data.strip() == DONE:
        yield DONE
        return
    parsed = payloads.parse(data)
    if parsed is not None:
        yield parsed


def ndjson_payloads(chunks: Iterable[bytes], where: str) -> Iterator[dict]:
    """JSON objects from a newline-delimited JSON byte stream (Ollama)."""
    lines, payloads = LineSplitter(where), PayloadReader(where)
    for chunk in chunks:
        for line in lines.feed(chunk):
            parsed = payloads.parse(line)
            if parsed is not None:
                yield parsed
    for line in lines.finish():
        parsed = payloads.parse(line)
        if parsed is not None:
            yield parsed
