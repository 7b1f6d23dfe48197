//! Soak: the real `maskgate --headless` under 300 concurrent streamed exchanges for a while
//! (`MASKGATE_SOAK_SECS`, 60 by default; `scripts/soak.sh` runs the long one), with idle,
//! slow and cut connections mixed in. No original may reach the upstream, every answer must
//! come back restored, and afterwards the process's descriptors return to their baseline (plus
//! the upstream pool's few idle connections) and its memory to within twice its idle size plus
//! the journal's bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::upstream;
use crate::support::{
    assert_no_original_in, messages_request, planted_text, spawn_headless_with_config,
    sse_text_and_json, PLANTED,
};

/// The journal's bound for the soak, in MiB (part of the memory bound after load).
const JOURNAL_MIB: u64 = 16;
const CONCURRENT: usize = 300;

fn soak_secs() -> u64 {
    std::env::var("MASKGATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("field")
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_streams_with_idle_slow_and_cut_clients() {
    let upstream = upstream::start().await;
    let config = format!("journal_mib = {JOURNAL_MIB}\nclient_header_timeout_secs = 5\nclient_body_timeout_secs = 5\nmax_connections = 1024\n");
    let headless = spawn_headless_with_config(&["--upstream", &upstream.url()], &[], &config);
    let pid = headless.child.id();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENT)
        .build()
        .expect("client");
    let url = format!("{}/v1/messages", headless.url());
    let body = messages_request(&format!("Look at {}", planted_text()), true);
    let expected: Vec<&str> = PLANTED.iter().map(|(o, _)| *o).collect();
    let expected = format!("Found: {}.", expected.join(", "));
    // Warm up, then the baseline.
    for _ in 0..20 {
        client
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("warm")
            .text()
            .await
            .expect("warm");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = proc_status_kib(pid, "VmRSS:");
    let idle_fds = open_descriptors(pid);

    let deadline = Instant::now() + Duration::from_secs(soak_secs());
    let done = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(AtomicUsize::new(0));
    let first_bad = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut workers = Vec::new();
    for worker in 0..CONCURRENT {
        let (client, url, body, expected) =
            (client.clone(), url.clone(), body.clone(), expected.clone());
        let (done, bad, address) = (Arc::clone(&done), Arc::clone(&bad), headless.address);
        let first_bad = Arc::clone(&first_bad);
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match worker % 30 {
                    // Idle: connects, says nothing, is closed by the header timeout.
                    0 => {
                        let mut idle = TcpStream::connect(address).await.expect("connect");
                        let mut buf = [0u8; 64];
                        let _ = tokio::time::timeout(Duration::from_secs(8), idle.read(&mut buf)).await;
                    }
                    // Slow: a body that stops halfway.
                    1 => {
                        let mut slow = TcpStream::connect(address).await.expect("connect");
                        let _ = slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 400\r\n\r\n{\"messages\":").await;
                        let mut buf = [0u8; 512];
                        let _ = tokio::time::timeout(Duration::from_secs(8), slow.read(&mut buf)).await;
                    }
                    // Cut: reads the start of a stream, then hangs up.
                    2 => {
                        if let Ok(mut answer) = client.post(&url).json(&body).send().await {
                            let _ = answer.chunk().await;
                        }
                    }
                    _ => {
                        let text = match client.post(&url).json(&body).send().await {
                            Ok(answer) => answer.text().await.map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        match text {
                            Ok(text) if sse_text_and_json(&text).0 == expected => {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            other => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                let mut first = first_bad.lock().expect("lock");
                                first.get_or_insert_with(|| format!("{other:?}"));
                            }
                        }
                    }
                }
            }
        }));
    }
    let mut load_rss = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        load_rss = load_rss.max(proc_status_kib(pid, "VmRSS:"));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    drop(client);
    let exchanges = done.load(Ordering::Relaxed);
    assert!(
        exchanges > CONCURRENT,
        "only {exchanges} exchanges completed"
    );
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "answers not restored, the first: {:?}",
        first_bad.lock().expect("lock")
    );
    assert_no_original_in(&upstream.recorder.everything());

    // Afterwards: descriptors back to the baseline, memory within the stated bound.
    // The upstream pool may keep a few more idle connections than the warm-up needed.
    let fds_bound = idle_fds + maskgate::proxy::upstream::IDLE_CONNECTIONS_AT_MOST;
    let mut fds = open_descriptors(pid);
    for _ in 0..100 {
        if fds <= fds_bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        fds = open_descriptors(pid);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_rss = proc_status_kib(pid, "VmRSS:");
    eprintln!(
        "soak: {exchanges} restored exchanges; RSS idle {} MiB, under load ≤ {} MiB, after {} MiB; descriptors {idle_fds} → {fds}",
        idle_rss / 1024,
        load_rss / 1024,
        after_rss / 1024
    );
    assert!(
        fds <= fds_bound,
        "descriptors {idle_fds} before, {fds} after"
    );
    let bound = 2 * idle_rss + JOURNAL_MIB * 1024;
    assert!(
        after_rss <= bound,
        "RSS after load {after_rss} KiB > {bound} KiB"
    );
}
