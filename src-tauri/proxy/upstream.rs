//! The hop from maskgate to the Anthropic API or the company's Kong Gateway: one pooled
//! reqwest client (rustls, system roots plus an optional company CA, HTTP/2 when offered),
//! the base URL with any path prefix, the gateway credential, and the header policy.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use bytes::Bytes;

use super::errors::ApiError;
use super::guard::TOKEN_HEADER;
use crate::settings::AnthropicKey;

/// The credential the gateway expects, added to every forwarded request.
#[derive(Clone, PartialEq, Eq)]
pub enum GatewayCredential {
    /// Kong key-auth: the key in a header (`apikey` by default).
    Header { name: HeaderName, value: String },
    /// `Authorization: Bearer …` (Kong JWT / OAuth2 / OpenID Connect).
    Bearer(String),
    /// `Authorization: Basic …` (Kong basic-auth).
    Basic { user: String, password: String },
}

impl std::fmt::Debug for GatewayCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself.
        match self {
            GatewayCredential::Header { name, .. } => write!(f, "Header({name}: ***)"),
            GatewayCredential::Bearer(_) => f.write_str("Bearer(***)"),
            GatewayCredential::Basic { user, .. } => write!(f, "Basic({user}:***)"),
        }
    }
}

/// Everything needed to build an [`Upstream`].
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub base_url: String,
    pub credential: Option<GatewayCredential>,
    pub key_mode: AnthropicKey,
    /// PEM of an extra CA to trust (a company CA in front of Kong).
    pub extra_ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// Longest silence allowed while reading a response (streams have no total timeout).
    pub idle_timeout: Duration,
}

