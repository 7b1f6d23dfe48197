#!/usr/bin/env bash
# The long soak: the same test the test command runs for a minute, for SECONDS (default an
# hour): 300 concurrent streamed exchanges through the real `maskgate --headless`, with idle,
# slow and cut connections mixed in; no leak, every answer restored, descriptors and memory
# back afterwards. Run after scripts/test.sh has set the machine up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MASKGATE_SOAK_SECS="${1:-3600}" cargo test --release --locked --test integration soak -- --nocapture
