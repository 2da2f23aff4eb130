#!/usr/bin/env bash
# Linux: dist/Ponder/ (run dist/Ponder/ponder) and dist/Ponder-<version>-linux-<arch>.tar.gz,
# which unpacks to Ponder/ with install.sh (menu entry, icon and a `ponder` command).
#   python3 -m venv .venv && .venv/bin/pip install . pyinstaller && installer/linux/build.sh
# PYTHON picks another interpreter; DIST_DIR and WORK_DIR move the output (default dist/, build/).
# No AppImage: appimagetool is in no distribution's packages, and the build must work offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
dist=${DIST_DIR:-dist}
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" \
    --workpath "${WORK_DIR:-build}/pyinstaller" installer/ponder.spec
cp installer/linux/install.sh installer/linux/ponder.desktop resources/icons/ponder.svg "$dist/Ponder/"
version=$("$python" -c 'import app; print(app.__version__)')
archive="$dist/Ponder-$version-linux-$(uname -m).tar.gz"
tar -C "$dist" -czf "$archive" Ponder
echo "$archive"
