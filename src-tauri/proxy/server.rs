//! The HTTP side: maskgate's own routes under `/_maskgate/` (health, metrics, learn), every other path forwarded, all
//! of them behind the guard. The handler is the list of an exchange's phases; what each phase
//! does, and what crosses between them, lives in [`Exchange`](super::exchange::Exchange).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Query;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;

use super::errors::ApiError;
use super::exchange::{masked_path, refuse, Exchange};
use super::guard::{self, Guarded, Refusal};
use super::{health, Proxy};
use crate::journal::{ExchangeRecord, Journal};

/// The proxy's routes: maskgate's own under `/_maskgate/`, everything else forwarded; all of
/// them behind the guard.
pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route(health::HEALTH_PATH, get(health::health))
        .route("/_maskgate/learn", post(learn))
        .route("/_maskgate/metrics", get(metrics))
        .fallback(forward)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&proxy),
            guard::layer::<Proxy>,
        ))
        .with_state(proxy)
}

impl Guarded for Proxy {
    fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<(), Refusal> {
        self.config().guard.check(headers, peer)
    }

    /// Refused in the Anthropic format, and journaled (the path masked).
    fn refuse(&self, request: &Request, refusal: Refusal) -> Response {
        let (path, _) = masked_path(&self.config().engine, request.uri());
        let record = ExchangeRecord::new(request.method().as_str(), &path);
        refuse(self.journal(), record, ApiError::forbidden(refusal.message))
    }
}

/// `maskgate learn`: the names of the user's AWS resources, learned by the process that
/// serves (it holds them in memory), with the user's own `aws` CLI.
async fn learn(
    State(proxy): State<Arc<Proxy>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(hook) = proxy.learn_hook() else {
        return ApiError::learn_failed("this maskgate cannot learn").into_response();
    };
    match hook(query.get("profile").cloned()).await {
        Ok(report) => Json(report).into_response(),
        Err(reason) => ApiError::learn_failed(reason).into_response(),
    }
}

/// Prometheus metrics, behind the same guard as the proxy (loopback, or the local token).
async fn metrics(State(proxy): State<Arc<Proxy>>) -> Response {
    metrics_answer(proxy.journal())
}

/// The routes of `--metrics-listen`: `GET /metrics` only, with no guard — Prometheus'
/// annotation-driven scrape cannot send a token, and the metrics hold no request text. Who
/// may reach that port is the deployment's decision (a NetworkPolicy).
pub fn metrics_router(journal: Arc<Journal>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(journal): State<Arc<Journal>>| async move { metrics_answer(&journal) }),
        )
        .with_state(journal)
}

fn metrics_answer(journal: &Journal) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        journal.metrics_text(),
    )
        .into_response()
}

/// One exchange: path → body → mask → forward → answer.
async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let _busy = proxy.activity().busy();
    let (parts, body) = request.into_parts();
    let mut exchange = Exchange::begin(&proxy, parts.method.as_str(), &parts.uri);
    if let Err(refusal) = exchange
        .check_path()
        .and_then(|()| exchange.check_headers(&parts.headers))
    {
        return exchange.refuse(refusal);
    }
    let body = match exchange.read(&parts.headers, body).await {
        Ok(body) => body,
        Err(refusal) => return exchange.refuse(refusal),
    };
    let masked = exchange.mask(&body);
    drop(body);
    let masked = match masked {
        Ok(masked) => masked,
        Err(refusal) => return exchange.refuse(refusal),
    };
    match exchange.forward(parts, masked).await {
        Ok((forwarded, answer, restorer)) => forwarded.respond(answer, restorer).await,
        Err(failed) => failed,
    }
}
