//! TLS on the listener (`--tls-cert`, `--tls-key`): a shared pool receives originals over the
//! network. The certificate is signed by a CA made in the test; the clients trust that CA the
//! way a user would tell them to (reqwest's root store, `NODE_EXTRA_CA_CERTS` for Claude Code,
//! `SSL_CERT_FILE` for the Python SDK). HTTP/2 is offered by ALPN beside HTTP/1.1.

use std::process::Command;

use serde_json::Value;

use crate::claude_code::{run_claude, tool_results_and_result};
use crate::support::{
    assert_no_original_in, free_port, make_tls, make_tls_for, messages_request, planted_text,
    settings_for, sse_text_and_json, start_proxy, upstream, PLANTED,
};
use maskgate::settings::Secrets;

fn client_trusting(ca_pem: &str) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA parses");
    reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
}

fn expected_answer() -> String {
    let originals: Vec<&str> = PLANTED.iter().map(|(o, _)| *o).collect();
    format!("Found: {}.", originals.join(", "))
}

#[tokio::test(flavor = "multi_thread")]
async fn https_listener_masks_and_restores_over_http1_and_http2() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = settings_for(&upstream.url());
    settings.tls = Some(tls.write_to(dir.path()));
    let proxy = start_proxy(settings, Secrets::default()).await;
    let url = format!("{}/v1/messages", proxy.url());
    assert!(url.starts_with("https://"), "{url}");

    let http1 = client_trusting(&tls.ca_pem)
        .http1_only()
        .build()
        .expect("client");
    let by_alpn = client_trusting(&tls.ca_pem).build().expect("client");
    for (client, version) in [
        (&http1, reqwest::Version::HTTP_11),
        (&by_alpn, reqwest::Version::HTTP_2),
    ] {
        for stream in [false, true] {
            let answer = client
                .post(&url)
                .json(&messages_request(&planted_text(), stream))
                .send()
                .await
                .expect("an answer over TLS");
            assert_eq!(answer.version(), version);
            assert_eq!(answer.status(), 200);
            let body = answer.text().await.expect("body");
            let text = if stream {
                sse_text_and_json(&body).0
            } else {
                let json: Value = serde_json::from_str(&body).expect("JSON answer");
                json["content"][0]["text"]
                    .as_str()
                    .expect("text")
                    .to_owned()
            };
            assert_eq!(text, expected_answer(), "{version:?}, stream {stream}");
        }
    }
    assert_eq!(upstream.recorder.messages_requests().len(), 4);
    assert_no_original_in(&upstream.recorder.everything());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tls_listener_takes_no_clear_text_and_no_untrusted_peer_sees_an_answer() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = settings_for(&upstream.url());
    settings.tls = Some(tls.write_to(dir.path()));
    let proxy = start_proxy(settings, Secrets::default()).await;
    let body = messages_request(&planted_text(), false);

    // Plain HTTP to the TLS port: no HTTP answer, nothing forwarded.
    let clear = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("http://{}/v1/messages", proxy.address))
        .json(&body)
        .send()
        .await;
    assert!(clear.is_err(), "clear text was answered: {clear:?}");

    // A client that trusts another CA refuses the certificate before sending its request.
    let other = client_trusting(&make_tls().ca_pem).build().expect("client");
    let untrusted = other
        .post(format!("{}/v1/messages", proxy.url()))
        .json(&body)
        .send()
        .await;
    let error = format!("{:?}", untrusted.expect_err("an untrusted certificate"));
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    assert!(upstream.recorder.messages_requests().is_empty());
}

#[test]
fn unusable_tls_files_stop_maskgate_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let tls = make_tls();
    let files = tls.write_to(dir.path());
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, make_tls().key_pem).expect("write");
    let missing = dir.path().join("missing.pem");
    let cases = [
        (files.cert.clone(), missing.clone(), "missing.pem"),
        (files.key.clone(), files.key.clone(), "no certificate"),
        (files.cert.clone(), other_key, "do not go together"),
    ];
    for (cert, key, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_maskgate"))
            .args(["--headless", "--listen", "127.0.0.1:0", "--config"])
            .arg(dir.path().join("config.toml"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .env("NO_COLOR", "1")
            .output()
            .expect("maskgate runs");
        assert!(!output.status.success(), "started with {cert:?} {key:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // One of the pair alone is a usage error, not a listener in clear.
    let output = Command::new(env!("CARGO_BIN_EXE_maskgate"))
        .args(["--headless", "--tls-cert"])
        .arg(&files.cert)
        .output()
        .expect("maskgate runs");
    assert_eq!(output.status.code(), Some(2));
}

/// The headless binary over TLS: Claude Code trusts the test CA by `NODE_EXTRA_CA_CERTS` (as
/// a developer of the pool's company would) and runs its tool loop through `https://`.
#[tokio::test(flavor = "multi_thread")]
async fn claude_code_goes_through_the_tls_listener() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let dir = tempfile::tempdir().expect("dir");
    let files = tls.write_to(dir.path());
    let maskgate = crate::support::spawn_headless(
        &[
            "--upstream",
            &upstream.url(),
            "--tls-cert",
            files.cert.to_str().expect("utf8"),
            "--tls-key",
            files.key.to_str().expect("utf8"),
        ],
        &[],
    );
    let base_url = format!("https://localhost:{}", maskgate.address.port());
    let ca = dir.path().join("ca.pem");
    let prompt = format!("RUN_TOOL: check these resources: {}", planted_text());
    let lines = tokio::task::spawn_blocking(move || {
        let ca = ca.to_str().expect("utf8").to_owned();
        run_claude(&base_url, &prompt, &[("NODE_EXTRA_CA_CERTS", &ca)])
    })
    .await
    .expect("claude ran");

    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(tool_results.len(), 1, "one Bash call expected: {lines:#?}");
    for (original, _) in PLANTED {
        assert!(
            tool_results[0].contains(original),
            "{original} not in the command"
        );
    }
    assert_eq!(result["is_error"], false, "{result}");
    assert!(upstream.recorder.messages_requests().len() >= 2);
    assert_no_original_in(&upstream.recorder.everything());
}

/// The official Python SDK (httpx) through `https://`, trusting the CA by `SSL_CERT_FILE`.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_goes_through_the_tls_listener() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = settings_for(&upstream.url());
    settings.tls = Some(tls.write_to(dir.path()));
    let proxy = start_proxy(settings, Secrets::default()).await;
    let clients = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let (url, ca) = (proxy.url(), dir.path().join("ca.pem"));
    let prompt = format!("Which of these matter? {}", planted_text());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(clients.join(".venv/bin/python3"))
            .arg(clients.join("python_sdk.py"))
            .args([url, prompt])
            .env("SSL_CERT_FILE", ca)
            .output()
            .expect("python runs")
    })
    .await
    .expect("client ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(result["plain"], expected_answer().as_str());
    assert_eq!(result["streamed"], expected_answer().as_str());
    assert_no_original_in(&upstream.recorder.everything());
}

