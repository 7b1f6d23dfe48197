#!/usr/bin/env bash
# Builds the Debian package with the Tauri CLI, installs it with dpkg, and starts the installed
# maskgate headless once: it must serve on loopback (its upstream is a closed loopback port, so
# nothing leaves the machine) and stop cleanly on SIGTERM.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
"$ROOT/tests/clients/node_modules/.bin/tauri" build --bundles deb --ci
deb="$(ls -t "${CARGO_TARGET_DIR:-target}"/release/bundle/deb/*.deb | head -1)"
echo "check-deb: installing $deb"
as_root dpkg -i "$deb" >/dev/null || { as_root apt-get install -f -y -qq >/dev/null; as_root dpkg -i "$deb" >/dev/null; }
dpkg -s maskgate | grep -E '^(Version|Depends):'
log="$(mktemp)"
NO_COLOR=1 /usr/bin/maskgate --headless --listen 127.0.0.1:0 --upstream http://127.0.0.1:9 --config "$(mktemp -d)/config.toml" 2>"$log" &
pid=$!
for _ in $(seq 50); do grep -q 'address=' "$log" && break; sleep 0.2; done
address="$(grep -o 'address=[0-9.:]*' "$log" | head -1 | cut -d= -f2)"
status="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$address/v1/messages" -H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"i-0123456789abcdef0"}]}')"
kill -TERM "$pid"
wait "$pid"
echo "check-deb: the installed maskgate served on $address (answered $status: upstream closed) and stopped cleanly"
test "$status" = 502
