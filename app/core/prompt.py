"""Turning a conversation into the model's prompt text.

The chat template stored in the GGUF is used when it renders within its budget;
otherwise a built-in Phi-4 format. Earlier assistant turns go in with their answer only (never their
thinking), as Phi-4-reasoning's own template does, so a follow-up only has to
evaluate the last answer and the new message: everything before it is still in
the KV cache.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from app.core.chat_template import ChatTemplate, TemplateProblem
from app.core.types import Message

log = logging.getLogger(__name__)

# Word for word from the Phi-4-reasoning model card: without it the model may not reason.
PHI4_REASONING_SYSTEM_PROMPT = (
    "You are Phi, a language model trained by Microsoft to help users. Your role as an "
    "assistant involves thoroughly exploring questions through a systematic thinking process "
    "before providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, "
    "backtracing, and iteration to develop well-considered thinking process. Please structure "
    "your response into two main sections: Thought and Solution using the specified format: "
    "<think> {Thought section} </think> {Solution section}. In the Thought section, detail your "
    "reasoning process in steps. Each step should include detailed considerations such as "
    "analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the "
    "accuracy of the current steps, refining any errors, and revisiting previous steps. In the "
    "Solution section, based on various attempts, explorations, and reflections from the "
    "Thought section, systematically present the final solution that you deem correct. The "
    "Solution section should be logical, accurate, and concise and detail necessary steps "
    "needed to reach the conclusion. Now, try to solve the following question through the "
    "above guidelines:"
)

THINK_OPEN = "<think>"


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    template: str  # "gguf" or "builtin": which format produced the text
    opens_thinking: bool  # the prompt itself ends with <think>: the reply starts inside it


def with_system_prompt(messages: list[Message], system_prompt: str | None) -> list[Message]:
    """Put `system_prompt` first unless the conversation already starts with one."""
    if messages and messages[0].role == "system":
        return messages
    if not system_prompt:
        return messages
    return [Message("system", system_prompt), *messages]


def render_builtin(messages: list[Message]) -> str:
    """Phi-4's own format: <|im_start|>role<|im_sep|>content<|im_end|>."""
    parts = [f"<|im_start|>{m.role}<|im_sep|>{m.content}<|im_end|>" for m in messages]
    parts.append("<|im_start|>assistant<|im_sep|>")
    return "".join(parts)


# Why a model's own template is not used, in words for people.
PROBLEMS = {
    "slow": "The model's chat template took too long to render, so Ponder uses the built-in Phi-4 format.",
    "large": "The model's chat template produced far too much text, so Ponder uses the built-in Phi-4 format.",
    "error": "The model's chat template does not work, so Ponder uses the built-in Phi-4 format.",
}
# Templates found unusable, by their text: a reload of the same model (a new context size,
# another layer split) does not spend the time budget on it again.
_unusable: dict[str, str] = {}


def _key(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8", "replace")).hexdigest()


class PromptRenderer:
    """Renders with the GGUF's Jinja template, falling back to the built-in format.

    The template is untrusted code: each render has a time and size budget
    (chat_template.ChatTemplate). Once it runs over or fails, this renderer uses the
    built-in format from then on and `template_problem` says why, as a sentence for
    people; it stays None while the model's template works (or the model has none).
    """

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self._template: ChatTemplate | None = None
        self._key = _key(template) if template else None
        self.template_problem: str | None = _unusable.get(self._key) if self._key else None
        if not template:
            log.info("model has no chat template; using built-in Phi-4 format")
            return
        if self.template_problem:
            log.info("chat template found unusable before; using built-in Phi-4 format")
            return
        try:
            self._template = ChatTemplate(template, bos_token, eos_token)
        except TemplateProblem as exc:  # a template that does not even parse
            self._give_up(exc)
            return
        # A first render now, so a template that hangs or fails is known when the model is
        # loaded rather than at the first question.
        self.render([Message("user", "Hello.")])

    def _give_up(self, exc: TemplateProblem) -> None:
        log.warning("chat template unusable (%s: %s); using built-in Phi-4 format", exc.kind, exc)
        self._template = None
        self.template_problem = PROBLEMS[exc.kind]
        if len(_unusable) > 64:
            _unusable.clear()
        _unusable[self._key] = self.template_problem

    def render(self, messages: list[Message]) -> RenderedPrompt:
        text, template = None, "builtin"
        if self._template is not None:
            try:
                text = self._template.render([{"role": m.role, "content": m.content} for m in messages])
                template = "gguf"
            except TemplateProblem as exc:
                self._give_up(exc)
        if text is None:
            text = render_builtin(messages)
        return RenderedPrompt(text, template, text.rstrip().endswith(THINK_OPEN))
