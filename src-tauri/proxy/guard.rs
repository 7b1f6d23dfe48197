//! Who may use an HTTP service of maskgate: one policy and one middleware for the proxy, its
//! health check and the browser dashboard. Loopback Host names only (a DNS-rebinding page
//! cannot pass) unless allowed by name; exactly one Host; browser Origins refused (or, for
//! the dashboard's own page, only its own origin); a peer beyond this machine only with a
//! token; and the token itself when one is set, compared in constant time.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

/// The header that carries the proxy's local token. It is removed before forwarding.
pub const TOKEN_HEADER: &str = "x-maskgate-token";

/// Where a request carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenIn {
    /// [`TOKEN_HEADER`], as Claude Code sends it with `ANTHROPIC_CUSTOM_HEADERS`.
    #[default]
    Header,
    /// `Authorization: Bearer …`, as the dashboard's page sends it.
    Bearer,
}

/// Which browser origins may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origins {
    /// None: a request with an Origin header comes from a web page, and is refused.
    #[default]
    None,
    /// Only the service's own origin (the dashboard's page calling its API).
    Own,
}

/// The guard's settings.
#[derive(Debug, Clone, Default)]
pub struct GuardConfig {
    /// Extra Host names accepted besides the loopback ones (for a central deployment).
    pub allowed_hosts: Vec<String>,
    /// When set, requests must carry it (in [`GuardConfig::token_in`]).
    pub local_token: Option<String>,
    pub token_in: TokenIn,
    pub origins: Origins,
}

/// Why the guard refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The token was missing or wrong (401 for the dashboard; the proxy answers 403).
    pub token: bool,
    pub message: String,
}

impl Refusal {
    fn forbidden(message: impl Into<String>) -> Refusal {
        Refusal {
            token: false,
            message: message.into(),
        }
    }
}

/// A service behind the guard: its policy's verdict (read per request, so a settings change
/// applies to the next one) and how it answers a refusal.
pub trait Guarded: Send + Sync + 'static {
    fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<(), Refusal>;
    fn refuse(&self, request: &Request, refusal: Refusal) -> Response;
}

/// The middleware: lets a request through [`GuardConfig::check`] or refuses it.
pub async fn layer<G: Guarded>(
    State(service): State<Arc<G>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match service.check(request.headers(), peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => service.refuse(&request, refusal),
    }
}

