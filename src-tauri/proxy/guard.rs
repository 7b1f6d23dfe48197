//! Who may use the proxy: loopback Host names only (a DNS-rebinding page cannot pass), no
//! browser Origin, and, when configured, a local token header that Claude Code sends with
//! `ANTHROPIC_CUSTOM_HEADERS`.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use subtle::ConstantTimeEq;

use super::errors::ApiError;

/// The header that carries the local token. It is removed before forwarding.
pub const TOKEN_HEADER: &str = "x-maskgate-token";

/// The guard's settings.
#[derive(Debug, Clone, Default)]
pub struct GuardConfig {
    /// Extra Host names accepted besides the loopback ones (for a central deployment).
    pub allowed_hosts: Vec<String>,
    /// When set, requests must carry it in [`TOKEN_HEADER`].
    pub local_token: Option<String>,
}

impl GuardConfig {
    /// Lets a request from `peer` through or says why not. A peer beyond this machine is
    /// served only with a local token: a Host header is the client's word, not proof of
    /// where it is.
    pub fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<(), ApiError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts
            .next()
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| ApiError::forbidden("requests must name a Host"))?;
        if hosts.next().is_some() {
            return Err(ApiError::forbidden("requests must name exactly one Host"));
        }
        if !peer.is_loopback() && self.local_token.is_none() {
            return Err(ApiError::forbidden(format!(
                "{peer} is not this machine, and no local token is set; maskgate serves other machines only with one"
            )));
        }
        if !self.host_allowed(host) {
            return Err(ApiError::forbidden(format!(
                "Host {host:?} is not a loopback name; maskgate only serves local clients"
            )));
        }
        if headers.contains_key(header::ORIGIN) {
            return Err(ApiError::forbidden(
                "requests from web pages (with an Origin header) are refused",
            ));
        }
        if let Some(expected) = &self.local_token {
            let given = headers
                .get(TOKEN_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !secret_matches(given, expected) {
                return Err(ApiError::forbidden(format!(
                    "missing or wrong {TOKEN_HEADER} header; set ANTHROPIC_CUSTOM_HEADERS=\"{TOKEN_HEADER}: <token>\""
                )));
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
pub fn secret_matches(given: &[u8], expected: &str) -> bool {
    bool::from(given.ct_eq(expected.as_bytes()))
}

/// The token of an `Authorization: Bearer …` header; empty when there is none.
pub fn bearer_token(headers: &HeaderMap) -> &[u8] {
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
    fn two_host_headers_are_refused() {
        let mut two = headers(&[("host", "localhost")]);
        two.append("host", HeaderValue::from_static("evil.example"));
        assert!(GuardConfig::default().check(&two, LOOPBACK).is_err());
    }
}
