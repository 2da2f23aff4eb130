"""Size of the Linux bundle and how fast it starts to a shown window.

Builds dist/Ponder/ and its tar.gz with installer/linux/build.sh (unless --no-build and they
exist), then starts `dist/Ponder/ponder --measure-start` with an empty data folder: once
right after the build, then --runs more times. Prints JSON. Under `xvfb-run -a` (or a desktop)
the window goes through the X server; otherwise through Qt's offscreen plugin.

    xvfb-run -a python bench/bundle.py [--runs 5] [--no-build]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def one_start(exe: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PONDER_HOME": home}
        env.setdefault("QT_QPA_PLATFORM", "xcb" if env.get("DISPLAY") else "offscreen")
        start = time.time()
        out = subprocess.run([str(exe), "--measure-start"], env=env, capture_output=True, text=True, timeout=120,
                             check=True).stdout
        report = json.loads(out.strip().splitlines()[-1])
        return report["shown_at"] - start, report["rss_mb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-build", action="store_true", help="measure the bundle already in dist/")
    args = ap.parse_args()
    dist = ROOT / "dist"
    build_s = None
    if not args.no_build:
        t = time.perf_counter()
        subprocess.run(["bash", "installer/linux/build.sh"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)})
        build_s = round(time.perf_counter() - t, 1)
    bundle = dist / "Ponder"
    archive = max(dist.glob("Ponder-*-linux-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    first = one_start(bundle / "ponder")  # the first launch after building: files not yet read back
    runs = [one_start(bundle / "ponder") for _ in range(args.runs)]
    starts = [r[0] for r in runs]
    print(json.dumps({
        "bench": "bundle",
        "folder_bytes": folder_bytes(bundle),
        "tar_gz_bytes": archive.stat().st_size,
        "build_s": build_s,
        "first_start_s": round(first[0], 3),
        "start_s_median": round(statistics.median(starts), 3),
        "start_s": [round(s, 3) for s in starts],
        "rss_mb_median": statistics.median(r[1] for r in runs),
        "platform": os.environ.get("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen"),
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
