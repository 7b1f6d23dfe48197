//! How every command of this machine (`run`, `doctor`, `learn`, `health`, and the app's own
//! "Check setup") reaches the maskgate its settings name: on loopback when it listens on every
//! address, with the local token, over TLS trusting the listener's own certificate file.
//! [`serving_here`] is `maskgate health`, the container's probe.

use std::net::SocketAddr;
use std::time::Duration;

use crate::proxy::guard::TOKEN_HEADER;
use crate::proxy::health::{HEALTH_PATH, SERVICE};
use crate::proxy::tls::certificates;
use crate::settings::Settings;

/// The listener's certificate file cannot be trusted by the client that reaches it.
#[derive(Debug, thiserror::Error)]
#[error("cannot trust the listener's certificate: {0}")]
pub struct CertificateError(String);

/// What answers on an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// A maskgate, of this version.
    Maskgate { version: String },
    /// Something that is not maskgate.
    Other,
    /// Nothing.
    Nothing,
}

/// The maskgate this machine's settings name: its address, the base URL clients are given,
/// the local token, and an HTTP client that reaches it — with TLS, trusting the certificates
/// in the listener's own certificate file.
pub struct Local {
    pub address: SocketAddr,
    pub base_url: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

impl Local {
    /// Connects to the listen address, or to loopback when it listens on every address. Over
    /// TLS with an allowed host name (a pool's DNS name, which its certificate names), that
    /// name is resolved to the same address, so the certificate is checked for the name it
    /// was issued for and the Host passes the guard.
    pub fn new(settings: &Settings, token: Option<String>) -> Result<Local, CertificateError> {
        let address = match settings.listen.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => {
                SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, settings.listen.port()))
            }
            ip if ip.is_unspecified() => {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, settings.listen.port()))
            }
            _ => settings.listen,
        };
        let mut client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15));
        let name = settings.tls.as_ref().and(settings.allowed_hosts.first());
        let base_url = match name {
            Some(name) => {
                client = client.resolve(name, address);
                format!("https://{name}:{}", address.port())
            }
            None => settings.base_url_at(address),
        };
        if let Some(tls) = &settings.tls {
            let certificates =
                certificates(&tls.cert).map_err(|e| CertificateError(e.to_string()))?;
            for der in certificates {
                let certificate = reqwest::Certificate::from_der(&der)
                    .map_err(|e| CertificateError(e.to_string()))?;
                client = client.add_root_certificate(certificate);
            }
        }
        Ok(Local {
            address,
            base_url,
            token: token.filter(|t| !t.is_empty()),
            client: client
                .build()
                .map_err(|e| CertificateError(e.to_string()))?,
        })
    }

    /// A request to `path` on this maskgate, with the local token when one is set.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        match &self.token {
            Some(token) => request.header(TOKEN_HEADER, token),
            None => request,
        }
    }

    /// maskgate's health report, or `Null` when none comes.
    pub async fn health(&self) -> serde_json::Value {
        match self.request(reqwest::Method::GET, HEALTH_PATH).send().await {
            Ok(answer) => serde_json::from_slice(&answer.bytes().await.unwrap_or_default())
                .unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// What answers on the address: a maskgate (by its health report), something else, or nothing.
    pub async fn probe(&self) -> Listener {
        let Ok(answer) = self.request(reqwest::Method::GET, HEALTH_PATH).send().await else {
            return if tokio::net::TcpStream::connect(self.address).await.is_ok() {
                Listener::Other
            } else {
                Listener::Nothing
            };
        };
        let body: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.unwrap_or_default()).unwrap_or_default();
        if body["service"] == SERVICE {
            let version = body["version"].as_str().unwrap_or_default().to_owned();
            Listener::Maskgate { version }
        } else {
            Listener::Other
        }
    }
}

/// `maskgate health`, a container's liveness check: does a maskgate serve on this machine at
/// the configured port? Asks through [`Local`] (so on loopback, with the token, verifying the
/// certificate) and asks no upstream (`?upstream=false`). Returns the version serving, or why
/// none answers.
pub async fn serving_here(settings: &Settings, token: Option<String>) -> Result<String, String> {
    let local = Local::new(settings, token).map_err(|e| e.to_string())?;
    let path = format!("{HEALTH_PATH}?upstream=false");
    let answer = local
        .request(reqwest::Method::GET, &path)
        .send()
        .await
        .map_err(|e| format!("no answer from {}: {e}", local.base_url))?;
    let status = answer.status();
    let body: serde_json::Value =
        serde_json::from_slice(&answer.bytes().await.unwrap_or_default()).unwrap_or_default();
    if status.is_success() && body["service"] == SERVICE && body["status"] == "serving" {
        Ok(body["version"].as_str().unwrap_or_default().to_owned())
    } else {
        Err(format!(
            "{} answered {status}, not as a serving maskgate",
            local.base_url
        ))
    }
}
