#!/usr/bin/env bash
# Installs what the tests need and runs all of them: formatting, lints, unit and property
# tests, the integration tests with the real Claude Code CLI, the official SDKs, nginx as the
# gateway and the desktop app over WebDriver; then the Debian package is built and installed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_system
setup_clients
cd "$ROOT"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
bash "$ROOT/scripts/check-deb.sh"
