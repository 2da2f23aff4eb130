"""Models already on this computer: catalog files that were downloaded, GGUFs other tools
keep (the Hugging Face cache, LM Studio), and files people imported by hand.

Nothing here touches the network, so it all works offline, and nothing here hashes:
listings show the verification state recorded by VerifiedStore ("verified",
"unverified", "corrupt"); the caller verifies before first use. Found files are only
offered; a file becomes one of the app's models when it is imported.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic_write import write_atomic
from app.core.catalog import Catalog, CatalogFile, Source, quant_from_name
from app.core.errors import UnsupportedArchitecture
from app.core.model_file import ModelFileInfo, inspect_model_file
from app.core.verify import VerifiedStore, is_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogState:
    file: CatalogFile
    state: str  # "absent", "partial", "unverified", "verified" or "corrupt"
    path: Path | None  # the downloaded file, when there is one
    source: Source | None  # where it came from (or is coming from)
    size: int | None  # exact once on disk or in progress, else the catalog's estimate
    done: int = 0  # bytes of an unfinished download

    @property
    def usable(self) -> bool:
        """On disk and not known to be damaged (the caller still verifies an unverified file)."""
        return self.path is not None and self.state in ("verified", "unverified")


@dataclass(frozen=True, slots=True)
class FoundModel:
    path: Path
    origin: str  # "hf-cache", "models-folder", "lmstudio" or "imported"
    size: int
    repo_id: str | None = None
    quant: str = ""


def lmstudio_dirs(home: Path | None = None) -> list[Path]:
    home = home or Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def _cache_file(cache_dir: Path, source: Source) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source.repo_id, source.filename, cache_dir=str(cache_dir))
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def _expected_sha(path: Path, store: VerifiedStore) -> str | None:
    blob = Path(os.path.realpath(path)).name  # in the HF cache a blob is named by its sha256
    return blob if is_sha256(blob) else store.expected(path)


def catalog_states(catalog: Catalog, store: VerifiedStore, cache_dir: Path,
                   models_dir: Path | None = None) -> list[CatalogState]:
    """Every catalog file with what is on disk for it, from any of its sources."""
    partials = store.partials()
    out = []
    for cfile in catalog.files():
        out.append(_state(cfile, store, cache_dir, models_dir, partials))
    return out


def _state(cfile: CatalogFile, store: VerifiedStore, cache_dir: Path, models_dir: Path | None,
           partials: dict) -> CatalogState:
    for source in cfile.sources:
        candidates = [_cache_file(cache_dir, source)]
        if models_dir:
            candidates.append(Path(models_dir) / source.filename)
        for path in candidates:
            if path is not None and path.is_file():
                state = store.state(path, _expected_sha(path, store))
                return CatalogState(cfile, state, path, source, path.stat().st_size)
    for source in cfile.sources:
        entry = partials.get(source.spec)
        if entry:
            return CatalogState(cfile, "partial", None, source, entry["size"], entry["done"])
    return CatalogState(cfile, "absent", None, None, cfile.approx_size)


def find_in_hf_cache(cache_dir: Path) -> list[FoundModel]:
    """Every GGUF in the Hugging Face cache (any repository), through huggingface_hub's scanner."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except (CacheNotFound, OSError, ValueError) as exc:
        log.info("no Hugging Face cache at %s (%s)", cache_dir, exc)
        return []
    found, seen = [], set()
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for rev in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            for f in rev.files:
                if f.file_name.lower().endswith(".gguf") and f.blob_path not in seen:
                    seen.add(f.blob_path)
                    found.append(FoundModel(f.file_path, "hf-cache", f.size_on_disk, repo.repo_id,
                                            quant_from_name(f.file_name)))
    return found


def find_in_folder(folder: Path, origin: str) -> list[FoundModel]:
    """GGUFs under `folder` (vision projectors and later parts of split files left out)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*.gguf")):
        name = path.name.lower()
        if name.startswith(".") or "mmproj" in name or ("-of-" in name and "-00001-of-" not in name):
            continue
        try:
            found.append(FoundModel(path, origin, path.stat().st_size, quant=quant_from_name(path.name)))
        except OSError:
            continue
    return found


def discover(cache_dir: Path, models_dir: Path | None = None,
             lmstudio: list[Path] | None = None) -> list[FoundModel]:
    """GGUFs on this computer, to offer for import: HF cache, models folder, LM Studio."""
    found = find_in_hf_cache(cache_dir)
    if models_dir:
        found += find_in_folder(Path(models_dir), "models-folder")
    for folder in lmstudio_dirs() if lmstudio is None else lmstudio:
        found += find_in_folder(folder, "lmstudio")
    return found


def supported_architectures() -> set[str]:
    """Architectures llama.cpp knows, as listed by the gguf package that comes with it."""
    import gguf

    return set(gguf.MODEL_ARCH_NAMES.values())


def check_model_file(path: str | Path) -> ModelFileInfo:
    """Validate a GGUF for use: readable, complete, and an architecture llama.cpp runs."""
    info = inspect_model_file(path)
    if info.architecture not in supported_architectures():
        raise UnsupportedArchitecture(
            f"{info.path.name} uses the model architecture '{_quoted(info.architecture) or 'unknown'}', "
            f"which this app cannot run.", architecture=info.architecture)
    return info


def _quoted(text: str, limit: int = 60) -> str:
    """A string from a model file as part of a one-line message: control characters as
    spaces, and cut short (the file may hold megabytes there)."""
    text = "".join(" " if not c.isprintable() else c for c in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


class ImportedModels:
    """The list of GGUFs people added by hand, as JSON in the app's data folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def entries(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return list(data.get("models", []))
        except FileNotFoundError:
            return []
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("imported models list %s unreadable (%s)", self.path, exc)
            return []

    def found(self) -> list[FoundModel]:
        out = []
        for e in self.entries():
            p = Path(e["path"])
            if p.is_file():
                out.append(FoundModel(p, "imported", p.stat().st_size, quant=quant_from_name(p.name)))
        return out

    def add(self, path: str | Path) -> ModelFileInfo:
        """Validate `path` (check_model_file's errors) and remember it; importing twice is harmless."""
        info = check_model_file(path)
        resolved = str(info.path.resolve())
        entries = [e for e in self.entries() if e.get("path") != resolved]
        entries.append({"path": resolved, "name": info.name, "architecture": info.architecture,
                        "size": info.size_bytes, "added": int(time.time())})
        self._write(entries)
        return info

    def remove(self, path: str | Path) -> None:
        resolved = str(Path(path).expanduser().resolve())
        self._write([e for e in self.entries() if e.get("path") != resolved])

    def _write(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps({"schema_version": 1, "models": entries}, indent=1), prefix=".models-")