/// `maskgate doctor` and `maskgate run` reach a TLS listener by the chain in its own
/// certificate file (leaf, then the CA), and check `ANTHROPIC_BASE_URL` for `https://`.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_checks_a_tls_maskgate_by_its_certificate_chain() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let dir = tempfile::tempdir().expect("dir");
    let files = tls.write_to(dir.path());
    std::fs::write(&files.cert, format!("{}{}", tls.cert_pem, tls.ca_pem)).expect("chain");
    let (cert, key) = (
        files.cert.to_str().expect("utf8"),
        files.key.to_str().expect("utf8"),
    );
    let tls_args = ["--tls-cert", cert, "--tls-key", key];
    let upstream_url = upstream.url();
    let mut args = vec!["--upstream", upstream_url.as_str()];
    args.extend(tls_args);
    let maskgate = crate::support::spawn_headless(&args, &[]);
    let listen = maskgate.address.to_string();
    let doctor = |base_url: String| {
        let home = tempfile::tempdir().expect("home");
        Command::new(env!("CARGO_BIN_EXE_maskgate"))
            .args(["--listen", &listen, "--config"])
            .arg(dir.path().join("config.toml"))
            .args(tls_args)
            .arg("doctor")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("NO_COLOR", "1")
            .env("ANTHROPIC_BASE_URL", base_url)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .output()
            .expect("doctor runs")
    };
    let good = doctor(format!("https://{listen}"));
    let lines = String::from_utf8_lossy(&good.stdout);
    assert_eq!(good.status.code(), Some(0), "{lines}");
    assert!(lines.contains("✓ live probe"), "{lines}");
    let clear = doctor(format!("http://{listen}"));
    let lines = String::from_utf8_lossy(&clear.stdout);
    assert_eq!(clear.status.code(), Some(1), "{lines}");
    assert!(lines.contains("✗ ANTHROPIC_BASE_URL"), "{lines}");
}

/// The pool's shape: every address, TLS for the pool's DNS name only, a local token.
/// `maskgate health` (the container's probe) reaches it on loopback under that name, with the
/// token, without asking the upstream (there is none here); without the token it fails.
#[test]
fn maskgate_health_probes_a_pool_shaped_listener() {
    let name = "maskgate.pool.test";
    let tls = make_tls_for(&[name]);
    let dir = tempfile::tempdir().expect("dir");
    let files = tls.write_to(dir.path());
    std::fs::write(&files.cert, format!("{}{}", tls.cert_pem, tls.ca_pem)).expect("chain");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let common = |command: &mut Command| {
        command
            .args(["--listen", &listen, "--allow-host", name, "--config"])
            .arg(dir.path().join("config.toml"))
            .arg("--tls-cert")
            .arg(&files.cert)
            .arg("--tls-key")
            .arg(&files.key)
            .env("NO_COLOR", "1");
    };
    let health = |token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_maskgate"));
        common(&mut command);
        command.arg("health").env_remove("MASKGATE_LOCAL_TOKEN");
        if let Some(token) = token {
            command.env("MASKGATE_LOCAL_TOKEN", token);
        }
        command.output().expect("maskgate health runs")
    };
    assert_eq!(
        health(Some("pool-token")).status.code(),
        Some(1),
        "nothing serves yet"
    );

    let mut pool = Command::new(env!("CARGO_BIN_EXE_maskgate"));
    common(&mut pool);
    let mut pool = pool
        .args(["--headless", "--upstream", "http://127.0.0.1:1"])
        .env("MASKGATE_LOCAL_TOKEN", "pool-token")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the pool starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let healthy = loop {
        let output = health(Some("pool-token"));
        if output.status.success() || std::time::Instant::now() > deadline {
            break output;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let without_token = health(None);
    let _ = pool.kill();
    let _ = pool.wait();
    let stdout = String::from_utf8_lossy(&healthy.stdout);
    assert!(
        healthy.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    assert!(
        stdout.contains(&format!("serves on port {port}")),
        "{stdout}"
    );
    assert_eq!(without_token.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without_token.stderr).contains("403"));
}
