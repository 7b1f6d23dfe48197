#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png from the real app under Xvfb (the WebDriver test saves
# the live view, the patterns and the settings as it goes), plus the tray menu.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_system
setup_clients
apt_install trayer xdotool imagemagick
cd "$ROOT"
mkdir -p docs/screenshots
MASKGATE_SCREENSHOTS="$ROOT/docs/screenshots" cargo test --locked --test integration desktop
bash "$ROOT/scripts/tray-screenshot.sh" "$ROOT/docs/screenshots/tray.png"
