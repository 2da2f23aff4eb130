"""The settings file as the person's own, possibly hand-edited or damaged, JSON: every
field checked on its own, and a file that did not read cleanly copied aside before a save
replaces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import pytest

from app.core.types import GenParams
from app.settings import RULES, Settings, load_settings, read_settings, save_settings, settings_path

REPO = Path(__file__).resolve().parents[1]


def write(config: Path, text: str) -> Path:
    config.mkdir(parents=True, exist_ok=True)
    path = settings_path(config)
    path.write_text(text, encoding="utf-8")
    return path


def backups(config: Path) -> list[Path]:
    return sorted(config.glob("settings.json.unreadable-*"))


def test_a_file_that_is_not_json_is_kept_before_the_first_save_replaces_it(tmp_path):
    text = '{"schema_version": 1, "settings": {"system_prompt": "Answer like a pirate.", "temperature": 0.2'
    write(tmp_path, text)  # cut off mid-write, or edited by hand
    loaded = read_settings(tmp_path)
    assert loaded.settings == Settings() and "not valid JSON" in loaded.unreadable
    notice = loaded.notice()
    assert str(settings_path(tmp_path)) in notice and "default settings" in notice

    save_settings(tmp_path, loaded.settings.with_changes(model_path="/models/phi.gguf"))  # a model loaded

    [kept] = backups(tmp_path)
    assert kept.read_text(encoding="utf-8") == text  # the pirate prompt is still there, word for word
    assert read_settings(tmp_path).ok and load_settings(tmp_path).model_path == "/models/phi.gguf"
    save_settings(tmp_path, Settings())
    assert backups(tmp_path) == [kept]  # a clean file is simply replaced


@pytest.mark.parametrize("text", ["[]", "null", '"settings"', "{}", '{"settings": [1, 2]}', '{"settings": null}',
                                  "\ufeff{}", "[" * 100_000, "1" * 5000, ""])
def test_a_file_of_the_wrong_shape_gives_defaults_and_says_why(tmp_path, text):
    write(tmp_path, text)
    loaded = read_settings(tmp_path)  # used to raise AttributeError at start for "[]" and "null"
    assert loaded.settings == Settings() and loaded.unreadable and not loaded.ok
    assert load_settings(tmp_path) == Settings()
    save_settings(tmp_path, Settings())
    assert len(backups(tmp_path)) == 1


def test_a_huge_file_is_not_read_whole(tmp_path):
    path = write(tmp_path, '{"settings": {"system_prompt": "' + "x" * (5 * 1024 * 1024) + '"}}')
    loaded = read_settings(tmp_path)
    assert loaded.settings == Settings() and "larger than" in loaded.unreadable
    assert path.exists()


def test_each_wrong_field_falls_back_alone_and_is_named(tmp_path):
    good = {"system_prompt": "Be brief.", "seed": 7, "top_k": 40, "theme": "dark", "model_path": "/m/phi.gguf",
            "context_size": 8192.0}
    bad = {"temperature": "hot", "n_gpu_layers": None, "top_p": 3, "layout": "diagonal", "thinking_expanded": "yes",
           "models_dir": "a\u0000b", "extra": [], "max_tokens": True}
    write(tmp_path, json.dumps({"schema_version": 1, "settings": {**good, **bad, "unknown_from_a_newer_version": 1}}))

    loaded = read_settings(tmp_path)

    s = loaded.settings
    assert (s.system_prompt, s.seed, s.top_k, s.theme, s.model_path, s.context_size) == (
        "Be brief.", 7, 40, "dark", "/m/phi.gguf", 8192)
    for name in bad:
        assert getattr(s, name) == getattr(Settings(), name), name
    assert [p.split(" ")[0] for p in loaded.problems] == [n for n in RULES if n in bad]
    assert 'temperature ("hot" is not a number' in loaded.notice()
    assert "n_gpu_layers (null is not" in loaded.notice() and "The other settings are kept" in loaded.notice()
    s.gen_params()  # a model load builds its parameters from these without a type error


def test_numbers_that_no_engine_can_use_are_refused(tmp_path):
    write(tmp_path, '{"settings": {"temperature": NaN, "top_p": -0.5, "max_tokens": 0, "seed": -1,'
                    ' "context_size": 1e300, "n_gpu_layers": -3}}')
    loaded = read_settings(tmp_path)
    assert loaded.settings == Settings()
    assert {p.split(" ")[0] for p in loaded.problems} == {"temperature", "top_p", "max_tokens", "seed",
                                                           "context_size", "n_gpu_layers"}


def test_a_saved_file_reads_back_cleanly(tmp_path):
    mine = Settings(system_prompt="Mine", temperature=0.3, seed=None, n_gpu_layers=-1, layout="side",
                    extra={"a": [1, 2]})
    save_settings(tmp_path, mine)
    loaded = read_settings(tmp_path)
    assert loaded.ok and loaded.notice() is None and loaded.settings == mine
    assert read_settings(tmp_path / "missing").ok  # no file yet: defaults, nothing to say


def test_every_field_has_a_rule():
    assert list(RULES) == [f.name for f in fields(Settings)]


def test_a_settings_file_that_cannot_be_moved_aside_is_not_overwritten(tmp_path, monkeypatch):
    path = write(tmp_path, "{broken")

    def refuse(*_args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    save_settings(tmp_path, Settings(temperature=0.1))
    assert path.read_text(encoding="utf-8") == "{broken" and not list(tmp_path.glob(".settings-*"))


# Each sampling default is written once, in GenParams; Settings reads it from there. The
# child changes GenParams' default before app.settings is imported and reads it back.
SINGLE_SOURCE = textwrap.dedent(
    """
    import dataclasses
    from app.core import types
    defaults = list(types.GenParams.__init__.__defaults__)
    names = [f.name for f in dataclasses.fields(types.GenParams)]
    for name, value in (("temperature", 0.25), ("top_p", 0.5), ("top_k", 7), ("max_tokens", 99), ("seed", 3)):
        defaults[names.index(name)] = value
    types.GenParams.__init__.__defaults__ = tuple(defaults)
    from app.settings import Settings
    s = Settings()
    print(s.temperature, s.top_p, s.top_k, s.max_tokens, s.seed)
    """
)


def test_sampling_defaults_are_written_once_in_gen_params():
    assert Settings().gen_params() == GenParams()
    proc = subprocess.run([sys.executable, "-c", SINGLE_SOURCE], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0.25", "0.5", "7", "99", "3"]


def test_the_cli_reads_a_settings_file_of_the_wrong_shape(app_home):
    write(app_home / "config", "[]")
    env = {**os.environ, "PONDER_HOME": str(app_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "app", "models", "list", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def test_the_local_server_settings_are_off_by_default_and_read_back(tmp_path):
    assert (Settings().serve_enabled, Settings().serve_host, Settings().serve_port) == (False, "127.0.0.1", 8765)
    chosen = Settings(serve_enabled=True, serve_host="0.0.0.0", serve_port=9000,
                      serve_cors_origins=("http://localhost:3000",))
    save_settings(tmp_path, chosen)
    assert load_settings(tmp_path) == chosen
    write(tmp_path, json.dumps({"settings": {"serve_enabled": "yes", "serve_host": "my host", "serve_port": 70000,
                                             "serve_cors_origins": "http://x"}}))
    loaded = read_settings(tmp_path)
    assert loaded.settings == Settings()
    assert [p.split(" ")[0] for p in loaded.problems] == ["serve_enabled", "serve_host", "serve_port",
                                                         "serve_cors_origins"]
