#!/usr/bin/env bash
# macOS: dist/Ponder.app and dist/Ponder-<version>-macos-<arch>.dmg. Not yet run on a Mac;
# see installer/macos/README.md for what to check and for signing and notarisation.
#   installer/macos/build.sh
# Optional: CODESIGN_IDENTITY="Developer ID Application: Name (TEAMID)" signs the app and the
# disk image; NOTARY_PROFILE=<notarytool keychain profile> then notarises and staples it.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${VENV:-.venv-macos}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    # Build llama.cpp here with Metal (its shaders are embedded in the library, so no .metal
    # file has to be bundled); --no-cache-dir keeps pip from reusing a CPU-only wheel.
    CMAKE_ARGS="-DGGML_METAL=on" "$venv/bin/pip" install --no-cache-dir --no-binary llama-cpp-python . pyinstaller
fi
python="$venv/bin/python"
"$python" installer/make_icons.py build/icons   # ponder.icns, from resources/icons/ponder.svg
"$python" -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller installer/ponder.spec
app=dist/Ponder.app
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --deep --timestamp --options runtime --entitlements installer/macos/entitlements.plist \
        --sign "$CODESIGN_IDENTITY" "$app"
fi
version=$("$python" -c 'import app; print(app.__version__)')
dmg="dist/Ponder-$version-macos-$(uname -m).dmg"
rm -rf build/dmg "$dmg" && mkdir -p build/dmg
cp -R "$app" build/dmg/ && ln -s /Applications build/dmg/Applications  # drag to install
hdiutil create -volname Ponder -srcfolder build/dmg -format UDZO -ov "$dmg"
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --timestamp --sign "$CODESIGN_IDENTITY" "$dmg"
    if [ -n "${NOTARY_PROFILE:-}" ]; then
        xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait
        xcrun stapler staple "$dmg"
    fi
fi
echo "$dmg"
