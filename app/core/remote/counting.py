"""Token counts for a remote model: the server's own tokenizer where it offers one,
else an estimate (a character count divided by four, about right for English).

llama.cpp's server: `/apply-template` renders the chat, `/tokenize` counts. vLLM:
`/tokenize` takes text or chat messages. Others have no tokenizer endpoint. Counts are
cached by a hash of the text (documents are counted passage by passage, often twice).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence

from app.core.remote.errors import ModelNotFound, RemoteError, RequestRefused
from app.core.remote.http import Http
from app.core.types import Message

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4  # role markers a chat template puts around each message
CACHE_ENTRIES = 4096
COUNT_TIMEOUT = 10.0


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_prompt(messages: Sequence[Message]) -> int:
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD


class TokenCounter:
    """Counts for one model on one server; `exact` is False once counts are estimates."""

    def __init__(self, http: Http, kind: str, model: str) -> None:
        self._http = http
        self._kind = kind
        self._model = model
        self._cache: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self.exact = kind in ("llama.cpp", "vllm") and self._works()

    def _works(self) -> bool:
        try:
            self._server_text("hi")
            return True
        except RemoteError as exc:
            log.info("token counts for %s are estimates: %s", self._http.where, exc.user_message)
            return False

    def count_text(self, text: str) -> int:
        if not self.exact:
            return estimate_tokens(text)
        return self._cached("t", text, lambda: self._server_text(text), lambda: estimate_tokens(text))

    def count_messages(self, messages: Sequence[Message]) -> int:
        if not self.exact:
            return estimate_prompt(messages)
        key = "\x00".join(f"{m.role}\x01{m.content}" for m in messages)
        return self._cached("m", key, lambda: self._server_messages(messages), lambda: estimate_prompt(messages))

    def _cached(self, kind: str, text: str, ask, estimate) -> int:
        key = (kind, hashlib.blake2b(text.encode("utf-8", errors="surrogatepass"), digest_size=16).digest())
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            n = ask()
        except (ModelNotFound, RequestRefused) as exc:  # the endpoint is gone: estimate from now on
            log.warning("token counting stopped working on %s: %s", self._http.where, exc.user_message)
            self.exact = False
            return estimate()
        except RemoteError as exc:  # a passing failure: this one count is an estimate
            log.warning("token count failed on %s: %s", self._http.where, exc.user_message)
            return estimate()
        self._cache[key] = n
        if len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return n

    def _server_text(self, text: str) -> int:
        if self._kind == "llama.cpp":
            data = self._http.post_json("/tokenize", {"content": text, "add_special": False}, timeout=COUNT_TIMEOUT)
            return _length(data.get("tokens"), self._http.where)
        data = self._http.post_json("/tokenize", {"model": self._model, "prompt": text, "add_special_tokens": False},
                                    model=self._model, timeout=COUNT_TIMEOUT)
        return _count(data, self._http.where)

    def _server_messages(self, messages: Sequence[Message]) -> int:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        if self._kind == "llama.cpp":
            rendered = self._http.post_json("/apply-template", {"messages": chat}, timeout=COUNT_TIMEOUT)
            prompt = rendered.get("prompt")
            if not isinstance(prompt, str):
                raise RemoteError(f"{self._http.where} gave no prompt from /apply-template.")
            data = self._http.post_json("/tokenize", {"content": prompt, "add_special": True}, timeout=COUNT_TIMEOUT)
            return _length(data.get("tokens"), self._http.where)
        body = {"model": self._model, "messages": chat, "add_generation_prompt": True}
        data = self._http.post_json("/tokenize", body, model=self._model, timeout=COUNT_TIMEOUT)
        return _count(data, self._http.where)


def _length(tokens: object, where: str) -> int:
    if not isinstance(tokens, list):
        raise RemoteError(f"{where} answered /tokenize without a token list.")
    return len(tokens)


def _count(data: dict, where: str) -> int:
    n = data.get("count")
    if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
        return n
    return _length(data.get("tokens"), where)
