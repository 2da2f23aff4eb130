"""Why a document could not be read, in words a person can act on."""

from __future__ import annotations

from app.core.errors import AppError


class DocumentError(AppError):
    """A file could not be turned into text; `user_message` says why."""


class UnsupportedFormat(DocumentError):
    pass


class FileTooLarge(DocumentError):
    pass


class EmptyDocument(DocumentError):
    pass


class NotText(DocumentError):
    """Binary content behind a text extension."""


class CorruptDocument(DocumentError):
    pass


class EncryptedDocument(DocumentError):
    pass


class NoTextLayer(DocumentError):
    """A PDF made of images (a scan): no OCR here."""


class DocumentUnreadable(DocumentError):
    """Missing, vanished, a folder, or no permission."""


class ExtractionCancelled(DocumentError):
    pass
