"""Turns the harness's wrk outputs into the Markdown report (see run.sh)."""
import base64
import os
import re
import statistics
import sys

results, work, clk_tck = sys.argv[1], sys.argv[2], int(sys.argv[3])
rss_idle, rss_peak, rss_after = (int(v) for v in sys.argv[4:7])
claude_version, seconds = sys.argv[7], sys.argv[8]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse(text):
    if "Non-2xx or 3xx responses" in text or "Socket errors" in text:
        raise SystemExit(f"wrk saw failed requests:\n{text}")
    percentiles = {int(p): float(v) * UNITS[u]
                   for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)$", text, re.M)}
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    return percentiles, requests, rate


latency, load = {}, {}
with open(results) as f:
    for line in f:
        body, target, kind, extra, output = line.rstrip("\n").split("\t")
        parsed = parse(base64.b64decode(output).decode())
        if kind == "latency":
            latency.setdefault((body, target), []).append(parsed[0])
        else:
            load[(body, target)] = (parsed, int(extra))

print(f"Outside harness, {seconds} s per run; Claude Code {claude_version}; "
      f"nginx upstream (1 worker), wrk client, maskgate headless, all on this machine.")
print()
print("| body | bytes | direct p50 / p99 | maskgate p50 / p99 | added p50 / p99 |")
print("|---|---|---|---|---|")
bodies = ["small.json", "first-turn.json", "session.json"]
for body in bodies:
    size = os.path.getsize(os.path.join(work, body))
    d = latency[(body, "direct")]
    m = latency[(body, "maskgate")]
    d50, d99 = statistics.median(r[50] for r in d), statistics.median(r[99] for r in d)
    m50, m99 = statistics.median(r[50] for r in m), statistics.median(r[99] for r in m)
    print(f"| {body} | {size:,} | {d50:.2f} / {d99:.2f} ms | {m50:.2f} / {m99:.2f} ms "
          f"| {m50 - d50:.2f} / {m99 - d99:.2f} ms |")
print()
print("| body | direct req/s | maskgate req/s | share | maskgate CPU per request |")
print("|---|---|---|---|---|")
for body in bodies:
    (_, _, direct_rate), _ = load[(body, "direct")]
    (_, requests, rate), ticks = load[(body, "maskgate")]
    cpu_ms = ticks / clk_tck / max(requests, 1) * 1e3
    print(f"| {body} | {direct_rate:,.0f} | {rate:,.0f} | {rate / direct_rate:.0%} | {cpu_ms:.2f} ms |")
print()
print(f"maskgate RSS: idle {rss_idle / 1024:.0f} MiB, under load (peak sample) "
      f"{rss_peak / 1024:.0f} MiB, 5 s after load {rss_after / 1024:.0f} MiB.")
