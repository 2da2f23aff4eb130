"""User settings: a dataclass saved as versioned JSON, written atomically.

Passed to whoever needs it (never a global), so tests build their own.

The file is the person's, and may have been edited by hand or damaged: it is read with
a size bound, each field is checked on its own (a wrong one falls back to its default,
the rest are kept), and a file that did not read cleanly is renamed aside before the
first save replaces it, so nothing typed into it is lost without a copy.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from app.core.atomic_write import write_atomic
from app.core.prompt import PHI4_REASONING_SYSTEM_PROMPT
from app.core.types import GenParams

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
MAX_FILE_BYTES = 4 * 1024 * 1024  # a real one is a few kB, even with a long system prompt
_DEFAULTS = GenParams()  # the sampling defaults are written once, there


@dataclass(frozen=True)
class Settings:
    system_prompt: str = PHI4_REASONING_SYSTEM_PROMPT
    temperature: float = _DEFAULTS.temperature
    top_p: float = _DEFAULTS.top_p
    top_k: int = _DEFAULTS.top_k
    max_tokens: int = _DEFAULTS.max_tokens
    seed: int | None = _DEFAULTS.seed
    context_size: int = 0  # 0: the model's own, at most 16,384
    # Layers on the GPU: a count, -1 for all, -2 for "Auto" (the most the fit estimate
    # says fit; on a CPU-only build that is 0).
    n_gpu_layers: int = -2
    thinking_expanded: bool = False  # finished traces start collapsed
    think_budget: int | None = _DEFAULTS.think_budget  # tokens of thinking (None: no limit)
    loop_auto_answer: bool = _DEFAULTS.loop_auto_answer  # answer when caught repeating a second time
    drafts: bool = _DEFAULTS.drafts  # speculative decoding from the conversation's text (where it pays)
    # Precision of the context (K/V) cache: "f16", "q8_0" (half the memory, a little slower to
    # decode deep in a long context), or "auto" (f16, unless the layers setting is Auto and q8_0
    # is what lets every layer fit on the GPU).
    kv_cache: str = "auto"
    # Disk kept for each thread's read prompt (its context state), so reopening a thread reads
    # only what is new; least recently used states go first. 0 turns saving states off.
    saved_states_gb: float = 10.0
    layout: str = "auto"  # "auto" (side by side when wide), "side", "stacked"
    theme: str = "system"  # "system", "light", "dark"
    models_dir: str = ""
    model_path: str = ""
    # The local server for other apps (app/ui/serve): off until turned on, and only this
    # computer can reach it unless another address is set (which then needs a token).
    serve_enabled: bool = False
    serve_host: str = "127.0.0.1"
    serve_port: int = 8765
    serve_cors_origins: tuple[str, ...] = ()  # web pages allowed to call it (none: browsers are refused)
    extra: dict = field(default_factory=dict)

    def gen_params(self, **overrides) -> GenParams:
        base = GenParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                         max_tokens=self.max_tokens, seed=self.seed, think_budget=self.think_budget,
                         loop_auto_answer=self.loop_auto_answer, drafts=self.drafts)
        return replace(base, **overrides)

    def with_changes(self, **changes) -> Settings:
        return replace(self, **changes)


# --- checking a file's values ------------------------------------------------------------
# Each rule turns a JSON value into the field's value, or returns _BAD. The ranges are
# wide on purpose: they keep out what no engine can use (negative, NaN, absurdly large),
# not values the settings dialog happens not to offer.

_BAD = object()


def _number(low: float, high: float) -> Callable[[object], object]:
    def check(value: object) -> object:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok and low <= value <= high else _BAD
    return check


def _whole(low: int, high: int, allow_none: bool = False) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value is None and allow_none:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok and low <= value <= high else _BAD
    return check


def _text(path: bool = False) -> Callable[[object], object]:
    def check(value: object) -> object:
        # A NUL cannot be in a file name; the OS calls would raise on it.
        return value if isinstance(value, str) and not (path and "\0" in value) else _BAD
    return check


def _host(value: object) -> object:
    ok = isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable() and " " not in value
    return value if ok else _BAD


def _origins(value: object) -> object:
    ok = (isinstance(value, list) and len(value) <= 32
          and all(isinstance(v, str) and 0 < len(v) <= 200 and v.isprintable() for v in value))
    return tuple(value) if ok else _BAD


def _choice(*options: str) -> Callable[[object], object]:
    return lambda value: value if value in options else _BAD


RULES: dict[str, tuple[Callable[[object], object], str]] = {
    "system_prompt": (_text(), "text"),
    "temperature": (_number(0, 100), "a number from 0 to 100"),
    "top_p": (_number(0, 1), "a number from 0 to 1"),
    "top_k": (_whole(0, 1_000_000), "a whole number, 0 or more"),
    "max_tokens": (_whole(1, 1 << 24), "a whole number, 1 or more"),
    "seed": (_whole(0, 2**32 - 1, allow_none=True), "empty (random) or a whole number, 0 or more"),
    "context_size": (_whole(0, 1 << 24), "0 (the model's own) or a number of tokens"),
    "n_gpu_layers": (_whole(-2, 100_000), "-2 (Auto), -1 (all) or a number of layers"),
    "thinking_expanded": (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
    "think_budget": (_whole(1, 1 << 20, allow_none=True), "empty (no limit) or a number of tokens, 1 or more"),
    "loop_auto_answer": (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
    "drafts": (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
    "kv_cache": (_choice("auto", "f16", "q8_0"), '"auto", "f16" or "q8_0"'),
    "saved_states_gb": (_number(0, 100_000), "a number of gigabytes, 0 or more"),
    "layout": (_choice("auto", "side", "stacked"), '"auto", "side" or "stacked"'),
    "theme": (_choice("system", "light", "dark"), '"system", "light" or "dark"'),
    "models_dir": (_text(path=True), "a folder path"),
    "model_path": (_text(path=True), "a file path"),
    "serve_enabled": (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
    "serve_host": (_host, "an address such as 127.0.0.1"),
    "serve_port": (_whole(1, 65535), "a port number from 1 to 65535"),
    "serve_cors_origins": (_origins, "a list of web addresses"),
    "extra": (lambda v: v if isinstance(v, dict) else _BAD, "a JSON object"),
}


def _shown(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return "its value"
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class LoadedSettings:
    """What was read, and what in the file could not be used (for telling the person once)."""

    settings: Settings
    path: Path
    problems: tuple[str, ...] = ()  # one per field that fell back to its default: 'name (why)'
    unreadable: str = ""  # why the whole file could not be used; every setting is then a default

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unreadable

    def notice(self) -> str | None:
        """One plain message for people, or None when the file read cleanly."""
        keep = (f"When settings are next saved, the old file is kept beside the new one as "
                f"{self.path.name}.unreadable-<date>-<time>.")
        if self.unreadable:
            return (f"Ponder could not read its settings file {self.path} ({self.unreadable}), so it started "
                    f"with the default settings. {keep}")
        if self.problems:
            which = "; ".join(self.problems)
            return (f"Some values in the settings file {self.path} could not be used, so these settings are "
                    f"back to their defaults: {which}. The other settings are kept. {keep}")
        return None


def settings_path(config_dir: Path) -> Path:
    return config_dir / "settings.json"


def read_settings(config_dir: Path) -> LoadedSettings:
    """Read settings, field by field; a missing file gives defaults, a damaged one defaults and its problems."""
    path = settings_path(config_dir)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return LoadedSettings(Settings(), path)
    except OSError as exc:
        return LoadedSettings(Settings(), path, unreadable=f"it could not be opened: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return LoadedSettings(Settings(), path, unreadable=f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        data = json.loads(raw.decode("utf-8-sig"))  # a BOM, as some editors write it, is fine
    except UnicodeDecodeError:
        return LoadedSettings(Settings(), path, unreadable="it is not UTF-8 text")
    except json.JSONDecodeError as exc:
        return LoadedSettings(Settings(), path, unreadable=f"it is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                                           f"column {exc.colno}")
    except ValueError:  # a number of more than 4,300 digits
        return LoadedSettings(Settings(), path, unreadable="it holds a number too long to read")
    except RecursionError:
        return LoadedSettings(Settings(), path, unreadable="it is nested too deeply to read")
    shape = _shape_problem(data)
    if shape:
        return LoadedSettings(Settings(), path, unreadable=shape)
    values = data["settings"]
    kept, problems = {}, []
    for name, (check, words) in RULES.items():
        if name in values:
            value = check(values[name])
            if value is _BAD:
                problems.append(f"{name} ({_shown(values[name])} is not {words})")
            else:
                kept[name] = value
    # Names this version does not know (a newer version's, or typos) are left out quietly.
    return LoadedSettings(Settings(**kept), path, tuple(problems))


def _shape_problem(data: object) -> str:
    """Why the parsed JSON is not {"settings": {...}}, in words; "" when it is."""
    if not isinstance(data, dict):
        return f"it holds {_kind(data)} instead of the settings"
    if "settings" not in data:
        return 'it has no "settings" entry'
    if not isinstance(data["settings"], dict):
        return f'its "settings" entry is {_kind(data["settings"])} instead of an object'
    return ""


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true or false", type(None): "null", int: "a number",
             float: "a number", dict: "an object"}
    return names.get(type(value), "something else")


def load_settings(config_dir: Path) -> Settings:
    """Read settings; what cannot be used is logged and falls back to defaults (never fatal)."""
    loaded = read_settings(config_dir)
    if not loaded.ok:
        log.warning("settings file %s: %s", loaded.path, loaded.unreadable or "; ".join(loaded.problems))
    return loaded.settings


def save_settings(config_dir: Path, settings: Settings) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half a file.

    A file there that did not read cleanly is renamed aside first (settings.json.unreadable-
    <date>-<time>); if that fails, nothing is written and the file stays as it was.
    """
    path = settings_path(config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not read_settings(config_dir).ok:
        backup = _backup_path(path)
        try:
            os.replace(path, backup)
        except OSError:
            log.warning("could not keep the unreadable settings file %s aside; not saving over it", path,
                        exc_info=True)
            return
        log.warning("unreadable settings file kept as %s", backup)
    payload = json.dumps({"schema_version": SCHEMA_VERSION, "settings": asdict(settings)}, indent=2)
    write_atomic(path, payload, prefix=".settings-")


def _backup_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.unreadable-{stamp}")
    n = 1
    while candidate.exists():  # never over an earlier copy
        n += 1
        candidate = path.with_name(f"{path.name}.unreadable-{stamp}-{n}")
    return candidate
