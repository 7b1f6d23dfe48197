//! Who may use the proxy: loopback Host names only (a DNS-rebinding page cannot pass), no
//! browser Origin, and, when configured, a local token header that Claude Code sends with
//! `ANTHROPIC_CUSTOM_HEADERS`.

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
    /// Lets a request through or says why not.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| ApiError::forbidden("requests must name a Host"))?;
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
            if !bool::from(given.ct_eq(expected.as_bytes())) {
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
            assert!(guard.check(&headers(&[("host", host)])).is_ok(), "{host}");
        }
        for host in [
            "evil.example:8082",
            "10.0.0.1:8082",
            "localhost.evil.example",
        ] {
            assert!(guard.check(&headers(&[("host", host)])).is_err(), "{host}");
        }
    }

    #[test]
    fn origin_and_wrong_token_are_refused() {
        let guard = GuardConfig {
            local_token: Some("s3cret".into()),
            ..GuardConfig::default()
        };
        assert!(guard
            .check(&headers(&[("host", "localhost"), (TOKEN_HEADER, "s3cret")]))
            .is_ok());
        assert!(guard
            .check(&headers(&[("host", "localhost"), (TOKEN_HEADER, "nope")]))
            .is_err());
        assert!(guard.check(&headers(&[("host", "localhost")])).is_err());
        let open = GuardConfig::default();
        assert!(open
            .check(&headers(&[("host", "localhost"), ("origin", "http://a")]))
            .is_err());
    }
}
