#!/bin/sh
# Installs Ponder for this user from the unpacked folder: the app in ~/.local/lib/ponder, a
# `ponder` command in ~/.local/bin, and a menu entry with its icon under ~/.local/share.
#   ./install.sh              install or update (chats and settings are kept)
#   ./install.sh --uninstall  remove the app (chats and settings are kept)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=${PONDER_INSTALL_DIR:-$HOME/.local/lib/ponder}  # not ~/.local/share/ponder: that holds the chats
bin=$HOME/.local/bin/ponder
entry=$data/applications/ponder.desktop
icon=$data/icons/hicolor/scalable/apps/ponder.svg

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$entry" "$icon"
    [ "$(readlink "$bin" 2>/dev/null)" = "$app_dir/ponder" ] && rm -f "$bin"
    rm -rf "$app_dir"
    echo "Ponder removed."
    exit 0
fi

if [ "$here" != "$app_dir" ]; then
    mkdir -p "$(dirname "$app_dir")"
    rm -rf "$app_dir.new"
    cp -a "$here" "$app_dir.new"  # copy first, so a failed copy leaves the old version working
    rm -rf "$app_dir"
    mv "$app_dir.new" "$app_dir"
fi
mkdir -p "$(dirname "$bin")" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sf "$app_dir/ponder" "$bin"
cp "$here/ponder.svg" "$icon"
sed "s|^Exec=.*|Exec=\"$app_dir/ponder\" %F|" "$here/ponder.desktop" > "$entry"
# Menus pick up new entries by themselves on most desktops; these refresh the caches where present.
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
echo "Ponder installed: find it in the application menu, or run $bin"
