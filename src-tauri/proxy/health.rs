//! `GET /_maskgate/health`: does the upstream answer, and does the gateway accept our
//! credentials? Asks `GET /v1/models?limit=1` with the gateway credential only — no prompt,
//! no Anthropic key — and reads who answered: an Anthropic-format reply (even a 401 for the
//! missing key) means the gateway let the request through. `?upstream=false` asks only
//! whether this process serves.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{Proxy, Upstream};

/// The health report's `service`.
pub const SERVICE: &str = "maskgate";

/// Where the report is served.
pub const HEALTH_PATH: &str = "/_maskgate/health";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The health report.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `maskgate`: how `maskgate run` and `maskgate doctor` recognise a running one.
    pub service: &'static str,
    pub version: &'static str,
    pub status: &'static str,
    pub upstream: String,
    pub reachable: bool,
    pub http_status: Option<u16>,
    /// `accepted`, `rejected` or `not_configured` (no gateway credential is set).
    pub credentials: &'static str,
    pub detail: String,
}

/// What the caller asks: by default the upstream too; `?upstream=false` only whether this
/// process serves (a liveness probe, which must not send a request to the gateway each time).
#[derive(Debug, Deserialize)]
pub struct HealthQuery {
    #[serde(default = "asks_upstream")]
    upstream: bool,
}

fn asks_upstream() -> bool {
    true
}

/// The answer to `?upstream=false`.
#[derive(Debug, Serialize)]
pub struct Serving {
    pub service: &'static str,
    pub version: &'static str,
    /// Always `serving`.
    pub status: &'static str,
}

/// Answers behind the proxy's guard, like every route.
pub async fn health(State(proxy): State<Arc<Proxy>>, Query(query): Query<HealthQuery>) -> Response {
    if !query.upstream {
        let serving = Serving {
            service: SERVICE,
            version: VERSION,
            status: "serving",
        };
        return (StatusCode::OK, Json(serving)).into_response();
    }
    let config = proxy.config();
    let report = check(&config.upstream).await;
    let code = if report.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report)).into_response()
}

/// Asks the upstream, as described above.
pub async fn check(upstream: &Upstream) -> Health {
    match upstream.probe("/v1/models?limit=1").await {
        Err(error) => Health {
            service: SERVICE,
            version: VERSION,
            status: "unreachable",
            upstream: upstream.display_name.clone(),
            reachable: false,
            http_status: None,
            credentials: "unknown",
            detail: error.message,
        },
        Ok(answer) => {
            let status = answer.status();
            let body = answer.bytes().await.unwrap_or_default();
            let anthropic_shaped = serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|v| v.get("type").is_some() || v.get("data").is_some());
            let rejected =
                upstream.is_gateway && matches!(status.as_u16(), 401 | 403) && !anthropic_shaped;
            let credentials = match (upstream.is_gateway, rejected) {
                (false, _) => "not_configured",
                (true, true) => "rejected",
                (true, false) => "accepted",
            };
            Health {
                service: SERVICE,
                version: VERSION,
                status: if rejected || status.is_server_error() {
                    "degraded"
                } else {
                    "ok"
                },
                upstream: upstream.display_name.clone(),
                reachable: true,
                http_status: Some(status.as_u16()),
                credentials,
                detail: String::from_utf8_lossy(&body).chars().take(300).collect(),
            }
        }
    }
}
