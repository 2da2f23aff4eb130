"""Errors people see. Each carries a plain-language `user_message`.

Anything raised by llama-cpp-python or the gguf package is translated into one of
these at the boundary where it happens, so the GUI and the CLI never show a traceback.
"""

from __future__ import annotations


class AppError(Exception):
    """Base class: `user_message` is what the app shows; str() is the same."""

    def __init__(self, user_message: str, **details: object) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.details = details


class ModelFileError(AppError):
    """The model file cannot be used: missing, not a GGUF, damaged, unsupported."""


class ModelMissing(ModelFileError):
    pass


class NotAGGUF(ModelFileError):
    pass


class CorruptModel(ModelFileError):
    pass


class UnsupportedArchitecture(ModelFileError):
    pass


class ModelLoadError(AppError):
    """The file looked fine but llama.cpp could not load it for another reason."""


class OutOfMemory(ModelLoadError):
    pass


class ContextOverflow(AppError):
    """The prompt plus the space reserved for the reply does not fit the context."""

    def __init__(self, prompt_tokens: int, context_size: int, reserved: int) -> None:
        super().__init__(
            f"The conversation is too long for the model's context: the prompt is "
            f"{prompt_tokens:,} tokens, {reserved:,} more are reserved for the reply, "
            f"and the context holds {context_size:,}. Start a new thread, remove "
            f"attachments, or raise the context size.",
            prompt_tokens=prompt_tokens,
            context_size=context_size,
            reserved=reserved,
        )
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size
        self.reserved = reserved


class PromptError(AppError):
    """The conversation rendered to a prompt the model cannot read (empty, unknown tokens)."""


class GenerationError(AppError):
    """llama.cpp failed while generating (a decode call returned an error)."""


class DownloadError(AppError):
    """A model download could not finish; a partial file, if any, is kept for resuming."""


class NoNetwork(DownloadError):
    pass


class OfflineMode(NoNetwork):
    """HF_HUB_OFFLINE is set and the file is not on disk."""


class NotFoundOnHub(DownloadError):
    """The repository or the file in it does not exist (or is private)."""


class AccessDenied(DownloadError):
    """Gated or private: the Hub wants a token with access."""


class ServerError(DownloadError):
    """The Hub kept failing (5xx) after a bounded number of retries."""


class DiskFull(DownloadError):
    pass


class DownloadCancelled(DownloadError):
    pass


class ChecksumMismatch(DownloadError):
    """The bytes on disk do not hash to the sha256 the Hub published."""
