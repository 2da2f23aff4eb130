"""Cold start to a shown window (no model) and the app's memory at that point.

Starts `python -m app --measure-start` in a fresh process with an empty data folder;
the app prints when its window has been shown and its RSS, then quits. Prints JSON
with medians; goals: start <= 1.0 s, RSS <= 250 MB.

    QT_QPA_PLATFORM=offscreen python bench/cold_start.py [--runs 5]
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


def one_start() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PONDER_HOME": home}
        start = time.time()
        out = subprocess.run([sys.executable, "-m", "app", "--measure-start"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=True).stdout
        report = json.loads(out.strip().splitlines()[-1])
        return report["shown_at"] - start, report["rss_mb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    one_start()  # warm the OS file cache, as a second launch would
    runs = [one_start() for _ in range(args.runs)]
    starts, rss = [r[0] for r in runs], [r[1] for r in runs]
    print(json.dumps({
        "bench": "cold_start",
        "start_s_median": round(statistics.median(starts), 3),
        "rss_mb_median": round(statistics.median(rss), 1),
        "start_s": [round(s, 3) for s in starts],
        "rss_mb": rss,
        "platform": os.environ.get("QT_QPA_PLATFORM", "default"),
    }))


if __name__ == "__main__":
    main()
