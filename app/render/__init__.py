"""Model answers (Markdown, code, LaTeX math) to HTML for QTextDocument.

Pure Python, no Qt: the view turns `RenderedHtml.images` into document resources and
handles the `copy:N` links (see markdown.py).
"""

from app.render.incremental import Block, IncrementalMarkdown, Update
from app.render.markdown import RenderedHtml, render_markdown

__all__ = ["Block", "IncrementalMarkdown", "RenderedHtml", "Update", "render_markdown"]
