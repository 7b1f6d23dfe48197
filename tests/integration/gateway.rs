//! The gateway hop. Kong cannot be installed here, so a real gateway process from Debian's
//! packages — nginx — is configured as the Kong route in deploy/kong/kong.yml would be: the
//! same path prefix (stripped), key-auth on the `apikey` header with Kong's own 401 JSON, the
//! credential hidden from the upstream, the consumer named in `X-Consumer-Username`, no response
//! buffering, a 64 MB body limit. Behind it, the Anthropic stand-in; in front, maskgate and the
//! real Claude Code CLI. TLS to the gateway uses a CA generated in the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

use crate::claude_code::{run_claude, tool_results_and_result};
use crate::support::{
    assert_no_original_in, client, free_port, make_tls, messages_request, planted_text,
    post_messages, settings_for, spawn_headless, start_proxy, upstream, TestTls, PLANTED,
};
use maskgate::settings::{GatewayAuth, Secrets};

const TEAM_KEY: &str = "team-platform-key-7f3a";

fn kong_yml() -> Vec<Yaml> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kong/kong.yml");
    YamlLoader::load_from_str(&std::fs::read_to_string(path).expect("kong.yml"))
        .expect("kong.yml parses")
}

/// The route prefix the Kong configuration serves maskgate on (pass-through route).
fn kong_route_prefix() -> String {
    let doc = &kong_yml()[0];
    let route = doc["services"]
        .as_vec()
        .expect("services")
        .iter()
        .flat_map(|s| s["routes"].as_vec().cloned().unwrap_or_default())
        .find(|r| r["name"].as_str() == Some("claude-proxy"))
        .expect("the claude-proxy route");
    route["paths"][0].as_str().expect("a path").to_owned()
}

/// nginx, configured as the Kong route, stopped when dropped.
struct Gateway {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    tls: bool,
}

