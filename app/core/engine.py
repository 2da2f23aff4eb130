"""The engine: a GGUF model run in-process by llama.cpp, streaming typed events.

`LlamaEngine` drives llama-cpp-python's low-level API with its own token loop rather
than `Llama.create_completion`: the high-level stream path costs 6-11% of decode
speed in Python overhead, and the loop here also gives cancel between prompt
batches, prompt-progress events, and KV-cache reuse across turns.

One engine is owned by one thread at a time (the GUI's generation worker, or the
CLI's main thread); only `cancel` events cross threads.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import llama_cpp

from app.core import llama_runtime
from app.core.context_rules import DEFAULT_CONTEXT, default_context, reply_reserve  # noqa: F401 (re-exported)
from app.core.detokenize import Utf8Stream
from app.core.engine_contract import Engine, LoadParams, default_threads  # noqa: F401 (re-exported)
from app.core.errors import AppError, ContextOverflow, GenerationError, PromptError
from app.core.llama_load import cache_type, load_model_and_context
from app.core.model_file import ModelFileInfo, inspect_model_file
from app.core.prompt import PromptRenderer, RenderedPrompt
from app.core.reasoning import ReasoningParser
from app.core.sampling import build_sampler
from app.core.saved_states import StateKey
from app.core.speculative import DraftController, DraftCosts, DraftReport, SpeculativeDecoder
from app.core.state_keeper import StateKeeper
from app.core.thinking import ThinkingControl, direct_prefix
from app.core.types import ErrorEvent, Event, GenParams, Message, ProgressEvent, RateEvent, Stats, StatsEvent

log = logging.getLogger(__name__)

RATE_EVERY_SECONDS = 0.5  # live tok/s for the status bar
# A decode slower than this makes per-token cancel checks too coarse for the 100 ms
# goal, so llama.cpp's abort callback is switched on (it costs a Python call per graph
# node, too much for fast tokens, negligible for slow ones).
SLOW_TOKEN_SECONDS = 0.05
ANSWER_NOW_TEXT = "\n</think>\n\n"


class LlamaEngine:
    def __init__(self, path: str | Path, load: LoadParams = LoadParams()) -> None:
        self.info: ModelFileInfo = inspect_model_file(path)
        self.path = self.info.path
        self.load_params = load
        llama_runtime.ensure_initialised()
        self._model, self._ctx = load_model_and_context(self.path, load)
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.context_size = llama_cpp.llama_n_ctx(self._ctx)
        self.name = self.path.name
        self.n_layers = llama_cpp.llama_model_n_layer(self._model)
        self._batch_size = llama_cpp.llama_n_batch(self._ctx)
        # Drafts need the context to drop their rejected tail, which recurrent state cannot.
        self._can_draft = not (llama_cpp.llama_model_is_recurrent(self._model)
                               or llama_cpp.llama_model_is_hybrid(self._model))
        on_gpu = llama_cpp.llama_supports_gpu_offload() and (load.n_gpu_layers < 0
                                                             or load.n_gpu_layers >= self.n_layers)
        self._draft_costs = DraftCosts(on_gpu)
        # Saved states need the context to drop a loaded state's tail, as drafts do.
        self._keeper: StateKeeper | None = None
        if load.states is not None and self._can_draft:
            key = StateKey(str(self.path.resolve()), self.info.size_bytes, self.path.stat().st_mtime_ns,
                           self.context_size, cache_type(load), str(load.flash_attn),
                           f"{llama_cpp.LLAMA_STATE_SEQ_VERSION}/{llama_cpp.__version__}")
            self._keeper = StateKeeper(load.states, key, f"{key.digest}/{load.n_gpu_layers}/{int(on_gpu)}")
        self._cached: list[int] = []  # tokens whose K/V sit in the context, in order
        self._pieces: dict[int, bytes] = {}
        self._piece_buf = ctypes.create_string_buffer(256)
        self._cancel: threading.Event | None = None
        self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: bool(self._cancel and self._cancel.is_set()))
        self._abort_on = False
        self._add_bos = llama_cpp.llama_vocab_get_add_bos(self._vocab)
        self._bos_text = self._token_text(llama_cpp.llama_vocab_bos(self._vocab))
        template = load.chat_template
        if template is None:
            raw = llama_cpp.llama_model_chat_template(self._model, None)
            template = raw.decode("utf-8", errors="replace") if raw else None
        self._renderer = PromptRenderer(
            template, self._bos_text, self._token_text(llama_cpp.llama_vocab_eos(self._vocab))
        )

    # -- loading -----------------------------------------------------------------

    def close(self) -> None:
        """Keep the conversation's state (when saving states), then free the context and the
        weights now (not whenever the GC runs)."""
        if self._ctx:
            self.keep_state()
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None
        self._cached.clear()

    def __enter__(self) -> LlamaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens --------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        raw = llama_cpp.llama_vocab_get_text(self._vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    def tokenize(self, text: str, *, starts_prompt: bool = True) -> list[int]:
        if not self._model:  # the vocabulary went with the weights
            raise AppError("The model has been unloaded.")
        data = text.encode("utf-8")
        # Templates usually write the BOS token themselves; adding another would
        # double it. Text appended mid-stream gets none.
        add_special = (
            starts_prompt and bool(self._add_bos) and not (self._bos_text and text.startswith(self._bos_text))
        )
        capacity = len(data) + 8
        arr = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), arr, capacity, add_special, True)
        if n < 0:
            capacity = -n
            arr = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), arr, capacity, add_special, True)
        return list(arr[:n])

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            # special=True: reasoning tags are special tokens in some vocabularies
            # and must reach the parser.
            n = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, True)
            piece = self._piece_buf.raw[: max(n, 0)]
            self._pieces[token] = piece
        return piece

    def render(self, messages: Sequence[Message]) -> RenderedPrompt:
        return self._renderer.render(list(messages))

    @property
    def template_problem(self) -> str | None:
        """Why the model's own chat template is not used, as a sentence for people; None when it is
        (or the model has none). Set at load, or at the first render that runs over or fails."""
        return self._renderer.template_problem

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.tokenize(self.render(messages).text))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text, starts_prompt=False))

    @property
    def cached_tokens(self) -> list[int]:
        """Tokens whose keys and values are in the context now (a copy)."""
        return list(self._cached)

    def reset(self) -> None:
        """Forget the cached conversation (the next prompt is evaluated in full, or restored)."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
        self._cached.clear()
        if self._keeper is not None:
            self._keeper.truncated(0)

    # -- saved states ---------------------------------------------------------------------------

    def keep_state(self) -> bool:
        """Save the conversation in the context (its prompt and reply so far) to the state store,
        unless it is already there, too short, or quicker to read again. True when one was written."""
        if self._keeper is None or not self._ctx:
            return False
        return self._keeper.keep(self._ctx, self._cached)

    # -- generation ---------------------------------------------------------------

    def stream(
        self,
        messages: Sequence[Message],
        params: GenParams = GenParams(),
        cancel: threading.Event | None = None,
        answer_now: threading.Event | None = None,
    ) -> Iterator[Event]:
        """Generate a reply to `messages` as reasoning/answer events, then a stats event.

        Raises ContextOverflow before any work if the prompt and the reply's reserve
        (context_rules.reply_reserve) do not fit, and PromptError if the prompt is empty
        or holds a token outside the vocabulary. Setting `cancel` (from any thread) stops within a token or a
        prompt batch; setting `answer_now` closes the thinking and lets the model
        answer from there, as the thinking budget (params.think_budget) does when spent.
        With params.answer_directly the reply starts with its thinking already closed.
        """
        if not self._ctx:
            raise AppError("The model has been unloaded.")
        rendered = self.render(messages)
        prefix = direct_prefix(rendered.opens_thinking) if params.answer_directly else ""
        tokens = self.tokenize(rendered.text + prefix)
        # llama.cpp aborts the whole process when asked to sample after an empty prompt (there
        # are no logits), and cannot evaluate a token id outside the vocabulary: refuse both
        # here, before anything is decoded.
        if not tokens:
            raise PromptError(
                "The model's chat template turned this conversation into an empty prompt, so there "
                "is nothing for the model to read. Use another model."
            )
        n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        if not all(0 <= t < n_vocab for t in tokens):
            raise PromptError("The prompt holds a token this model does not have, so it cannot be read. "
                              "Use another model.")
        reserved = reply_reserve(params, self.context_size)
        if len(tokens) + reserved > self.context_size:
            raise ContextOverflow(len(tokens), self.context_size, reserved)
        log.info("prompt: %d tokens, template=%s", len(tokens), rendered.template)
        return self._run(tokens, rendered, params, cancel or threading.Event(), answer_now, prefix)

    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Drop cached K/V after the longest prefix shared with `tokens`; return its length."""
        n = 0
        limit = min(len(tokens), len(self._cached))
        while n < limit and self._cached[n] == tokens[n]:
            n += 1
        n = min(n, len(tokens) - 1)  # the last prompt token must run again for fresh logits
        if n < len(self._cached):
            # Another conversation (or an earlier point of this one): keep this one's state
            # before its tail leaves the context.
            self.keep_state()
            mem = llama_cpp.llama_get_memory(self._ctx)
            if not llama_cpp.llama_memory_seq_rm(mem, 0, n, -1):
                llama_cpp.llama_memory_clear(mem, True)
                n = 0
            del self._cached[n:]
            if self._keeper is not None:
                self._keeper.truncated(n)
        return n

    def _set_abort(self, on: bool) -> None:
        if on != self._abort_on:
            cb = self._abort_cb if on else llama_cpp.ggml_abort_callback()
            llama_cpp.llama_set_abort_callback(self._ctx, cb, None)
            self._abort_on = on

    def _decode(self, tokens: list[int]) -> int:
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        rc = llama_cpp.llama_decode(self._ctx, llama_cpp.llama_batch_get_one(arr, len(tokens)))
        if rc == 0:
            self._cached.extend(tokens)
        else:  # make sure a failed or aborted batch leaves nothing half-cached
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self._ctx), 0, len(self._cached), -1)
        return rc

    def _run(
        self,
        tokens: list[int],
        rendered: RenderedPrompt,
        params: GenParams,
        cancel: threading.Event,
        answer_now: threading.Event | None,
        prefix: str = "",
    ) -> Iterator[Event]:
        self._cancel = cancel
        parser = ReasoningParser(start_in_reasoning=rendered.opens_thinking)
        parser.feed(prefix)  # an empty, closed thinking block: no events
        control = ThinkingControl(params, answer_now)
        t_start = time.perf_counter()
        finish, error = "stop", None
        generated, evaluated, think_tokens = 0, 0, 0
        drafts = DraftReport(0, 0, 1.0)
        t_gen = t_think_end = None
        smpl = None
        restored, restore_seconds = 0, 0.0
        try:
            # Built before the clock starts: a grammar or an EOG ban takes a while.
            smpl = build_sampler(self._vocab, params)
            t_start = time.perf_counter()
            reused = self._reuse_prefix(tokens)
            if self._keeper is not None:
                reused, restore_seconds = self._keeper.restore(self._ctx, self._cached, tokens, reused)
            restored = reused if restore_seconds else 0
            t_read = time.perf_counter()
            todo = tokens[reused:]
            self._set_abort(True)  # prompt batches can take seconds each on a CPU
            for start in range(0, len(todo), self._batch_size):
                if cancel.is_set():
                    finish = "cancelled"
                    break
                chunk = todo[start : start + self._batch_size]
                rc = self._decode(chunk)
                if rc == 2 or (rc and cancel.is_set()):
                    finish = "cancelled"
                    break
                if rc:
                    raise GenerationError(f"llama.cpp failed while reading the prompt (code {rc}).")
                evaluated += len(chunk)
                if len(todo) > self._batch_size:
                    yield ProgressEvent(evaluated, len(todo))
            if evaluated:
                # A GPU decodes asynchronously: wait for the prompt's last batch, so the time
                # the status bar and the saved-state decision use is the reading's own.
                llama_cpp.llama_synchronize(self._ctx)
            t_gen = time.perf_counter()
            if finish == "stop" and self._keeper is not None:
                self._keeper.read(evaluated, t_gen - t_read)
            if finish == "stop":
                finish, generated, t_think_end, think_tokens, drafts = yield from self._generate(
                    smpl, parser, params, cancel, control)
        except AppError as exc:
            finish, error = "error", exc
        except Exception as exc:  # llama.cpp or ctypes failure mid-stream: report, never crash
            log.exception("generation failed")
            finish, error = "error", GenerationError(f"Generation failed: {exc}")
        finally:
            self._cancel = None
            if smpl:
                llama_cpp.llama_sampler_free(smpl)
            if self._ctx:
                self._set_abort(False)
        yield from parser.finish()
        if error is not None:
            yield ErrorEvent(error.user_message, type(error).__name__)
        t_end = time.perf_counter()
        t_gen = t_gen or t_end
        gen_seconds = t_end - t_gen
        if t_think_end is None:
            thought = bool(parser.reasoning or parser.reasoning_unfinished)
            think, think_tokens = (gen_seconds, generated) if thought else (0.0, 0)
        else:
            think = t_think_end - t_gen
        yield StatsEvent(
            Stats(
                prompt_tokens=len(tokens),
                evaluated_prompt_tokens=evaluated,
                generated_tokens=generated,
                reasoning_tokens=think_tokens,
                think_seconds=round(think, 3),
                answer_seconds=round(gen_seconds - think, 3),
                prompt_seconds=round(t_gen - t_start, 3),
                tokens_per_second=round(generated / gen_seconds, 2) if gen_seconds > 0 else 0.0,
                finish_reason=finish,
                reasoning_unfinished=parser.reasoning_unfinished,
                context_size=self.context_size,
                template=rendered.template,
                thinking_end=control.end(parser, finish),
                think_budget=control.budget,
                draft_tokens=drafts.drafted,
                draft_accepted=drafts.accepted,
                draft_speedup=drafts.speedup,
                restored_prompt_tokens=restored,
                restore_seconds=round(restore_seconds, 3),
            )
        )

    def _generate(self, smpl, parser: ReasoningParser, params: GenParams, cancel, control: ThinkingControl):
        """The token loop. Returns (finish_reason, generated, time thinking ended, tokens thinking
        took, drafts). Tokens go into the context through SpeculativeDecoder, which adds drafts
        from the conversation's own text where they pay."""
        controller = DraftController(self._draft_costs) if params.drafts and self._can_draft else None
        spec = SpeculativeDecoder(self._ctx, self._cached, controller, self._batch_size)
        try:
            return (yield from self._token_loop(smpl, spec, parser, params, cancel, control))
        finally:
            spec.discard()  # the context keeps exactly the reply's confirmed tokens
            spec.close()

    def _token_loop(self, smpl, spec: SpeculativeDecoder, parser: ReasoningParser, params: GenParams, cancel,
                    control: ThinkingControl):
        vocab, is_eog = self._vocab, llama_cpp.llama_vocab_is_eog
        pieces, piece_of = self._pieces, self._piece
        utf8 = Utf8Stream()
        cached = self._cached
        budget = min(params.max_tokens, self.context_size - len(cached))
        perf = time.perf_counter
        self._set_abort(False)
        generated, t_think_end, think_tokens, forced = 0, None, 0, False
        finish = "length"
        t_begin = t_rate = perf()
        if parser.reasoning_closed:  # Answer directly: the thinking closed before the first token
            t_think_end = t_begin
        while generated < budget:
            if cancel.is_set():
                finish = "cancelled"
                break
            # Thinking tokens are all the tokens so far: a reply's thinking comes first.
            why = control.due(generated) if not forced and parser.in_reasoning else None
            if why is not None:
                forced = True
                spec.discard()
                yield from self._force_answer(parser, utf8, control.closing(why))
                t_think_end, think_tokens = perf(), generated
                budget = min(budget, self.context_size - len(cached) + generated)
                continue
            t0 = perf()
            token = spec.sample(smpl)  # waits for the previous decode to finish
            t_model = perf() - t0
            if is_eog(vocab, token):
                finish = "stop"
                break
            generated += 1
            rc = 0
            if generated < budget:
                # Start the next step before handling this token's text: on a GPU the
                # decode runs asynchronously, so the Python work below overlaps it.
                t0 = perf()
                rc = spec.advance(token, budget - generated)
                t_model += perf() - t0
            piece = pieces.get(token) or piece_of(token)
            text = utf8.feed(piece)
            if text:
                events = parser.feed(text)
                if events:
                    yield from events
                    repeating = control.watch(events)
                    if repeating is not None:
                        yield repeating
                    if t_think_end is None and parser.reasoning_closed:
                        t_think_end, think_tokens = perf(), generated
            if rc:
                if rc == 2 or cancel.is_set():
                    finish = "cancelled"
                    break
                raise GenerationError(f"llama.cpp failed while generating (code {rc}).")
            if t_model > SLOW_TOKEN_SECONDS and not self._abort_on:
                self._set_abort(True)
            if perf() - t_rate >= RATE_EVERY_SECONDS:
                t_rate = perf()
                yield RateEvent(generated, t_rate - t_begin, think_budget=control.budget,
                                draft_speedup=spec.report(t_rate - t_begin).speedup)
        tail = utf8.flush()
        if tail:
            yield from parser.feed(tail)
        if t_think_end is None and parser.reasoning_closed:  # closed by answer-now or the tail
            t_think_end, think_tokens = perf(), generated
        spec.discard()
        return finish, generated, t_think_end, think_tokens, spec.report(perf() - t_begin)

    def _force_answer(self, parser: ReasoningParser, utf8: Utf8Stream, bridge: str = "") -> Iterator[Event]:
        """End the thinking now: put the closing tag into the context and the parser.
        The model also reads `bridge` before the tag; the trace does not show it as the
        model's own words (its note says why the thinking ended)."""
        pending = utf8.flush()
        rc = self._decode(self.tokenize(pending + bridge + ANSWER_NOW_TEXT, starts_prompt=False))
        if rc:
            raise GenerationError(f"llama.cpp failed while closing the thinking (code {rc}).")
        yield from parser.feed(pending + ANSWER_NOW_TEXT)
