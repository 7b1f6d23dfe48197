//! The dashboard in a plain browser (`maskgate --headless --dashboard`): the page the desktop
//! window shows, served on its own loopback port. The page calls the same commands as in the
//! window (`POST /api/<command>` with the same arguments) and hears the same journal events
//! (`GET /api/events`, server-sent events).
//!
//! Who may use it: loopback Host names only (DNS rebinding), no cross-origin page, and every
//! API call carries the per-run token printed at start (`Authorization: Bearer …`); the page
//! learns it from the URL fragment, which browsers never send to a server. Originals of
//! tokens are served only through that API, from memory.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::control::{Command, Control, ErrorView};
use crate::proxy::body::{read_limited, BodyError};
use crate::proxy::guard::{self, GuardConfig, Guarded, Origins, Refusal, TokenIn};

/// Where the browser dashboard listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8083";

/// The page as Vite built it (`ui/dist`, kept in the repository so that a plain `cargo build`
/// needs no Node), built into the binary: no file is read and no network asset is loaded.
const PAGE: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../../ui/dist/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../ui/dist/app.js"),
    ),
    (
        "/index.css",
        "text/css; charset=utf-8",
        include_str!("../../ui/dist/index.css"),
    ),
];

/// What the browser dashboard serves: the control layer, behind the per-run token.
pub struct Dashboard {
    control: Arc<Control>,
    token: String,
}

impl Dashboard {
    pub fn new(control: Arc<Control>, token: String) -> Arc<Dashboard> {
        Arc::new(Dashboard { control, token })
    }
}

/// A fresh random token for one run (32 bytes, hex).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn router(dashboard: Arc<Dashboard>) -> Router {
    // The page loads without the token (it learns it from the address's fragment); the API
    // needs it. Both: loopback Host, no other origin.
    let page_guard = Arc::new(DashboardGuard(GuardConfig {
        origins: Origins::Own,
        ..GuardConfig::default()
    }));
    let api_guard = Arc::new(DashboardGuard(GuardConfig {
        origins: Origins::Own,
        local_token: Some(dashboard.token.clone()),
        token_in: TokenIn::Bearer,
        ..GuardConfig::default()
    }));
    let mut page = Router::new();
    for &(path, content_type, body) in PAGE {
        page = page.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
        );
    }
    let api = Router::new()
        .route("/api/events", get(events))
        .route("/api/{command}", post(command))
        .layer(middleware::from_fn_with_state(
            api_guard,
            guard::layer::<DashboardGuard>,
        ));
    page.merge(api)
        .layer(middleware::from_fn_with_state(
            page_guard,
            guard::layer::<DashboardGuard>,
        ))
        .layer(middleware::from_fn(security_headers))
        .with_state(dashboard)
}

/// The dashboard's guard: the proxy's policy with the dashboard's token and origin rules;
/// refusals as `{ message }` (401 for the token, 403 otherwise).
struct DashboardGuard(GuardConfig);

impl Guarded for DashboardGuard {
    fn check(&self, headers: &HeaderMap, peer: IpAddr) -> Result<(), Refusal> {
        self.0.check(headers, peer)
    }

    fn refuse(&self, _request: &Request, refusal: Refusal) -> Response {
        let status = if refusal.token {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        refuse(status, &refusal.message)
    }
}

/// Serves the dashboard until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    dashboard: Arc<Dashboard>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = crate::proxy::ServeLimits::default();
    crate::proxy::serve_router(listener, router(dashboard), limits, None, shutdown).await
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// The answers may not be framed, load nothing from elsewhere, and are not kept.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The arguments of one command are small; a page never sends more than this.
const ARGUMENTS_AT_MOST: usize = 1 << 20;

/// `POST /api/{command}`: the page's command, carried out by the control layer.
async fn command(
    State(dashboard): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    body: Body,
) -> Response {
    let mut read = Vec::new();
    match read_limited(body, ARGUMENTS_AT_MOST, &mut read).await {
        Ok(()) => {}
        Err(e @ BodyError::TooLarge { .. }) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string())
        }
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
    }
    let args = if read.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_slice::<Value>(&read)
    };
    let args = match args {
        Ok(args) => args,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the arguments are not JSON: {e}"),
            )
        }
    };
    let done = match Command::parse(&name, args) {
        Ok(command) => dashboard.control.run(command).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(value) => Json(value).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(ErrorView::from(&e))).into_response(),
    }
}

/// Journal events as they happen, named as in the desktop window.
async fn events(
    State(dashboard): State<Arc<Dashboard>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = dashboard.control.journal().subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let event = match receiver.recv().await {
            Ok(event) => Event::default()
                .event("journal")
                .json_data(&event)
                .unwrap_or_default(),
            Err(broadcast::error::RecvError::Lagged(missed)) => Event::default()
                .event("journal_lagged")
                .data(missed.to_string()),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
