"""User settings: a dataclass saved as versioned JSON, written atomically.

Passed to whoever needs it (never a global), so tests build their own.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT
from app.core.types import GenParams

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Settings:
    system_prompt: str = PHI4_REASONING_SYSTEM_PROMPT
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    max_tokens: int = 32768
    seed: int | None = None
    context_size: int = 0  # 0: the model's own, at most 16,384
    # Layers on the GPU: a count, -1 for all, -2 for "Auto" (the most the fit estimate
    # says fit; on a CPU-only build that is 0).
    n_gpu_layers: int = -2
    thinking_expanded: bool = False  # finished traces start collapsed
    layout: str = "auto"  # "auto" (side by side when wide), "side", "stacked"
    theme: str = "system"  # "system", "light", "dark"
    models_dir: str = ""
    model_path: str = ""
    extra: dict = field(default_factory=dict)

    def gen_params(self, **overrides) -> GenParams:
        base = GenParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                         max_tokens=self.max_tokens, seed=self.seed)
        return replace(base, **overrides)

    def with_changes(self, **changes) -> Settings:
        return replace(self, **changes)


def settings_path(config_dir: Path) -> Path:
    return config_dir / "settings.json"


def load_settings(config_dir: Path) -> Settings:
    """Read settings; a missing or damaged file gives defaults (and is logged, not fatal)."""
    path = settings_path(config_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        values = data.get("settings", {})
        known = {f.name for f in fields(Settings)}
        return Settings(**{k: v for k, v in values.items() if k in known})
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError, TypeError) as exc:
        log.warning("settings file %s unreadable (%s); using defaults", path, exc)
        return Settings()


def save_settings(config_dir: Path, settings: Settings) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half a file."""
    path = settings_path(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"schema_version": SCHEMA_VERSION, "settings": asdict(settings)}, indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
