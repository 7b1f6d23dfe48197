#!/usr/bin/env bash
# The outside harness: what a user feels, measured the way an outside reviewer measures it.
# One real upstream process (nginx, answering every POST with one static Messages answer), the
# same for maskgate and for the direct baseline; the client (wrk) in its own process; bodies
# from the real Claude Code first turn (captured from the pinned CLI in tests/clients) and a
# long session of small `aws` output messages built on it (bodies.py).
#
#   bash benches/outside/run.sh [SECONDS]     (default 10 s per run; CI runs it with 1)
#
# Prints a Markdown report: p50/p99 at one connection (direct, through maskgate, added), req/s
# at 16 connections (2 wrk threads) with maskgate's share of direct, maskgate's CPU per request
# (user + system from /proc over the load run) and its RSS idle, under load and after.
# MASKGATE_BIN picks the binary; by default the headless release build is made in
# target/headless. Everything listens on loopback only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/benches/outside"
SECONDS_PER_RUN="${1:-10}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

BIN="${MASKGATE_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --quiet --release --locked --no-default-features --bin maskgate \
    --manifest-path "$ROOT/Cargo.toml" --target-dir "$ROOT/target/headless"
  BIN="$ROOT/target/headless/release/maskgate"
fi
CLAUDE="$ROOT/tests/clients/node_modules/.bin/claude"
[ -x "$CLAUDE" ] || { echo "Claude Code is not installed: run scripts/setup.sh's clients" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

# 1. The real first turn, captured from the pinned Claude Code.
CAPTURE_PORT="$(free_port)"
python3 "$HERE/capture.py" "$CAPTURE_PORT" "$WORK/captured.json" &
PIDS+=($!)
wait_for_port "$CAPTURE_PORT"
(cd "$WORK" && mkdir -p home && HOME="$WORK/home" ANTHROPIC_BASE_URL="http://127.0.0.1:$CAPTURE_PORT" \
  ANTHROPIC_API_KEY=sk-ant-bench CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
  DISABLE_AUTOUPDATER=1 CLAUDE_CODE_MAX_RETRIES=0 \
  timeout 120 "$CLAUDE" -p "Which of my EC2 instances are running?" --allowedTools Bash \
  >/dev/null 2>&1 || true)
[ -s "$WORK/captured.json" ] || { echo "Claude Code sent no request" >&2; exit 1; }
python3 "$HERE/bodies.py" "$WORK/captured.json" "$WORK"

# 2. The upstream: nginx, one worker, answering every request with one Messages answer that
#    names a token (so maskgate restores it).
NGINX_PORT="$(free_port)"
mkdir -p "$WORK/nginx"
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root root;"
cat > "$WORK/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 4m;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[{"type":"text","text":"EC2_INSTANCE_001 is running."}],"stop_reason":"end_turn","usage":{"input_tokens":1000,"output_tokens":8}}';
    }
  }
}
CONF
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
"$NGINX" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
PIDS+=($!)
wait_for_port "$NGINX_PORT"

# 3. maskgate, headless, as a user starts it (empty settings file, default journal).
MASKGATE_PORT="$(free_port)"
: > "$WORK/config.toml"
"$BIN" --headless --listen "127.0.0.1:$MASKGATE_PORT" --upstream "http://127.0.0.1:$NGINX_PORT" \
  --config "$WORK/config.toml" 2>"$WORK/maskgate.log" &
MASKGATE_PID=$!
PIDS+=($MASKGATE_PID)
wait_for_port "$MASKGATE_PORT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$MASKGATE_PID/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$MASKGATE_PID/status"; }
run_wrk() { # body port threads connections -> wrk's output
  BODY="$WORK/$1" wrk -t"$3" -c"$4" -d"${SECONDS_PER_RUN}s" --latency -s "$HERE/post.lua" \
    "http://127.0.0.1:$2/v1/messages"
}

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
RSS_IDLE="$(rss_kib)"
RSS_PEAK="$RSS_IDLE"
for body in small.json first-turn.json session.json; do
  # One connection, direct and through maskgate in turn, twice.
  for round in 1 2; do
    for target in direct maskgate; do
      port="$NGINX_PORT"; [ "$target" = maskgate ] && port="$MASKGATE_PORT"
      run_wrk "$body" "$port" 1 1 > "$WORK/out"
      printf '%s\t%s\tlatency\t%s\t%s\n' "$body" "$target" "$round" "$(base64 -w0 < "$WORK/out")" >> "$RESULTS"
    done
  done
  # Sixteen connections: requests per second, and maskgate's CPU per request.
  for target in direct maskgate; do
    port="$NGINX_PORT"; [ "$target" = maskgate ] && port="$MASKGATE_PORT"
    before="$(cpu_ticks)"
    ( sleep "$(( SECONDS_PER_RUN / 2 + 1 ))"; rss_kib > "$WORK/rss_load" ) &
    sampler=$!
    run_wrk "$body" "$port" 2 16 > "$WORK/out"
    wait "$sampler" || true
    after="$(cpu_ticks)"
    load_rss="$(cat "$WORK/rss_load")"
    [ "$target" = maskgate ] && [ "$load_rss" -gt "$RSS_PEAK" ] && RSS_PEAK="$load_rss"
    printf '%s\t%s\tload\t%s\t%s\n' "$body" "$target" "$(( after - before ))" "$(base64 -w0 < "$WORK/out")" >> "$RESULTS"
  done
done
sleep 5
RSS_AFTER="$(rss_kib)"

python3 "$HERE/report.py" "$RESULTS" "$WORK" "$(getconf CLK_TCK)" "$RSS_IDLE" "$RSS_PEAK" "$RSS_AFTER" \
  "$("$CLAUDE" --version 2>/dev/null | head -1)" "$SECONDS_PER_RUN"
