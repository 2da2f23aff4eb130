"""Known models: which Hub repositories hold each Phi-4-reasoning GGUF, under which name.

The data is resources/catalog.json. Microsoft publishes no GGUF, so every model lists
community repositories in order of preference; a later one is tried when an earlier one
lacks the file. Sizes there are approximate and only for display while offline: the
download reads the real size and sha256 from the Hub.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import AppError

class UnknownModel(AppError):
    pass


@dataclass(frozen=True, slots=True)
class Source:
    repo_id: str
    filename: str

    @property
    def spec(self) -> str:
        return f"{self.repo_id}/{self.filename}"


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """One quantization of one model, with the places it can be downloaded from."""

    model_id: str
    model_name: str
    quant: str
    sources: tuple[Source, ...]  # preferred first
    approx_size: int | None
    architecture: str = ""
    parameters: str = ""
    context_length: int | None = None

    @property
    def id(self) -> str:
        return f"{self.model_id}:{self.quant}"

    @property
    def primary(self) -> Source:
        return self.sources[0]


@dataclass(frozen=True, slots=True)
class CatalogModel:
    id: str
    name: str
    description: str
    files: tuple[CatalogFile, ...]


def _model_path() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "resources" / "catalog.json"  # installed: app/resources
    return packaged if packaged.is_file() else Path(__file__).resolve().parents[2] / "resources" / "catalog.json"


class Catalog:
    def __init__(self, data: dict) -> None:
        self.default_model = data["default"]["model"]
        self.default_quant = data["default"]["quant"]
        self.models = tuple(_parse_model(m) for m in data["models"])

    def files(self) -> list[CatalogFile]:
        return [f for m in self.models for f in m.files]

    def default_file(self) -> CatalogFile:
        return self.find(self.default_model, self.default_quant)

    def find(self, spec: str, quant: str | None = None) -> CatalogFile:
        """A catalog file from "model", "model:QUANT" (or "model" with `quant`), or an
        ad-hoc "owner/repo/file.gguf" that is not in the catalog."""
        if ":" in spec:
            spec, quant = spec.split(":", 1)
        for model in self.models:
            if model.id.lower() == spec.lower():
                want = (quant or self.default_quant).upper()
                for f in model.files:
                    if f.quant.upper() == want:
                        return f
                have = ", ".join(f.quant for f in model.files)
                raise UnknownModel(f"{model.name} has no {want} file in the catalog; choose one of {have}.")
        parts = spec.split("/")
        if len(parts) >= 3 and spec.lower().endswith(".gguf"):
            repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
            return CatalogFile(model_id=spec, model_name=Path(filename).stem, quant=quant_from_name(filename),
                               sources=(Source(repo_id, filename),), approx_size=None)
        known = ", ".join(m.id for m in self.models)
        raise UnknownModel(f"No model called '{spec}'. Known models: {known}; or give OWNER/REPO/FILE.gguf.")


def _parse_model(m: dict) -> CatalogModel:
    files = []
    for quant, size in m["sizes"].items():
        sources = tuple(
            Source(r["repo_id"], r["pattern"].format(quant=quant))
            for r in m["repos"]
            if "quants" not in r or quant in r["quants"]
        )
        if sources:
            files.append(CatalogFile(
                model_id=m["id"], model_name=m["name"], quant=quant, sources=sources, approx_size=int(size),
                architecture=m.get("architecture", ""), parameters=m.get("parameters", ""),
                context_length=m.get("context_length"),
            ))
    return CatalogModel(id=m["id"], name=m["name"], description=m.get("description", ""), files=tuple(files))


_QUANTS = ("IQ4_XS", "IQ4_NL", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q4_K_S", "Q4_K_M",
           "Q5_0", "Q5_1", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "BF16", "F16", "F32")


def quant_from_name(filename: str) -> str:
    """The quantization a GGUF file's name ends with ("Q4_K_M"), or "" if it does not say."""
    upper = Path(filename).stem.upper()
    return next((q for q in sorted(_QUANTS, key=len, reverse=True) if upper.endswith(q)), "")


def load_catalog(path: Path | None = None) -> Catalog:
    """The shipped catalog (or one at `path`, for tests)."""
    return Catalog(json.loads((path or _model_path()).read_text(encoding="utf-8")))
