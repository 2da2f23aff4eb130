"""Turning a conversation into the model's prompt text.

The chat template stored in the GGUF is used when it renders; otherwise a built-in
Phi-4 format. Earlier assistant turns go in with their answer only (never their
thinking), as Phi-4-reasoning's own template does, so a follow-up only has to
evaluate the last answer and the new message: everything before it is still in
the KV cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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


class PromptRenderer:
    """Renders with the GGUF's Jinja template, falling back to the built-in format."""

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self._formatter = None
        if template:
            try:
                # llama-cpp-python's formatter mirrors transformers' Jinja environment,
                # including the {% generation %} tag in Microsoft's Phi-4 template.
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                self._formatter = Jinja2ChatFormatter(template, eos_token, bos_token)
            except Exception as exc:  # a template that does not even parse
                log.warning("chat template in the model does not parse (%s); using built-in Phi-4 format", exc)
        else:
            log.info("model has no chat template; using built-in Phi-4 format")

    def render(self, messages: list[Message]) -> RenderedPrompt:
        text, template = None, "builtin"
        if self._formatter is not None:
            try:
                payload = [{"role": m.role, "content": m.content} for m in messages]
                text = self._formatter(messages=payload).prompt
                template = "gguf"
            except Exception as exc:
                log.warning("chat template failed to render (%s); using built-in Phi-4 format", exc)
        if text is None:
            text = render_builtin(messages)
        return RenderedPrompt(text, template, text.rstrip().endswith(THINK_OPEN))
