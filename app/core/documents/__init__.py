"""Documents attached to a question: reading files into text (PDF, Word, text, Markdown,
HTML, CSV/TSV, JSON, code), chunking and BM25 ranking, the whole/passages/refuse
budget decision in the model's tokens, and the prompt text that carries them.

Pure Python, no Qt. `persist` (the history store) is imported from its module.
"""

from app.core.documents.budget import plan_context, reply_reserve
from app.core.documents.context import prepare_context
from app.core.documents.errors import DocumentError, ExtractionCancelled
from app.core.documents.extract import DEFAULT_MAX_BYTES, extract_bytes, extract_file
from app.core.documents.jobs import ExtractionJob, ExtractionProgress, extract_files
from app.core.documents.model import EXTRACTOR_VERSION, Document
from app.core.documents.plan import ContextPlan, DocumentPlan, Passage
from app.core.documents.wrapping import DOCUMENTS_INSTRUCTION, render_block, with_documents

__all__ = [
    "DEFAULT_MAX_BYTES", "DOCUMENTS_INSTRUCTION", "EXTRACTOR_VERSION", "ContextPlan", "Document", "DocumentError",
    "DocumentPlan", "ExtractionCancelled", "ExtractionJob", "ExtractionProgress", "Passage", "extract_bytes",
    "extract_file", "extract_files", "plan_context", "prepare_context", "render_block", "reply_reserve",
    "with_documents",
]
