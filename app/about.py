"""What the About box shows: versions and licences. No Qt, so the installer spec can import it.

Licences are read from the installed packages' metadata at run time (the bundles copy that
metadata in); KNOWN is the fallback when a package's metadata is missing or says only "BSD".
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from app import APP_NAME, __version__

MODEL = ("Phi-4-reasoning (Microsoft)", "MIT")

# Distribution name -> (what people call it, licence as its authors publish it).
KNOWN = {
    "PySide6_Essentials": ("PySide6 / Qt", "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"),
    "shiboken6": ("Shiboken6", "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only"),
    "llama_cpp_python": ("llama-cpp-python / llama.cpp", "MIT"),
    "huggingface_hub": ("huggingface-hub", "Apache-2.0"),
    "matplotlib": ("matplotlib", "PSF-based (matplotlib licence)"),
    "pygments": ("Pygments", "BSD-2-Clause"),
    "markdown-it-py": ("markdown-it-py", "MIT"),
    "mdit-py-plugins": ("mdit-py-plugins", "MIT"),
    "platformdirs": ("platformdirs", "MIT"),
    "gguf": ("gguf", "MIT"),
    "jinja2": ("Jinja2", "BSD-3-Clause"),
    "numpy": ("NumPy", "BSD-3-Clause"),
    "pypdfium2": ("pypdfium2 / PDFium", "BSD-3-Clause, Apache-2.0"),
    "python-docx": ("python-docx", "MIT"),
    "lxml": ("lxml", "BSD-3-Clause"),
    "charset-normalizer": ("charset-normalizer", "MIT"),
    "bm25s": ("bm25s", "MIT"),
    "starlette": ("Starlette", "BSD-3-Clause"),
    "uvicorn": ("Uvicorn", "BSD-3-Clause"),
    "keyring": ("keyring", "MIT"),
}
LIBRARIES = list(KNOWN)

_CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-based (matplotlib licence)",
    "BSD License": "BSD",
}


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    licence: str


def licence_from_metadata(md) -> str | None:
    """The SPDX expression, a one-line License field, or a licence classifier; None if none."""
    if md.get("License-Expression"):
        return md["License-Expression"].strip()
    field = (md.get("License") or "").strip()
    if field and "\n" not in field and len(field) <= 80:
        return field
    for classifier in md.get_all("Classifier") or []:
        if classifier.startswith("License ::"):
            mapped = _CLASSIFIERS.get(classifier.rsplit("::", 1)[-1].strip())
            if mapped:
                return mapped
    return None


def library(dist: str) -> Library:
    name, known = KNOWN[dist]
    try:
        md = metadata.metadata(dist)
    except metadata.PackageNotFoundError:
        return Library(name, "?", known)  # a build without the package's metadata
    found = licence_from_metadata(md)
    # A bare "BSD" classifier does not say which clauses; the known entry does.
    if found is None or (found == "BSD" and known.startswith("BSD-")):
        found = known
    return Library(name, md["Version"], found)


def libraries() -> list[Library]:
    return [library(dist) for dist in LIBRARIES]


def llama_system_info() -> str:
    """llama.cpp's own summary of the backends and CPU features it was built with."""
    try:
        import llama_cpp

        from app.core.llama_runtime import ensure_initialised

        ensure_initialised()  # routes llama.cpp's log into ours before anything prints
        return llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip(" |\n")
    except Exception as exc:  # a missing or broken native library must not break the About box
        return f"unavailable ({exc})"


def versions(qt: str) -> dict[str, str]:
    """Each component's version; `qt` comes from the caller, which has Qt loaded."""
    return {
        APP_NAME: __version__,
        "llama-cpp-python": library("llama_cpp_python").version,
        "llama.cpp backend": llama_system_info(),
        "Qt / PySide6": qt,
        "Python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.platform})",
    }
