#!/usr/bin/env bash
# Installs what the tests need and runs all of them: formatting, lints, unit and property
# tests, the integration tests with the real Claude Code CLI, the official SDKs, nginx as the
# gateway and the desktop app over WebDriver, a one-minute soak and a short fuzz run of every
# target; then the Debian package is built and installed, and the outside benchmark harness
# runs once, briefly.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_system
setup_clients
cd "$ROOT"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# The dashboard page: type-checked and built; the committed build (which `cargo build` embeds)
# must be what its sources give.
npm --prefix ui run build --silent
if [ -d .git ] && [ -n "$(git status --porcelain -- ui/dist)" ]; then
  echo "ui/dist is stale: run 'npm --prefix ui run build' and commit it" >&2
  git status --short -- ui/dist >&2
  exit 1
fi
bash "$ROOT/scripts/check-layers.sh"
bash "$ROOT/scripts/check-deploy.sh"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
# A short run of every fuzz target from its committed corpus (the long run: scripts/fuzz.sh 14400).
bash "$ROOT/scripts/fuzz.sh" 60
bash "$ROOT/scripts/check-deb.sh"
# The outside benchmark harness, one second per run with the installed package's binary: it
# must keep working; its figures come from the long run (benches/outside/run.sh, BENCHMARKS.md).
MASKGATE_BIN=/usr/bin/maskgate bash "$ROOT/benches/outside/run.sh" 1
