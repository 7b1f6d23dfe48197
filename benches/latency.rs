//! Added latency of the proxy: the same requests sent straight to the loopback Anthropic
//! stand-in (the pass-through baseline) and through maskgate, in turn, for Claude-Code-shaped
//! bodies: 20 KB, a 1 MB realistic session, and a 1 MB stress body (identifier lines and
//! dense look-alikes, the worst case we know); p50/p90/p99 of the whole exchange, and time to
//! the first streamed byte. `cargo bench --bench latency`. Prints a Markdown table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use maskgate::journal::Journal;
use maskgate::proxy::{self, Proxy, ProxyConfig};
use maskgate::settings::{Secrets, Settings};

/// The allocator the `maskgate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/integration/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;
#[path = "../tests/integration/support/upstream.rs"]
#[allow(dead_code)]
mod upstream;

const ROUNDS: usize = 200;

/// The journal's records in this benchmark (the app keeps up to 2000, and at most 128 MiB
/// of masked bodies).
const JOURNAL_RECORDS: usize = 100;

/// Rounds before measuring: more than the journal holds, so that what is measured is a
/// proxy that has run for a while — its journal full and pushing out the oldest bodies,
/// whose memory the next outputs reuse (until then, every output is fresh memory).
const WARM_UP_ROUNDS: usize = JOURNAL_RECORDS + 20;

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at].as_secs_f64() * 1000.0
}

/// Whole-exchange time and time to the first byte of one request to `url`.
async fn exchange(client: &reqwest::Client, url: &str, body: &[u8]) -> (Duration, Duration) {
    let started = Instant::now();
    let mut response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("answer");
    let mut first = None;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        if first.is_none() && !chunk.is_empty() {
            first = Some(started.elapsed());
        }
    }
    let whole = started.elapsed();
    (whole, first.unwrap_or(whole))
}

/// Times of one path: whole exchanges and first bytes.
#[derive(Default)]
struct Samples {
    whole: Vec<Duration>,
    first_byte: Vec<Duration>,
}

/// `rounds` requests to each of `urls`, taken in turn (one to each, then the next round),
/// so that every path sees the machine as it is at that moment: a virtual machine's speed
/// drifts over minutes, and paths measured one after the other would carry that drift.
async fn measure(
    client: &reqwest::Client,
    urls: &[String],
    body: &[u8],
    rounds: usize,
) -> Vec<Samples> {
    let mut samples: Vec<Samples> = urls.iter().map(|_| Samples::default()).collect();
    for _ in 0..rounds {
        for (url, samples) in urls.iter().zip(&mut samples) {
            let (whole, first) = exchange(client, url, body).await;
            samples.whole.push(whole);
            samples.first_byte.push(first);
        }
    }
    samples
}

/// The engine benchmark's realistic session (Claude Code reading this repository and running
/// `aws` commands), followed by the user's next prompt: the stand-in answers a final tool
/// result by echoing it whole in small deltas, which would time the answer, not the request.
fn session_with_prompt() -> Vec<u8> {
    let (body, _) = corpus::session_body(3, 1024 * 1024, 80);
    let mut body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let messages = body["messages"].as_array_mut().expect("messages");
    messages.push(serde_json::json!({"role": "assistant", "content": "The deploy role cannot describe the instances."}));
    messages
        .push(serde_json::json!({"role": "user", "content": "Thanks. Summarise what you found."}));
    serde_json::to_vec(&body).expect("json")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let upstream = upstream::start().await;
        let settings = Settings {
            upstream_url: upstream.url(),
            ..Settings::default()
        };
        let config = ProxyConfig::from_settings(&settings, &Secrets::default()).expect("config");
        let proxy = Proxy::new(
            config,
            Arc::new(Journal::new(
                JOURNAL_RECORDS,
                settings.journal_bytes(),
                None,
            )),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(proxy::serve(
            listener,
            None,
            proxy,
            proxy::ServeLimits::from_settings(&settings),
            std::future::pending(),
        ));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");

        println!("| body | path | p50 ms | p90 ms | p99 ms | first byte p50 ms |");
        println!("|---|---|---|---|---|---|");
        let bodies = [
            ("20 KB", corpus::body(3, 20 * 1024, 10, 80).0),
            ("1 MB session", session_with_prompt()),
            ("1 MB stress", corpus::body(3, 1024 * 1024, 10, 80).0),
        ];
        for (label, body) in bodies {
            let paths = ["direct (baseline)", "through maskgate"];
            let urls = [
                format!("{}/v1/messages?beta=true", upstream.url()),
                format!("http://{address}/v1/messages?beta=true"),
            ];
            measure(&client, &urls, &body, WARM_UP_ROUNDS).await;
            let mut samples = measure(&client, &urls, &body, ROUNDS).await;
            let mut p50 = [0.0; 2];
            let mut ttfb = [0.0; 2];
            for (i, (path, samples)) in paths.iter().zip(&mut samples).enumerate() {
                p50[i] = percentile(&mut samples.whole, 0.5);
                ttfb[i] = percentile(&mut samples.first_byte, 0.5);
                println!(
                    "| {label} ({} B) | {path} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    body.len(),
                    p50[i],
                    percentile(&mut samples.whole, 0.9),
                    percentile(&mut samples.whole, 0.99),
                    ttfb[i]
                );
            }
            println!(
                "| {label} | **added by maskgate** | **{:.3}** | | | **{:.3}** |",
                p50[1] - p50[0],
                ttfb[1] - ttfb[0]
            );
        }
    });
}
