#!/usr/bin/env bash
# Sets maskgate up on this Debian machine, builds it, and runs it.
#   scripts/run.sh             the tray app (where there is a display; headless otherwise)
#   scripts/run.sh --open      the tray app with its dashboard open
#   scripts/run.sh --headless  the proxy alone, logging to stderr
# Any other arguments go to maskgate (see `maskgate --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_system
cd "$ROOT"
cargo build --release --locked
exec "$ROOT/target/release/maskgate" "$@"
