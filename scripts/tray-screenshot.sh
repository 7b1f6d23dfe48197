#!/usr/bin/env bash
# Takes a screenshot of maskgate's tray icon with its menu open, under Xvfb with trayer as the
# system tray. Usage: scripts/tray-screenshot.sh OUT.png
set -euo pipefail
out="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
display=":$((150 + $$ % 50))"
work="$(mktemp -d)"
Xvfb "$display" -screen 0 1024x600x24 -nolisten tcp 2>/dev/null &
xvfb=$!
trap 'kill $xvfb 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
printf 'listen = "127.0.0.1:0"\nupstream_url = "http://127.0.0.1:9"\n' > "$work/config.toml"
DISPLAY="$display" timeout 40 dbus-run-session -- bash -c "
  eval \"\$(printf pw | gnome-keyring-daemon --unlock --components=secrets)\"
  trayer --edge bottom --align right --widthtype request --height 32 --transparent false --tint 0x303030 &
  sleep 1
  '$root/target/debug/maskgate' --config '$work/config.toml' &
  app=\$!
  sleep 6
  xdotool mousemove 1010 586 click 1
  sleep 2
  import -window root '$out'
  kill \$app
" >/dev/null 2>&1 || true
test -s "$out" && echo "wrote $out"
