//! The outside review's findings, each through the real proxy: originals that reached the
//! upstream (thinking-shaped members, JSON in strings, context found after a bare mention,
//! percent-encoding, the URL path), the audit log, who may connect, and what one client can
//! hold (timeouts, the connection cap, memory for declared lengths).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::upstream;
use crate::support::{client, settings_for, spawn_headless, start_proxy};
use maskgate::mask::CustomPattern;
use maskgate::settings::{Attachments, Secrets, Settings};

/// Posts `body` to the proxy and returns what the stand-in upstream received, all of it.
async fn forwarded(body: &Value) -> (u16, String) {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let status = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .json(body)
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16();
    (status, upstream.recorder.everything())
}

#[tokio::test]
async fn a_thinking_shaped_member_outside_an_assistant_block_switches_nothing_off() {
    let id = "i-0a1b2c3d4e5f67890";
    let body = json!({
        "type": "thinking", "thinking": "x", "signature": "s",
        "model": "claude-test", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": [{"type": "thinking", "thinking": id, "signature": "s"}, {"type": "text", "text": id}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"type": "thinking", "thinking": id, "signature": "s"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": id}]}
        ]
    });
    let (_, seen) = forwarded(&body).await;
    assert!(seen.contains("EC2_INSTANCE_001"), "{seen}");
    assert!(!seen.contains(id), "{seen}");
}

#[tokio::test]
async fn json_in_strings_bare_mentions_and_percent_encoding_are_masked() {
    let event = json!({"eventName": "AssumeRole", "accountId": "111122223333", "recipientAccountId": "444455556666"}).to_string();
    let logs = json!({"events": [{"message": event}]}).to_string();
    let text = format!(
        "billed to 777788889999 this month\n{logs}\nrole arn:aws:iam::777788889999:role/x\n\
         https://console.aws.amazon.com/iam/home?arn=arn%3Aaws%3Aiam%3A%3A121212121212%3Arole%2FDeploy\n\
         https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    );
    let body = json!({"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": text}]});
    let (status, seen) = forwarded(&body).await;
    assert_eq!(status, 200);
    for original in [
        "111122223333",
        "444455556666",
        "777788889999",
        "121212121212",
        "AKIAIOSFODNN7EXAMPLE",
    ] {
        assert!(!seen.contains(original), "{original} reached the upstream");
    }
}

#[tokio::test]
async fn base64_text_never_reaches_the_upstream_and_comes_back_encoded() {
    use base64::Engine as _;
    let key = "AKIAIOSFODNN7EXAMPLE";
    let role = "arn:aws:iam::343434343434:role/Deploy";
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (key_b64, role_b64) = (b64(key), b64(&format!("role_arn = {role}\n")));
    let secret = format!(
        "apiVersion: v1\nkind: Secret\ndata:\n  AWS_ACCESS_KEY_ID: {key_b64}\n  config: {role_b64}\n"
    );
    let body = json!({
        "model": "claude-test", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "show the secret"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "kubectl get secret aws -o yaml"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": secret}]}
        ]
    });
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let answer: Value = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .json(&body)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json answer");
    let seen = upstream.recorder.everything();
    for original in [key, key_b64.as_str(), "343434343434", role_b64.as_str()] {
        assert!(
            !seen.contains(original),
            "{original} reached the upstream: {seen}"
        );
    }
    let text = answer["content"][0]["text"].as_str().expect("text answer");
    assert!(
        text.contains(&key_b64) && text.contains(&role_b64),
        "{text}"
    );
}

#[tokio::test]
async fn images_are_refused_unread_unless_the_user_sends_them() {
    let screenshot = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"}});
    let body = json!({"model": "claude-test", "max_tokens": 10, "messages": [
        {"role": "user", "content": [screenshot, {"type": "text", "text": "what is wrong with i-0a1b2c3d4e5f67890?"}]}
    ]});
    let upstream = upstream::start().await;
    let send = |proxy: &crate::support::RunningProxy| {
        client()
            .post(format!("{}/v1/messages", proxy.url()))
            .json(&body)
            .send()
    };

    let refusing = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let refused = send(&refusing).await.expect("answer");
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.headers()["x-should-retry"], "false");
    let error: Value = refused.json().await.expect("error body");
    assert_eq!(error["type"], "error");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("image or PDF") && message.contains("attachments = \"forward\""),
        "{message}"
    );
    assert!(
        upstream.recorder.messages_requests().is_empty(),
        "nothing forwarded"
    );
    let summary = &refusing.proxy.journal().summaries()[0];
    assert_eq!((summary.attachments, summary.status), (1, Some(400)));

    let mut settings = settings_for(&upstream.url());
    settings.attachments = Attachments::Forward;
    let forwarding = start_proxy(settings, Secrets::default()).await;
    assert_eq!(send(&forwarding).await.expect("answer").status(), 200);
    let seen = upstream.recorder.last_messages_body();
    assert!(
        seen.contains("iVBORw0KGgo") && !seen.contains("i-0a1b2c3d4e5f67890"),
        "{seen}"
    );
    assert_eq!(forwarding.proxy.journal().summaries()[0].attachments, 1);
}