impl Gateway {
    fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{}", self.port, kong_route_prefix())
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The access log once it holds `line`, or as it is after a few seconds: nginx writes a
    /// request's line when it finalises the request, which can be just after the client has
    /// read the last byte of the answer.
    fn access_log_holding(&self, line: &str) -> String {
        for _ in 0..50 {
            let log = self.access_log();
            if log.contains(line) {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.access_log()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn start_gateway(upstream_port: u16, tls: Option<&TestTls>) -> Gateway {
    let dir = tempfile::tempdir().expect("nginx dir");
    let d = dir.path().display();
    let port = free_port();
    let prefix = kong_route_prefix();
    let listen = match tls {
        Some(tls) => {
            std::fs::write(dir.path().join("cert.pem"), &tls.cert_pem).expect("cert");
            std::fs::write(dir.path().join("key.pem"), &tls.key_pem).expect("key");
            format!("listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;")
        }
        None => format!("listen 127.0.0.1:{port};"),
    };
    // As root, nginx's workers would drop to `nobody` and lose access to this private directory.
    let user = if is_root() { "user root root;" } else { "" };
    let config = format!(
        r#"{user}
# One process, so stopping it stops everything.
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  default_type application/json;
  log_format gateway '$request_method $request_uri $status $server_protocol consumer=$consumer';
  access_log {d}/access.log gateway;
  # key-auth: the consumer behind each key (Kong's keyauth_credentials).
  map $http_apikey $consumer {{ default ""; "{TEAM_KEY}" "team-platform"; }}
  server {{
    {listen}
    location {prefix}/ {{
      if ($http_x_test_kong = "ratelimit") {{
        add_header Retry-After 7 always;
        return 429 '{{"message":"API rate limit exceeded"}}';
      }}
      if ($http_apikey = "") {{ return 401 '{{"message":"No API key found in request"}}'; }}
      if ($consumer = "") {{ return 401 '{{"message":"Invalid authentication credentials"}}'; }}
      client_max_body_size 64m;
      proxy_pass http://127.0.0.1:{upstream_port}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header apikey "";
      proxy_set_header X-Consumer-Username $consumer;
      proxy_buffering off;
      proxy_read_timeout 600s;
    }}
  }}
}}
"#
    );
    std::fs::write(dir.path().join("nginx.conf"), config).expect("nginx.conf");
    let child = Command::new(nginx_binary())
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx starts (install Debian's nginx-light)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway {
        child,
        port,
        dir,
        tls: tls.is_some(),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_through_maskgate_and_the_gateway_carries_the_credential_and_no_original() {
    let upstream = upstream::start().await;
    let gateway = start_gateway(upstream.address.port(), None);
    let maskgate = spawn_headless(
        &["--upstream", &gateway.base_url(), "--gateway-auth", "key"],
        &[("MASKGATE_GATEWAY_SECRET", TEAM_KEY)],
    );
    let prompt = format!("RUN_TOOL: check {}", planted_text());
    let base_url = maskgate.url();
    let lines = tokio::task::spawn_blocking(move || run_claude(&base_url, &prompt, &[]))
        .await
        .expect("claude ran");
    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(result["is_error"], false, "{result}");
    for (original, _) in PLANTED {
        assert!(
            tool_results.iter().any(|r| r.contains(original)),
            "{original} not used by the tool"
        );
        assert!(
            result["result"]
                .as_str()
                .unwrap_or_default()
                .contains(original),
            "{original} not restored"
        );
    }
    let turns = upstream.recorder.messages_requests();
    assert!(turns.len() >= 2);
    for turn in &turns {
        assert_eq!(
            turn.path_and_query, "/v1/messages?beta=true",
            "the route prefix is stripped"
        );
        assert_eq!(
            turn.headers["x-consumer-username"], "team-platform",
            "the request passed the gateway's key-auth"
        );
        assert!(
            !turn.headers.contains_key("apikey"),
            "the gateway hides the credential from the upstream"
        );
        assert_eq!(
            turn.headers["x-api-key"], "sk-ant-test",
            "pass-through mode keeps the developer's key"
        );
    }
    assert_no_original_in(&upstream.recorder.everything());
    let line = "POST /claude-proxy/v1/messages?beta=true 200";
    let log = gateway.access_log_holding(line);
    assert!(log.contains(line), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_gateway_credential_reaches_claude_code_as_a_clear_error() {
    let upstream = upstream::start().await;
    let gateway = start_gateway(upstream.address.port(), None);
    let maskgate = spawn_headless(
        &["--upstream", &gateway.base_url(), "--gateway-auth", "key"],
        &[("MASKGATE_GATEWAY_SECRET", "not-the-key")],
    );
    let base_url = maskgate.url();
    let lines = tokio::task::spawn_blocking(move || run_claude(&base_url, "hello", &[]))
        .await
        .expect("claude ran");
    let (_, result) = tool_results_and_result(&lines);
    assert_eq!(result["is_error"], true, "{result}");
    let shown = serde_json::to_string(&lines).expect("json");
    assert!(
        shown.contains("rejected the maskgate credentials: Invalid authentication credentials"),
        "{shown}"
    );
    assert!(
        upstream.recorder.messages_requests().is_empty(),
        "nothing got past the gateway"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_rate_limits_keep_retry_after_and_the_anthropic_format() {
    let upstream = upstream::start().await;
    let gateway = start_gateway(upstream.address.port(), None);
    let mut settings = settings_for(&gateway.base_url());
    settings.gateway.auth = GatewayAuth::Key;
    let secrets = Secrets {
        gateway_secret: Some(TEAM_KEY.into()),
        ..Secrets::default()
    };
    let proxy = start_proxy(settings, secrets).await;
    let answer = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("x-test-kong", "ratelimit")
        .json(&serde_json::json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "7");
    let error: Value = answer.json().await.expect("json");
    assert_eq!(error["error"]["type"], "rate_limit_error");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("Kong gateway 127.0.0.1:") && message.contains("API rate limit exceeded"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_whether_the_gateway_accepts_the_credential() {
    let upstream = upstream::start().await;
    let gateway = start_gateway(upstream.address.port(), None);
    for (key, credentials, status) in [(TEAM_KEY, "accepted", 200), ("wrong", "rejected", 503)] {
        let mut settings = settings_for(&gateway.base_url());
        settings.gateway.auth = GatewayAuth::Key;
        let secrets = Secrets {
            gateway_secret: Some(key.into()),
            ..Secrets::default()
        };
        let proxy = start_proxy(settings, secrets).await;
        let answer = client()
            .get(format!("{}/_maskgate/health", proxy.url()))
            .send()
            .await
            .expect("health");
        assert_eq!(answer.status(), status);
        let health: Value = answer.json().await.expect("json");
        assert_eq!(health["credentials"], credentials, "{health}");
        assert_eq!(health["reachable"], true);
    }
    let messages = upstream.recorder.messages_requests();
    assert!(messages.is_empty(), "a health check sends no prompt");
}

#[tokio::test(flavor = "multi_thread")]
async fn https_to_the_gateway_verifies_its_certificate_against_the_configured_ca() {
    let upstream = upstream::start().await;
    let tls = make_tls();
    let gateway = start_gateway(upstream.address.port(), Some(&tls));
    let dir = tempfile::tempdir().expect("dir");
    let body = messages_request(&planted_text(), true);
    let secrets = Secrets {
        gateway_secret: Some(TEAM_KEY.into()),
        ..Secrets::default()
    };

    // With a CA that did not sign the gateway's certificate: refused before anything is sent.
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, make_tls().ca_pem).expect("write");
    let mut settings = settings_for(&gateway.base_url());
    settings.gateway.auth = GatewayAuth::Key;
    settings.gateway.ca_file = Some(other_ca);
    let proxy = start_proxy(settings.clone(), secrets.clone()).await;
    let answer = post_messages(&proxy.url(), &body).await;
    assert_eq!(answer.status(), 502);
    let error: Value = answer.json().await.expect("json");
    let message = error["error"]["message"]
        .as_str()
        .expect("message")
        .to_lowercase();
    assert!(message.contains("certificate"), "{message}");
    assert!(
        gateway.access_log().is_empty(),
        "no request may reach a gateway we do not trust"
    );

    // With the right CA: verified, over HTTP/2, and the answer is restored.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &tls.ca_pem).expect("write");
    settings.gateway.ca_file = Some(ca);
    let proxy = start_proxy(settings, secrets).await;
    let answer = post_messages(&proxy.url(), &body).await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("body");
    assert!(text.contains("i-0a1b2c3d4e5f67890"), "{text}");
    let line = "HTTP/2.0 consumer=team-platform";
    let log = gateway.access_log_holding(line);
    assert!(log.contains(line), "{log}");
    assert_no_original_in(&upstream.recorder.everything());
}

#[test]
fn kong_configuration_has_what_the_readme_promises() {
    let doc = &kong_yml()[0];
    assert_eq!(doc["_format_version"].as_str(), Some("3.0"));
    let services = doc["services"].as_vec().expect("services");
    let route = |name: &str| {
        services
            .iter()
            .flat_map(|s| {
                s["routes"]
                    .as_vec()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |r| (s.clone(), r))
            })
            .find(|(_, r)| r["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("route {name}"))
    };
    for name in ["claude-proxy", "claude-proxy-managed"] {
        let (service, route) = route(name);
        assert_eq!(service["url"].as_str(), Some("https://api.anthropic.com"));
        assert_eq!(
            route["response_buffering"].as_bool(),
            Some(false),
            "{name}: SSE must stream through"
        );
        assert_eq!(route["strip_path"].as_bool(), Some(true));
        assert!(
            service["read_timeout"].as_i64().expect("read_timeout") >= 300_000,
            "long generations"
        );
    }
    assert_eq!(kong_route_prefix(), "/claude-proxy");
    let plugins: Vec<&str> = doc["plugins"]
        .as_vec()
        .expect("plugins")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for plugin in [
        "key-auth",
        "rate-limiting",
        "request-size-limiting",
        "file-log",
    ] {
        assert!(plugins.contains(&plugin), "missing plugin {plugin}");
    }
    let size = doc["plugins"]
        .as_vec()
        .expect("plugins")
        .iter()
        .find(|p| p["name"].as_str() == Some("request-size-limiting"))
        .expect("size limit");
    assert!(
        size["config"]["allowed_payload_size"]
            .as_i64()
            .expect("size")
            >= 32,
        "tens of MB, not 512 KB"
    );
    let key_auth = doc["plugins"]
        .as_vec()
        .expect("plugins")
        .iter()
        .find(|p| p["name"].as_str() == Some("key-auth"))
        .expect("key-auth");
    assert_eq!(
        key_auth["config"]["key_names"][0].as_str(),
        Some("apikey"),
        "maskgate's default key header"
    );
    let (managed, _) = route("claude-proxy-managed");
    let transformer = &managed["plugins"][0];
    assert_eq!(transformer["name"].as_str(), Some("request-transformer"));
    let added = transformer["config"]["add"]["headers"][0]
        .as_str()
        .expect("added header");
    assert!(
        added.starts_with("x-api-key:${"),
        "the gateway-held key comes from the environment, not the file"
    );
    let consumers = doc["consumers"].as_vec().expect("consumers");
    assert!(consumers.len() >= 2, "a consumer per team");
    for consumer in consumers {
        let key = consumer["keyauth_credentials"][0]["key"]
            .as_str()
            .expect("key");
        assert!(key.starts_with("${"), "no literal key in the file");
    }
}
