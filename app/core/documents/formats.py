"""Which reader handles a file, decided by its name (extension or well-known file name)."""

from __future__ import annotations

from pathlib import Path

_BY_SUFFIX = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text", ".text": "text", ".log": "text", ".rst": "text", ".tex": "text",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".csv": "csv", ".tsv": "csv",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}
_CODE_SUFFIXES = {
    ".py", ".pyi", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".java", ".kt", ".kts", ".scala",
    ".go", ".rs", ".swift", ".m", ".mm", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".vue", ".svelte",
    ".rb", ".php", ".pl", ".pm", ".lua", ".r", ".jl", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml", ".mli",
    ".clj", ".fs", ".fsx", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd", ".sql", ".css", ".scss",
    ".sass", ".less", ".xml", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".properties", ".gradle",
    ".cmake", ".mk", ".proto", ".graphql", ".gql", ".zig", ".nim", ".v", ".sv", ".vhd", ".asm", ".s",
    ".f90", ".ipynb", ".env", ".diff", ".patch",
}
_CODE_NAMES = {"makefile", "dockerfile", "cmakelists.txt", "gemfile", "rakefile", "justfile", "procfile",
               "license", "readme", "changelog", "authors", "copying", "notice"}

TEXT_FORMATS = {"text", "markdown", "html", "csv", "json", "code"}
SUPPORTED_DESCRIPTION = "PDF, Word (.docx), text, Markdown, HTML, CSV/TSV, JSON and source code files"


def format_of(path: str | Path) -> str | None:
    """The reader for `path`, or None when the format is not supported."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix in _CODE_SUFFIXES or p.name.lower() in _CODE_NAMES:
        return "code"
    return None
