"""`python -m app models ...`: list, download, inspect and import models from a terminal.

    models list [--json] [--found]      catalog files and what is on disk (one JSON object per line)
    models download ID [--quant Q] [--dir D]   ID: phi-4-reasoning[:Q4_K_M] or OWNER/REPO/FILE.gguf
    models info PATH_OR_ID [--json]     what the file is and roughly how much memory it needs
    models import PATH                  add a GGUF from anywhere to the app's models

Progress goes to stderr, results to stdout. Errors: one line on stderr, exit 1.
Ctrl+C stops a download and keeps the partial file; the same command resumes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from app import paths
from app.core.errors import AppError, DownloadCancelled, NoNetwork

log = logging.getLogger(__name__)


def verified_store():
    from app.core.verify import VerifiedStore

    return VerifiedStore(paths.data_dir() / "verified.json")


def imported_models():
    from app.core.local_models import ImportedModels

    return ImportedModels(paths.data_dir() / "models.json")


def models_dir() -> Path | None:
    from app.settings import load_settings

    folder = load_settings(paths.config_dir()).models_dir
    return Path(folder).expanduser() if folder else None


def add_parser(sub) -> None:
    from app import CLI_COMMANDS

    models = sub.add_parser("models", help=CLI_COMMANDS["models"], description=CLI_COMMANDS["models"] + ".")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="VERB")
    ls = msub.add_parser("list", help="catalog models and their state on disk")
    ls.add_argument("--json", action="store_true", help="one JSON object per catalog file")
    ls.add_argument("--found", action="store_true", help="also list GGUFs found elsewhere on this computer")
    dl = msub.add_parser("download", help="download a catalog model (resumes, verifies)")
    dl.add_argument("id", help="catalog id (phi-4-reasoning, phi-4-reasoning:Q4_K_M) or OWNER/REPO/FILE.gguf")
    dl.add_argument("--quant", default=None,
                    help="quantization, e.g. Q8_0 (default: the one in the id, else the catalog's default)")
    dl.add_argument("--dir", type=Path, default=None, metavar="FOLDER",
                    help="download into this folder (default: the Hugging Face cache)")
    info = msub.add_parser("info", help="what a model file is")
    info.add_argument("target", help="a .gguf path or a downloaded catalog id")
    info.add_argument("--json", action="store_true", help="one JSON object")
    imp = msub.add_parser("import", help="add a .gguf from anywhere")
    imp.add_argument("path", type=Path, help="the .gguf file to add to the models the window lists")


def run(args: argparse.Namespace) -> int:
    command = {"list": list_models, "download": download, "info": info, "import": import_model}
    try:
        return command[args.models_command](args)
    except AppError as exc:
        sys.stderr.write(f"error: {exc.user_message}\n")
        return 1


def _states():
    from app.core.catalog import load_catalog
    from app.core.download import default_cache_dir
    from app.core.local_models import catalog_states

    return catalog_states(load_catalog(), verified_store(), default_cache_dir(), models_dir())


def _hub_sizes(states) -> dict[str, int]:
    """Exact sizes from the Hub for files not on disk; nothing (and quietly) when offline."""
    from app.core import hub

    sizes: dict[str, int] = {}
    by_repo: dict[str, list[str]] = {}
    for st in states:
        if st.state == "absent":
            by_repo.setdefault(st.file.primary.repo_id, []).append(st.file.primary.filename)
    for repo_id, names in by_repo.items():
        try:
            for name, (size, _sha) in hub.remote_sizes(repo_id, names).items():
                sizes[f"{repo_id}/{name}"] = size
        except AppError as exc:
            log.info("sizes from the Hub unavailable for %s: %s", repo_id, exc.user_message)
            if isinstance(exc, NoNetwork):
                break
    return sizes


def list_models(args: argparse.Namespace) -> int:
    states = _states()
    exact = _hub_sizes(states)
    for st in states:
        f = st.file
        source = st.source or f.primary
        size = exact.get(source.spec, st.size)
        row = {"id": f.id, "model": f.model_id, "name": f.model_name, "quant": f.quant,
               "repo_id": source.repo_id, "filename": source.filename, "size_bytes": size,
               "size_exact": st.state != "absent" or source.spec in exact,
               "downloaded": str(st.path) if st.path is not None and st.state != "corrupt" else None,
               "state": st.state, "partial_bytes": st.done}
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            where = row["downloaded"] or ("partial: " + _size(st.done) if st.state == "partial" else "")
            approx = "" if row["size_exact"] else "~"
            print(f"{f.id:<28} {approx}{_size(size or 0):>9}  {st.state:<10} {where}")
    if args.found:
        for m in _found():
            row = {"kind": "found", "origin": m.origin, "path": str(m.path), "size_bytes": m.size,
                   "repo_id": m.repo_id, "quant": m.quant}
            print(json.dumps(row) if args.json else f"{m.origin:<14} {_size(m.size):>9}  {m.path}", flush=True)
    return 0


def _found():
    from app.core.download import default_cache_dir
    from app.core.local_models import discover

    return imported_models().found() + discover(default_cache_dir(), models_dir())


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _duration(s: float | None) -> str:
    if s is None:
        return "--"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class _ProgressLine:
    """One updating line on a terminal; otherwise a line at most every second."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if not self.tty and not final and now - self.last < 1.0:
            return
        self.last = now
        text = (f"{_size(p.done)} / {_size(p.total)}  {p.fraction * 100:5.1f}%  "
                f"{p.speed / 1e6:6.2f} MB/s  ETA {_duration(p.eta)}")
        sys.stderr.write(("\r" + text + ("\n" if final else "")) if self.tty else text + "\n")
        sys.stderr.flush()