#[tokio::test]
async fn a_custom_pattern_switched_off_is_not_masked_by_the_proxy() {
    let upstream = upstream::start().await;
    let mut settings = settings_for(&upstream.url());
    settings.custom_patterns = vec![CustomPattern {
        name: "ticket".into(),
        regex: "TICKET-[0-9]+".into(),
        token_prefix: "TICKET".into(),
    }];
    settings.disabled_kinds.insert("custom:ticket".into());
    let proxy = start_proxy(settings, Secrets::default()).await;
    client()
        .post(format!("{}/v1/messages", proxy.url()))
        .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "see TICKET-42"}]}))
        .send()
        .await
        .expect("answer");
    assert!(upstream.recorder.everything().contains("TICKET-42"));
}

#[tokio::test]
async fn an_identifier_in_the_path_is_refused_and_every_refusal_is_audited_masked() {
    let upstream = upstream::start().await;
    let audit = tempfile::tempdir().expect("tempdir");
    let audit_path = audit.path().join("audit.jsonl");
    let headless = spawn_headless(
        &[
            "--upstream",
            &upstream.url(),
            "--audit-log",
            audit_path.to_str().expect("utf8 path"),
        ],
        &[],
    );
    let in_path = client()
        .post(format!(
            "{}/v1/messages/i-0a1b2c3d4e5f67890",
            headless.url()
        ))
        .json(&json!({"messages": []}))
        .send()
        .await
        .expect("answer");
    assert_eq!(in_path.status(), 400);
    let not_json = client()
        .post(format!("{}/v1/messages", headless.url()))
        .body("{\"messages\": [\"vpc-0e9801d1290a1b2c3\"")
        .send()
        .await
        .expect("answer");
    assert_eq!(not_json.status(), 400);
    assert!(upstream.recorder.all().is_empty(), "nothing forwarded");
    let mut lines = Vec::new();
    for _ in 0..100 {
        let audit = std::fs::read_to_string(&audit_path).unwrap_or_default();
        lines = audit.lines().map(str::to_owned).collect();
        if lines.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        let record: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(record["outcome"], "refused");
        assert!(record["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let all = lines.join("\n");
    assert!(all.contains("EC2_INSTANCE_001"), "{all}");
    assert!(!all.contains("i-0a1b2c3d4e5f67890") && !all.contains("vpc-0e9801d1290a1b2c3"));
}

#[test]
fn listening_beyond_loopback_needs_a_local_token() {
    let config = tempfile::tempdir().expect("tempdir");
    let run = |token: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_maskgate"));
        command
            .args(["--headless", "--listen", "0.0.0.0:0", "--config"])
            .arg(config.path().join("config.toml"))
            .env_remove("MASKGATE_LOCAL_TOKEN")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(token) = token {
            command.env("MASKGATE_LOCAL_TOKEN", token);
        }
        command.spawn().expect("maskgate starts")
    };
    let refused = run(None).wait_with_output().expect("exits");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("local token"), "{said}");
    // With a token it serves, and says what it exposes.
    let mut served = run(Some("a-long-local-token-for-the-test"));
    let mut stderr = served.stderr.take().expect("stderr");
    let warned = std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stderr, &mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            if text.contains("beyond loopback") {
                break;
            }
        }
        text
    });
    let text = warned.join().expect("read");
    let _ = served.kill();
    let _ = served.wait();
    assert!(text.contains("beyond loopback"), "{text}");
}

/// Reads until the peer closes, or `wait` passes; returns what arrived and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