impl UpstreamConfig {
    pub fn new(base_url: impl Into<String>) -> UpstreamConfig {
        UpstreamConfig {
            base_url: base_url.into(),
            credential: None,
            key_mode: AnthropicKey::PassThrough,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    #[error("upstream URL {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("the extra CA file is not a PEM certificate: {0}")]
    BadCa(reqwest::Error),
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("the gateway credential cannot be sent as a header value")]
    BadCredential,
}

/// The configured upstream, ready to forward.
pub struct Upstream {
    client: reqwest::Client,
    base: reqwest::Url,
    credential: Option<(HeaderName, HeaderValue)>,
    key_mode: AnthropicKey,
    /// Shown in error messages: "Kong gateway kong.corp:8443" or "the Anthropic API".
    pub display_name: String,
    /// True when a gateway credential is configured (the upstream is a gateway, not Anthropic).
    pub is_gateway: bool,
}

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus the ones
/// the proxy sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Idle connections to the upstream kept for the next requests, at most: after a burst of
/// many at once, the rest are closed instead of holding descriptors for the pool's idle time.
pub const IDLE_CONNECTIONS_AT_MOST: usize = 16;

impl Upstream {
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, UpstreamError> {
        let base = reqwest::Url::parse(&config.base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| UpstreamError::BadUrl(config.base_url.clone()))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.idle_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(IDLE_CONNECTIONS_AT_MOST)
            .http2_adaptive_window(true)
            .user_agent(concat!("maskgate/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.extra_ca_pem {
            let ca = reqwest::Certificate::from_pem(pem).map_err(UpstreamError::BadCa)?;
            builder = builder.add_root_certificate(ca);
        }
        let client = builder.build().map_err(UpstreamError::Client)?;
        let credential = config
            .credential
            .as_ref()
            .map(credential_header)
            .transpose()?;
        let host = base.host_str().unwrap_or_default();
        let display_name = match (&config.credential, host) {
            (None, "api.anthropic.com") => "the Anthropic API".to_owned(),
            (None, _) => format!("the upstream {}", authority(&base)),
            (Some(_), _) => format!("the Kong gateway {}", authority(&base)),
        };
        Ok(Upstream {
            client,
            base,
            credential,
            key_mode: config.key_mode,
            display_name,
            is_gateway: config.credential.is_some(),
        })
    }

    /// The URL a client path (`/v1/messages?beta=true`) maps to, keeping the base's prefix.
    pub fn url_for(&self, path_and_query: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    /// The headers to send upstream, from the client's.
    pub fn forward_headers(&self, client: &HeaderMap) -> HeaderMap {
        let listed_in_connection: Vec<String> = client
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
            .collect();
        let mut out = HeaderMap::with_capacity(client.len() + 1);
        for (name, value) in client {
            let n = name.as_str();
            let dropped = HOP_BY_HOP.contains(&n)
                || listed_in_connection.iter().any(|c| c == n)
                || n == TOKEN_HEADER
                // reqwest negotiates encodings it can decode, so restoring can read the answer.
                || n == "accept-encoding"
                || (self.key_mode == AnthropicKey::GatewayHeld && (n == "x-api-key" || n == "authorization"));
            if !dropped {
                out.append(name.clone(), value.clone());
            }
        }
        if let Some((name, value)) = &self.credential {
            out.insert(name.clone(), value.clone());
        }
        out
    }

    /// Sends one request upstream.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        client_headers: &HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response, ApiError> {
        self.client
            .request(method, self.url_for(path_and_query))
            .headers(self.forward_headers(client_headers))
            .body(body)
            .send()
            .await
            .map_err(|e| self.describe(&e))
    }

    /// Sends a request with only the gateway credential (health checks).
    pub async fn probe(&self, path: &str) -> Result<reqwest::Response, ApiError> {
        let mut request = self.client.get(self.url_for(path));
        if let Some((name, value)) = &self.credential {
            request = request.header(name, value);
        }
        request.send().await.map_err(|e| self.describe(&e))
    }

    /// Turns a transport error into the message the user sees.
    pub fn describe(&self, error: &reqwest::Error) -> ApiError {
        if error.is_timeout() {
            return ApiError::timeout(&self.display_name);
        }
        ApiError::unreachable(&self.display_name, error_chain(error))
    }
}

/// "connection refused", "invalid peer certificate: UnknownIssuer": the innermost causes.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn authority(url: &reqwest::Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

fn credential_header(
    credential: &GatewayCredential,
) -> Result<(HeaderName, HeaderValue), UpstreamError> {
    use base64::Engine as _;
    let (name, value) = match credential {
        GatewayCredential::Header { name, value } => (name.clone(), value.clone()),
        GatewayCredential::Bearer(token) => (header::AUTHORIZATION, format!("Bearer {token}")),
        GatewayCredential::Basic { user, password } => {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            (header::AUTHORIZATION, format!("Basic {encoded}"))
        }
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| UpstreamError::BadCredential)?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(
        base: &str,
        credential: Option<GatewayCredential>,
        key_mode: AnthropicKey,
    ) -> Upstream {
        let mut config = UpstreamConfig::new(base);
        config.credential = credential;
        config.key_mode = key_mode;
        Upstream::new(&config).expect("valid config")
    }

    #[test]
    fn path_prefix_and_query_are_kept() {
        let u = upstream(
            "https://kong.corp.example/claude-proxy/",
            None,
            AnthropicKey::PassThrough,
        );
        assert_eq!(
            u.url_for("/v1/messages?beta=true").as_str(),
            "https://kong.corp.example/claude-proxy/v1/messages?beta=true"
        );
        let plain = upstream("http://127.0.0.1:9", None, AnthropicKey::PassThrough);
        assert_eq!(
            plain.url_for("/v1/messages").as_str(),
            "http://127.0.0.1:9/v1/messages"
        );
    }

    #[test]
    fn hop_by_hop_and_local_headers_are_dropped_and_credential_added() {
        let credential = GatewayCredential::Header {
            name: HeaderName::from_static("apikey"),
            value: "k".into(),
        };
        let u = upstream(
            "http://127.0.0.1:9",
            Some(credential),
            AnthropicKey::PassThrough,
        );
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("x-api-key", "sk"),
            (TOKEN_HEADER, "t"),
            ("anthropic-beta", "a,b"),
            ("accept-encoding", "br"),
        ] {
            h.insert(n, HeaderValue::from_static(v));
        }
        let out = u.forward_headers(&h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-api-key", "anthropic-beta", "apikey"]);
    }

    #[test]
    fn gateway_held_mode_strips_the_clients_key() {
        let u = upstream(
            "http://127.0.0.1:9",
            Some(GatewayCredential::Bearer("jwt".into())),
            AnthropicKey::GatewayHeld,
        );
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("sk-ant-dev"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-ant-dev"),
        );
        let out = u.forward_headers(&h);
        assert_eq!(out.len(), 1);
        assert_eq!(out["authorization"], "Bearer jwt");
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let c = GatewayCredential::Basic {
            user: "team".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
