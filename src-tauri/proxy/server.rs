//! The HTTP side: maskgate's own routes under `/_maskgate/`, every other path forwarded, all
//! of them behind the guard. The handler is the list of an exchange's phases; what each phase
//! does, and what crosses between them, lives in [`Exchange`](super::exchange::Exchange).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::exchange::{masked_path, refuse, Exchange};
use super::{health, Proxy};
use crate::journal::ExchangeRecord;

/// The proxy's routes: maskgate's own under `/_maskgate/`, everything else forwarded; all of
/// them behind the guard.
pub fn router(proxy: Arc<Proxy>) -> Router {
    Router::new()
        .route("/_maskgate/health", get(health::health))
        .fallback(forward)
        .layer(middleware::from_fn_with_state(Arc::clone(&proxy), guard))
        .with_state(proxy)
}

/// Lets a request through [`GuardConfig::check`](super::GuardConfig::check), or refuses it
/// (and journals the refusal).
async fn guard(
    State(proxy): State<Arc<Proxy>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let config = proxy.config();
    match config.guard.check(request.headers(), peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let (path, _) = masked_path(&config.engine, request.uri());
            let record = ExchangeRecord::new(request.method().as_str(), &path);
            refuse(proxy.journal(), record, refusal)
        }
    }
}

/// One exchange: path → body → mask → forward → answer.
async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut exchange = Exchange::begin(&proxy, parts.method.as_str(), &parts.uri);
    if let Err(refusal) = exchange.check_path() {
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
