#!/usr/bin/env bash
# Installs what maskgate needs on a Debian machine. Sourced by run.sh and test.sh.
#   setup_system  build tools and libraries (apt), including GTK/WebKit for the desktop app
#   setup_clients the real clients the tests drive: Claude Code and the TypeScript SDK (npm),
#                 the Python SDK (pip, in a venv), nginx as the gateway, and the desktop test
#                 stack (Xvfb, D-Bus, gnome-keyring, dunst, WebKitWebDriver, tauri-driver)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

setup_system() {
  apt_install build-essential pkg-config ca-certificates curl libdbus-1-dev \
    libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  if ! command -v cargo >/dev/null; then
    echo "setup: no Rust toolchain found; installing Debian's cargo"
    apt_install cargo rustc
  fi
}

setup_clients() {
  apt_install nginx-light wrk xvfb dbus-daemon gnome-keyring dunst webkit2gtk-driver chromium chromium-driver
  command -v tauri-driver >/dev/null || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ] \
    || cargo install tauri-driver --locked --version 2.1.0
  command -v node >/dev/null || apt_install nodejs npm
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  (cd "$ROOT/tests/clients" && npm ci --no-audit --no-fund --loglevel=error)
  (cd "$ROOT/ui" && npm ci --no-audit --no-fund --loglevel=error)
  if [ ! -x "$ROOT/tests/clients/.venv/bin/python3" ]; then
    python3 -m venv "$ROOT/tests/clients/.venv"
  fi
  "$ROOT/tests/clients/.venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/tests/clients/requirements.txt"
}