async fn timed_proxy(upstream: &upstream::TestUpstream) -> crate::support::RunningProxy {
    let settings = Settings {
        client_header_timeout_secs: 1,
        client_body_timeout_secs: 1,
        max_connections: 3,
        ..settings_for(&upstream.url())
    };
    start_proxy(settings, Secrets::default()).await
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    let upstream = upstream::start().await;
    let proxy = timed_proxy(&upstream).await;
    // Silent from the start.
    let mut silent = TcpStream::connect(proxy.address).await.expect("connect");
    assert!(
        read_until_closed(&mut silent, Duration::from_secs(5))
            .await
            .1
    );
    // Idle on keep-alive after an answer.
    let mut idle = TcpStream::connect(proxy.address).await.expect("connect");
    idle.write_all(b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let (seen, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(closed);
    // A body that never finishes arriving: 408 in Anthropic's format, nothing forwarded.
    let mut slow = TcpStream::connect(proxy.address).await.expect("connect");
    slow.write_all(b"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"messages\"")
        .await
        .expect("send");
    let (seen, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
    assert!(seen.contains("\"type\":\"error\""), "{seen}");
    assert!(upstream.recorder.all().iter().all(|r| r.method == "HEAD"));
}

#[tokio::test]
async fn connections_past_the_cap_get_a_clear_503() {
    let upstream = upstream::start().await;
    let proxy = timed_proxy(&upstream).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(proxy.address).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(proxy.address).await.expect("connect");
    let (seen, closed) = read_until_closed(&mut extra, Duration::from_secs(3)).await;
    assert!(closed);
    assert!(seen.starts_with("HTTP/1.1 503"), "{seen}");
    assert!(seen.contains("overloaded_error"), "{seen}");
    // Once the held ones are closed (by the header timeout here), others are served again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = client().head(proxy.url()).send().await.expect("answer");
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn two_host_headers_are_refused_and_a_half_closed_client_gets_its_answer() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let body = r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let request = |hosts: &str| {
        format!(
            "POST /v1/messages HTTP/1.1\r\n{hosts}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut two = TcpStream::connect(proxy.address).await.expect("connect");
    two.write_all(request("Host: localhost\r\nHost: evil.example\r\n").as_bytes())
        .await
        .expect("send");
    let (seen, _) = read_until_closed(&mut two, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 4"), "{seen}");
    assert!(upstream.recorder.all().is_empty());

    let mut half = TcpStream::connect(proxy.address).await.expect("connect");
    half.write_all(request("Host: localhost\r\n").as_bytes())
        .await
        .expect("send");
    half.shutdown().await.expect("half-close");
    let (seen, _) = read_until_closed(&mut half, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
}

/// The process's virtual memory, from /proc.
fn vm_size_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmSize")
}

#[tokio::test]
async fn declared_lengths_reserve_nothing_until_bytes_arrive() {
    let upstream = upstream::start().await;
    let headless = spawn_headless(&["--upstream", &upstream.url()], &[]);
    let pid = headless.child.id();
    let before = vm_size_kib(pid);
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(headless.address).await.expect("connect");
        stream
            .write_all(b"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: 33554000\r\n\r\n{\"messages\":")
            .await
            .expect("send");
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown_mib = vm_size_kib(pid).saturating_sub(before) / 1024;
    // 50 × 32 MiB would be 1600 MiB; a buffer of what arrived is a few KiB each.
    assert!(grown_mib < 400, "address space grew by {grown_mib} MiB");
    let answer = client()
        .head(headless.url())
        .send()
        .await
        .expect("still serving");
    assert_eq!(answer.status(), 200);
}

/// `maskgate --headless --dashboard` with `config`, in front of `upstream`; the dashboard's
/// port.
fn with_dashboard(
    upstream: &upstream::TestUpstream,
    token: &str,
    config: &str,
) -> (crate::support::HeadlessProcess, u16) {
    let port = crate::support::free_port();
    let headless = crate::support::spawn_headless_with_config(
        &[
            "--upstream",
            &upstream.url(),
            "--dashboard",
            "--dashboard-listen",
            &format!("127.0.0.1:{port}"),
        ],
        &[("MASKGATE_DASHBOARD_TOKEN", token)],
        config,
    );
    (headless, port)
}

/// Sends `head` then `size` bytes of body in pieces, and returns what came back.
async fn upload(address: std::net::SocketAddr, head: &str, size: usize) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    let piece = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < size {
        let n = piece.len().min(size - sent);
        if stream.write_all(&piece[..n]).await.is_err() {
            break;
        }
        sent += n;
    }
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .0
}

#[tokio::test]
async fn oversized_bodies_get_their_413_not_a_reset_and_the_dashboard_switches_custom_patterns() {
    let upstream = upstream::start().await;
    let token = "review-dashboard-token-0123456789";
    let (headless, dashboard_port) = with_dashboard(&upstream, token, "max_body_mib = 1\n");
    let size = 3 << 20;
    let proxy_head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    let seen = upload(headless.address, &proxy_head, size).await;
    assert!(seen.starts_with("HTTP/1.1 413"), "{seen}");
    let dashboard: std::net::SocketAddr = format!("127.0.0.1:{dashboard_port}")
        .parse()
        .expect("address");
    let api_head = format!(
        "POST /api/exchanges HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    let seen = upload(dashboard, &api_head, size).await;
    assert!(seen.starts_with("HTTP/1.1 413"), "{seen}");

    // A custom pattern saved and then switched off on the browser dashboard: the proxy
    // masks it while it is on, and not once it is off.
    let api = |command: &str, args: Value| {
        client()
            .post(format!("http://{dashboard}/api/{command}"))
            .bearer_auth(token)
            .json(&args)
            .send()
    };
    let pattern = json!({"name": "ticket", "regex": "TICKET-[0-9]+", "token_prefix": "TICKET"});
    let saved = api("save_custom_patterns", json!({"patterns": [pattern]}))
        .await
        .expect("answer");
    assert_eq!(saved.status(), 200);
    let ask = || async {
        client()
            .post(format!("{}/v1/messages", headless.url()))
            .json(&json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "see TICKET-42"}]}))
            .send()
            .await
            .expect("answer");
        let last = upstream.recorder.all().pop().expect("forwarded");
        String::from_utf8_lossy(&last.body).into_owned()
    };
    assert!(ask().await.contains("TICKET_001"));
    let off = api(
        "set_kind_enabled",
        json!({"id": "custom:ticket", "enabled": false}),
    )
    .await
    .expect("answer");
    assert_eq!(off.status(), 200);
    assert!(ask().await.contains("TICKET-42"));
}

/// The process's resident memory, from /proc, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn clearing_the_journal_gives_its_memory_back() {
    let upstream = upstream::start().await;
    let token = "review-clear-token-0123456789";
    let (headless, dashboard_port) = with_dashboard(&upstream, token, "");
    let pid = headless.child.id();
    let before = rss_kib(pid);
    // Answers that quote a 400 KB tool result: the journal holds each request and answer.
    let result = "plain output line without identifiers\n".repeat(10_000);
    for n in 0..60 {
        let body = json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": format!("turn {n}")},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "cat"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": result}]}
        ]});
        let answer = client()
            .post(format!("{}/v1/messages", headless.url()))
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
        answer.bytes().await.expect("body");
    }
    let full = rss_kib(pid);
    assert!(
        full > before + 30 * 1024,
        "the journal should have grown: {before} → {full} KiB"
    );
    let cleared = client()
        .post(format!(
            "http://127.0.0.1:{dashboard_port}/api/clear_journal"
        ))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("answer");
    assert_eq!(cleared.status(), 200);
    // The allocator hands freed memory back to the system as it works (a purge runs with the
    // next allocations after a short delay): a few small requests later, it has.
    let mut after = rss_kib(pid);
    for _ in 0..50 {
        if after < full - (full - before) / 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        client().head(headless.url()).send().await.expect("answer");
        after = rss_kib(pid);
    }
    eprintln!("RSS: {before} KiB at start, {full} with the journal full, {after} after clearing");
    assert!(
        after < full - (full - before) / 2,
        "RSS {before} → {full} → {after} KiB: clearing gave back less than half"
    );
    let exchanges = client()
        .post(format!("http://127.0.0.1:{dashboard_port}/api/exchanges"))
        .bearer_auth(token)
        .send()
        .await
        .expect("answer")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(exchanges, json!([]));
}

#[tokio::test]
async fn an_identifier_in_a_forwarded_header_is_refused_and_credentials_are_not_scanned() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    // ANTHROPIC_CUSTOM_HEADERS can put anything in a header, and headers go upstream as sent.
    let refused = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header(
            "x-team-context",
            "billing account arn:aws:iam::123456789012:role/Deploy",
        )
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 400);
    let message = refused.text().await.expect("body");
    assert!(message.contains("x-team-context"), "{message}");
    assert!(!message.contains("123456789012"), "{message}");
    assert!(upstream.recorder.all().is_empty(), "nothing forwarded");
    // The client's own key is its business with the upstream; a clean header passes.
    let passed = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("x-api-key", "sk-ant-AKIAIOSFODNN7EXAMPLE")
        .header("x-team-context", "platform team")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(passed.status(), 200);
    assert_eq!(upstream.recorder.all().len(), 1);
}
