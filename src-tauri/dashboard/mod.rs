//! The dashboard in a plain browser (`maskgate --headless --dashboard`): the page the desktop
//! window shows, served on its own loopback port. The page calls the same commands as in the
//! window (`POST /api/<command>` with the same arguments) and hears the same journal events
//! (`GET /api/events`, server-sent events).
//!
//! Who may use it: loopback Host names only (DNS rebinding), no cross-origin page, and every
//! API call carries the per-run token printed at start (`Authorization: Bearer …`); the page
//! learns it from the URL fragment, which browsers never send to a server. Originals of
//! tokens are served only through that API, from memory.

pub mod views;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::journal::Journal;
use crate::mask::CustomPattern;
use crate::proxy::body::{read_limited, BodyError};
use crate::proxy::guard::is_loopback_host;
use crate::proxy::health::check;
use crate::proxy::{Proxy, ProxyConfig};
use crate::settings::{Secrets, Settings};
use views::{ExchangeDetail, GatewayView, Status};

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

/// What the headless dashboard works on: the running proxy, its settings and their file.
pub struct Dashboard {
    settings_path: PathBuf,
    /// The settings in effect (the file plus command-line overrides).
    settings: Mutex<Settings>,
    secrets: Secrets,
    proxy: Arc<Proxy>,
    proxy_address: SocketAddr,
    token: String,
}

impl Dashboard {
    pub fn new(
        settings_path: PathBuf,
        settings: Settings,
        secrets: Secrets,
        proxy: Arc<Proxy>,
        proxy_address: SocketAddr,
        token: String,
    ) -> Arc<Dashboard> {
        Arc::new(Dashboard {
            settings_path,
            settings: Mutex::new(settings),
            secrets,
            proxy,
            proxy_address,
            token,
        })
    }

    fn journal(&self) -> &Arc<Journal> {
        self.proxy.journal()
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies a change to the running proxy, then records it in the settings file. Only the
    /// change is written: command-line overrides stay out of the file.
    fn update_settings(&self, change: impl Fn(&mut Settings)) -> Result<(), String> {
        let mut settings = self.settings();
        let mut changed = settings.clone();
        change(&mut changed);
        let config =
            ProxyConfig::from_settings(&changed, &self.secrets).map_err(|e| e.to_string())?;
        self.proxy.apply(config);
        *settings = changed;
        let mut on_disk = Settings::load(&self.settings_path)
            .map_err(|e| format!("applied, but not saved: {e}"))?;
        change(&mut on_disk);
        on_disk
            .save(&self.settings_path)
            .map_err(|e| format!("applied, but not saved: {e}"))
    }

    /// Runs one of the page's commands.
    async fn run(&self, command: &str, args: Value) -> Result<Value, String> {
        fn args_of<T: DeserializeOwned>(args: Value) -> Result<T, String> {
            serde_json::from_value(args).map_err(|e| format!("bad arguments: {e}"))
        }
        fn answer(value: impl serde::Serialize) -> Result<Value, String> {
            serde_json::to_value(value).map_err(|e| e.to_string())
        }
        #[derive(Deserialize)]
        struct Id {
            id: u64,
        }
        #[derive(Deserialize)]
        struct KindSwitch {
            id: String,
            enabled: bool,
        }
        #[derive(Deserialize)]
        struct PreviewArgs {
            pattern: CustomPattern,
            sample: String,
        }
        #[derive(Deserialize)]
        struct Patterns {
            patterns: Vec<CustomPattern>,
        }
        match command {
            "status" => answer(Status::Running {
                address: self.proxy_address,
            }),
            "exchanges" => answer(self.journal().summaries()),
            "exchange" => {
                let Id { id } = args_of(args)?;
                answer(self.journal().record(id).map(|r| ExchangeDetail::of(&r)))
            }
            "catalog" => answer(views::catalog(&self.settings(), &self.journal().totals())),
            "set_kind_enabled" => {
                let KindSwitch { id, enabled } = args_of(args)?;
                self.update_settings(|s| views::set_kind_enabled(s, &id, enabled))?;
                answer(())
            }
            "preview_pattern" => {
                let PreviewArgs { pattern, sample } = args_of(args)?;
                answer(views::preview_pattern(pattern, &sample)?)
            }
            "save_custom_patterns" => {
                let Patterns { patterns } = args_of(args)?;
                self.update_settings(|s| s.custom_patterns = patterns.clone())?;
                answer(())
            }
            "gateway_settings" => {
                let secrets = &self.secrets;
                let mut view = GatewayView::of(
                    &self.settings(),
                    secrets.gateway_secret.is_some(),
                    secrets.local_token.is_some(),
                );
                view.editable = false;
                answer(view)
            }
            "test_connection" => answer(check(&self.proxy.config().upstream).await),
            "set_up_claude_code" => answer(views::set_up_claude_code(
                self.proxy_address,
                self.secrets.local_token.as_deref(),
            )?),
            "save_gateway_settings" | "pause" | "resume" => Err(format!(
                "{command}: the headless proxy takes its gateway and its life from the command \
                 line; restart it with other options"
            )),
            _ => Err(format!("no command {command:?}")),
        }
    }
}

/// A fresh random token for one run (32 bytes, hex).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn router(dashboard: Arc<Dashboard>) -> Router {
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
            Arc::clone(&dashboard),
            require_token,
        ));
    page.merge(api)
        .layer(middleware::from_fn(same_origin_loopback))
        .with_state(dashboard)
}

/// Serves the dashboard until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    dashboard: Arc<Dashboard>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = crate::proxy::ServeLimits::default();
    crate::proxy::serve_router(listener, router(dashboard), limits, shutdown).await
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// Loopback Host only; a page from any other origin is refused; the answers may not be framed
/// and load nothing from elsewhere.
async fn same_origin_loopback(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !is_loopback_host(&host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the dashboard serves loopback names only",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.as_bytes() != format!("http://{host}").as_bytes() {
            return refuse(StatusCode::FORBIDDEN, "cross-origin requests are refused");
        }
    }
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

async fn require_token(
    State(dashboard): State<Arc<Dashboard>>,
    request: Request,
    next: Next,
) -> Response {
    if !bearer_matches(request.headers(), &dashboard.token) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong dashboard token; open the address maskgate printed at start",
        );
    }
    next.run(request).await
}

fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// The arguments of one command are small; a page never sends more than this.
const ARGUMENTS_AT_MOST: usize = 1 << 20;

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
    let body = read;
    let args = if body.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_slice(&body).map_err(|e| format!("the arguments are not JSON: {e}"))
    };
    match args {
        Ok(args) => match dashboard.run(&name, args).await {
            Ok(value) => Json(value).into_response(),
            Err(message) => refuse(StatusCode::BAD_REQUEST, &message),
        },
        Err(message) => refuse(StatusCode::BAD_REQUEST, &message),
    }
}

/// Journal events as they happen, named as in the desktop window.
async fn events(
    State(dashboard): State<Arc<Dashboard>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = dashboard.journal().subscribe();
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