impl GuardConfig {
    /// Lets a request from `peer` through or says why not. A peer beyond this machine is
    /// served only with a token: a Host header is the client's word, not proof of where it is.
    pub fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<(), Refusal> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts
            .next()
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| Refusal::forbidden("requests must name a Host"))?;
        if hosts.next().is_some() {
            return Err(Refusal::forbidden("requests must name exactly one Host"));
        }
        if !peer.is_loopback() && self.local_token.is_none() {
            return Err(Refusal::forbidden(format!(
                "{peer} is not this machine, and no local token is set; maskgate serves other machines only with one"
            )));
        }
        if !self.host_allowed(host) {
            return Err(Refusal::forbidden(format!(
                "Host {host:?} is not a loopback name; maskgate only serves local clients"
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let own = self.origins == Origins::Own
                && origin.as_bytes() == format!("http://{host}").as_bytes();
            if !own {
                return Err(Refusal::forbidden(
                    "requests from web pages (with an Origin header) are refused",
                ));
            }
        }
        if let Some(expected) = &self.local_token {
            let given = match self.token_in {
                TokenIn::Header => headers
                    .get(TOKEN_HEADER)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default(),
                TokenIn::Bearer => bearer_token(headers),
            };
            if !secret_matches(given, expected) {
                let message = match self.token_in {
                    TokenIn::Header => format!(
                        "missing or wrong {TOKEN_HEADER} header; set ANTHROPIC_CUSTOM_HEADERS=\"{TOKEN_HEADER}: <token>\""
                    ),
                    TokenIn::Bearer => "missing or wrong dashboard token; open the address maskgate printed at start".to_owned(),
                };
                return Err(Refusal {
                    token: true,
                    message,
                });
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        is_loopback_host(host)
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host_name(host)))
    }
}

/// Whether `given` is the secret `expected`, compared in constant time (a caller learns
/// nothing from how long a wrong guess took).
fn secret_matches(given: &[u8], expected: &str) -> bool {
    bool::from(given.ct_eq(expected.as_bytes()))
}

/// The token of an `Authorization: Bearer …` header; empty when there is none.
fn bearer_token(headers: &HeaderMap) -> &[u8] {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default()
}

/// A Host header value without its port (and IPv6 brackets).
fn host_name(host: &str) -> &str {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    name.trim_start_matches('[').trim_end_matches(']')
}

/// True when a Host header value names this machine (`localhost`, `127.0.0.1:8082`, `[::1]`).
pub fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn loopback_hosts_pass_and_others_are_refused() {
        let guard = GuardConfig::default();
        for host in [
            "127.0.0.1:8082",
            "localhost:8082",
            "[::1]:8082",
            "localhost",
            "127.0.0.2",
        ] {
            assert!(
                guard.check(&headers(&[("host", host)]), LOOPBACK).is_ok(),
                "{host}"
            );
        }
        for host in [
            "evil.example:8082",
            "10.0.0.1:8082",
            "localhost.evil.example",
        ] {
            assert!(
                guard.check(&headers(&[("host", host)]), LOOPBACK).is_err(),
                "{host}"
            );
        }
    }

    #[test]
    fn origin_and_wrong_token_are_refused() {
        let guard = GuardConfig {
            local_token: Some("s3cret".into()),
            ..GuardConfig::default()
        };
        assert!(guard
            .check(
                &headers(&[("host", "localhost"), (TOKEN_HEADER, "s3cret")]),
                LOOPBACK
            )
            .is_ok());
        assert!(guard
            .check(
                &headers(&[("host", "localhost"), (TOKEN_HEADER, "nope")]),
                LOOPBACK
            )
            .is_err());
        assert!(guard
            .check(&headers(&[("host", "localhost")]), LOOPBACK)
            .is_err());
        let open = GuardConfig::default();
        assert!(open
            .check(
                &headers(&[("host", "localhost"), ("origin", "http://a")]),
                LOOPBACK
            )
            .is_err());
    }

    #[test]
    fn a_peer_beyond_this_machine_needs_the_token_whatever_its_host_says() {
        let remote: IpAddr = [192, 0, 2, 7].into();
        let open = GuardConfig::default();
        assert!(open
            .check(&headers(&[("host", "localhost")]), remote)
            .is_err());
        let guarded = GuardConfig {
            local_token: Some("s3cret".into()),
            ..GuardConfig::default()
        };
        let with_token = headers(&[("host", "localhost"), (TOKEN_HEADER, "s3cret")]);
        assert!(guarded.check(&with_token, remote).is_ok());
    }

    #[test]
    fn the_dashboards_policy_takes_its_own_origin_and_a_bearer_token() {
        let api = GuardConfig {
            origins: Origins::Own,
            local_token: Some("page-token".into()),
            token_in: TokenIn::Bearer,
            ..GuardConfig::default()
        };
        let own = [
            ("host", "127.0.0.1:8083"),
            ("origin", "http://127.0.0.1:8083"),
        ];
        let with = |extra: &[(&'static str, &str)]| {
            let mut all = own.to_vec();
            all.extend_from_slice(extra);
            api.check(&headers(&all), LOOPBACK)
        };
        assert!(with(&[("authorization", "Bearer page-token")]).is_ok());
        let no_token = with(&[]).expect_err("refused");
        assert!(no_token.token);
        assert!(with(&[("authorization", "Bearer wrong")]).is_err());
        let other = headers(&[
            ("host", "127.0.0.1:8083"),
            ("origin", "http://evil.example"),
            ("authorization", "Bearer page-token"),
        ]);
        assert!(!api.check(&other, LOOPBACK).expect_err("refused").token);
    }

    #[test]
    fn two_host_headers_are_refused() {
        let mut two = headers(&[("host", "localhost")]);
        two.append("host", HeaderValue::from_static("evil.example"));
        assert!(GuardConfig::default().check(&two, LOOPBACK).is_err());
    }
}