def download(args: argparse.Namespace) -> int:
    from app.core.catalog import load_catalog
    from app.core.download import download_catalog_file

    cfile = load_catalog().find(args.id, args.quant)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        sys.stderr.write(f"{cfile.model_name} {cfile.quant}: {', '.join(s.spec for s in cfile.sources)}\n")
        result = download_catalog_file(cfile, store=verified_store(), dest_dir=args.dir,
                                       progress=_ProgressLine(), cancel=cancel)
    except DownloadCancelled:
        sys.stderr.write("\nstopped: run the same command again to continue where it left off\n")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    how = ("resumed and verified" if result.resumed_from
           else "verified" if result.fetched else "already here, verified")
    sys.stderr.write(f"{result.repo_id}/{result.filename}: {how} (sha256 {result.sha256[:12]}…)\n")
    print(result.path, flush=True)
    return 0


def _resolve_target(target: str) -> Path:
    p = Path(target).expanduser()
    if p.exists() or target.lower().endswith(".gguf"):
        return p
    from app.core.catalog import load_catalog

    wanted = load_catalog().find(target)
    for st in _states():
        if st.file.id == wanted.id and st.path is not None:
            return st.path
    raise AppError(f"{wanted.model_name} {wanted.quant} is not downloaded; run: python -m app models download "
                   f"{wanted.id}")


def info(args: argparse.Namespace) -> int:
    from app.core.catalog import quant_from_name
    from app.core.local_models import check_model_file

    path = _resolve_target(args.target)
    mi = check_model_file(path)
    row = {"path": str(mi.path), "name": mi.name, "architecture": mi.architecture, "blocks": mi.block_count,
           "context_length": mi.context_length, "quant": quant_from_name(mi.path.name) or _file_type(mi.path),
           "size_bytes": mi.size_bytes, "chat_template": mi.has_chat_template, "memory": _memory(mi.path)}
    if args.json:
        print(json.dumps(row), flush=True)
        return 0
    mem = row["memory"]
    # Name and architecture come from the file: no terminal control codes reach the screen.
    shown = {k: "".join(c if c.isprintable() else " " for c in row[k]) for k in ("name", "architecture")}
    lines = [f"file           {row['path']}", f"name           {shown['name']}",
             f"architecture   {shown['architecture']}", f"blocks         {row['blocks']}",
             f"context        {row['context_length']} tokens", f"quantization   {row['quant'] or 'unknown'}",
             f"size           {_size(row['size_bytes'])}",
             f"chat template  {'yes' if row['chat_template'] else 'no (the built-in Phi-4 format is used)'}"]
    if mem:
        lines.append(f"memory         ~{_size(mem['ram_bytes_cpu_only'])} RAM on the CPU alone, or "
                     f"~{_size(mem['gpu_bytes'])} GPU + {_size(mem['ram_bytes_with_gpu'])} RAM with all "
                     f"{mem['layer_count']} layers on a GPU ({mem['n_ctx']:,}-token context)")
    print("\n".join(lines), flush=True)
    return 0


def _file_type(path: Path) -> str:
    try:
        from app.core.gguf_info import read_layout

        return read_layout(path).quant
    except (ImportError, AppError):
        return ""


def _memory(path: Path) -> dict | None:
    """The memory estimate, from the fit module where this build has one."""
    try:
        from app.core.fit import estimate_for_info
    except ImportError:
        return None
    try:
        return estimate_for_info(path)
    except AppError:
        raise
    except Exception as exc:  # noqa: BLE001 - an estimate is extra; the facts above still stand
        log.warning("no memory estimate for %s: %s", path, exc)
        return None


def import_model(args: argparse.Namespace) -> int:
    mi = imported_models().add(args.path)
    sys.stderr.write(f"imported {mi.name} ({mi.architecture}, {_size(mi.size_bytes)})\n")
    print(mi.path.resolve(), flush=True)
    return 0

