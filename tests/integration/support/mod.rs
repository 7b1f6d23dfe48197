//! What the integration tests share: the Anthropic stand-in, the proxy started in-process or
//! as the real `maskgate --headless` binary, and identifiers to plant.

pub mod corpus;
#[cfg(feature = "desktop")]
pub mod tray;
pub mod upstream;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use maskgate::journal::Journal;
use maskgate::proxy::{self, Proxy, ProxyConfig};
use maskgate::settings::{ListenerTls, Secrets, Settings};
use tokio::sync::oneshot;

/// Identifiers of many kinds, as they would appear in `aws` CLI output, with the rule id that
/// must mask each.
pub const PLANTED: &[(&str, &str)] = &[
    ("i-0a1b2c3d4e5f67890", "ec2_instance"),
    ("vpc-0e9801d1290a1b2c3", "vpc"),
    ("subnet-0bb1c79de3a1b2c3d", "subnet"),
    ("sg-0123456789abcdef0", "security_group"),
    ("ami-0abcdef1234567890", "ami"),
    ("vol-049df61146c4d7901", "ebs_volume"),
    ("arn:aws:iam::123456789012:role/DeployRole", "arn"),
    ("acme-prod-data-bucket", "s3_bucket"),
    ("10.20.30.40", "private_ipv4"),
    ("AKIAIOSFODNN7EXAMPLE", "access_key_id"),
    (
        "orders.c9akciq32.us-east-1.rds.amazonaws.com",
        "rds_endpoint",
    ),
];

/// A paragraph that mentions every planted identifier.
pub fn planted_text() -> String {
    PLANTED
        .iter()
        .map(|(id, _)| format!("{id} "))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Panics if any planted original occurs in `seen`.
pub fn assert_no_original_in(seen: &str) {
    for (original, _) in PLANTED {
        assert!(
            !seen.contains(original),
            "original {original:?} reached the upstream:\n{}",
            excerpt(seen, original)
        );
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = (0..=at.saturating_sub(120))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let end = ((at + needle.len() + 120).min(text.len())..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..end].to_owned()
}

/// TLS material made in the test: a CA, and a certificate it signed for `127.0.0.1` and
/// `localhost` with its key.
pub struct TestTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn make_tls() -> TestTls {
    make_tls_for(&["127.0.0.1", "localhost"])
}

/// [`make_tls`] with a certificate for `names`.
pub fn make_tls_for(names: &[&str]) -> TestTls {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "maskgate test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("server key");
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");
    TestTls {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl TestTls {
    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir`; returns the listener's files.
    pub fn write_to(&self, dir: &std::path::Path) -> ListenerTls {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem).expect("ca written");
        std::fs::write(dir.join("cert.pem"), &self.cert_pem).expect("cert written");
        std::fs::write(dir.join("key.pem"), &self.key_pem).expect("key written");
        ListenerTls {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// The proxy served in-process on an ephemeral loopback port.
pub struct RunningProxy {
    pub address: SocketAddr,
    pub proxy: Arc<Proxy>,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
}

impl RunningProxy {
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn settings_for(upstream_url: &str) -> Settings {
    Settings {
        upstream_url: upstream_url.to_owned(),
        ..Settings::default()
    }
}

pub async fn start_proxy(settings: Settings, secrets: Secrets) -> RunningProxy {
    let config = ProxyConfig::from_settings(&settings, &secrets).expect("valid test settings");
    let proxy = Proxy::new(
        config,
        Arc::new(Journal::new(100, settings.journal_bytes(), None)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let served = Arc::clone(&proxy);
    let limits = proxy::ServeLimits::from_settings(&settings);
    let tls = settings
        .tls
        .as_ref()
        .map(|files| proxy::tls::acceptor(files).expect("test TLS files"));
    tokio::spawn(async move {
        proxy::serve(listener, tls, served, limits, async {
            let _ = stopped.await;
        })
        .await
        .expect("proxy serves");
    });
    RunningProxy {
        address,
        proxy,
        tls: settings.tls.is_some(),
        stop: Some(stop),
    }
}

/// The real `maskgate --headless` binary, stopped when dropped.
pub struct HeadlessProcess {
    pub child: Child,
    pub address: SocketAddr,
}

impl HeadlessProcess {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for HeadlessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `maskgate --headless --listen 127.0.0.1:0 <args>` and waits for it to serve.
pub fn spawn_headless(args: &[&str], envs: &[(&str, &str)]) -> HeadlessProcess {
    spawn_headless_with_config(args, envs, "")
}

/// [`spawn_headless`] with `config` (TOML) as its settings file.
pub fn spawn_headless_with_config(
    args: &[&str],
    envs: &[(&str, &str)],
    config: &str,
) -> HeadlessProcess {
    let config_dir = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(config_dir.join("config.toml"), config).expect("config written");
    let mut child = Command::new(env!("CARGO_BIN_EXE_maskgate"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--config"])
        .arg(config_dir.join("config.toml"))
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "maskgate=info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("maskgate binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                let proxy_line = line.contains("maskgate is serving");
                if let Some(rest) = line.split("address=").nth(1).filter(|_| proxy_line) {
                    let address = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send(address);
                    sent = true;
                }
            }
            eprintln!("[maskgate] {line}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let address = loop {
        if let Ok(address) = rx.recv_timeout(Duration::from_millis(100)) {
            break address.parse().expect("a socket address in the log");
        }
        assert!(Instant::now() < deadline, "maskgate did not start serving");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("maskgate exited early: {status}");
        }
    };
    HeadlessProcess { child, address }
}

/// Concatenates the `text_delta` pieces of an SSE answer, and the `partial_json` pieces.
pub fn sse_text_and_json(body: &str) -> (String, String) {
    let mut text = String::new();
    let mut json = String::new();
    for line in body.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(data) else {
            continue;
        };
        match event["delta"]["type"].as_str() {
            Some("text_delta") => {
                text.push_str(event["delta"]["text"].as_str().unwrap_or_default())
            }
            Some("input_json_delta") => {
                json.push_str(event["delta"]["partial_json"].as_str().unwrap_or_default())
            }
            _ => {}
        }
    }
    (text, json)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// An HTTP client that never goes through a system proxy (tests talk to loopback only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// A `/v1/messages` body in Claude Code's shape: a system block and one user text block.
pub fn messages_request(prompt: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "claude-test",
        "max_tokens": 100,
        "stream": stream,
        "system": [{"type": "text", "text": "You are a test."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    })
}

/// POSTs `body` to `{base_url}/v1/messages`.
pub async fn post_messages(base_url: &str, body: &serde_json::Value) -> reqwest::Response {
    client()
        .post(format!("{base_url}/v1/messages"))
        .json(body)
        .send()
        .await
        .expect("answer")
}
