//! The proxy: an axum server on loopback that masks each request, forwards it to the
//! Anthropic API or a Kong Gateway, and restores the answer as it streams back.
//!
//! Settings are one [`ProxyConfig`] snapshot behind an `ArcSwap`: applying new settings
//! swaps it, and the next request uses it — no restart, no lock on the request path.

pub mod body;
mod buffers;
pub mod errors;
mod exchange;
pub mod guard;
pub mod health;
pub mod listener;
mod quiet;
pub mod server;
pub mod tls;
pub mod upstream;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

use crate::journal::Journal;
use crate::mask::{Engine, EngineError, KnownValue, Lists};
use crate::settings::{Attachments, GatewayAuth, ListenerTls, Policy, Secrets, Settings};
use axum::http::HeaderName;
use buffers::BufferPool;
pub use errors::ApiError;
pub use guard::GuardConfig;
pub use listener::{serve_router, ServeLimits};
pub use upstream::{GatewayCredential, Upstream, UpstreamConfig, UpstreamError};

/// The engine for the kinds and custom patterns that `settings` leave switched on, with the
/// user's always-mask and never-mask lists, the values known from their AWS configuration and
/// those `learned` from their AWS account.
pub fn engine_for(settings: &Settings, learned: &[KnownValue]) -> Result<Engine, EngineError> {
    let enabled = |id: &str| !settings.disabled_kinds.contains(id);
    let custom: Vec<_> = settings
        .custom_patterns
        .iter()
        .filter(|c| enabled(&format!("custom:{}", c.name)))
        .cloned()
        .collect();
    let lists = Lists {
        always: settings.always_mask.clone(),
        never: settings.never_mask.clone(),
        known: [settings.known_values().values, learned.to_vec()].concat(),
    };
    Engine::with_lists(enabled, &custom, &lists)
}

/// What one request is served with.
pub struct ProxyConfig {
    pub engine: Arc<Engine>,
    pub upstream: Arc<Upstream>,
    pub guard: GuardConfig,
    pub max_body_bytes: usize,
    /// Longest time a client may take to send one request body.
    pub body_timeout: Duration,
    /// The action per category (see [`Policy`]).
    pub policies: BTreeMap<String, Policy>,
    /// Whether images and PDFs, which cannot be masked, may leave.
    pub attachments: Attachments,
}

impl ProxyConfig {
    /// The first category in `counts` (identifiers masked, per category) whose policy refuses
    /// the request.
    pub fn refused_category<'c>(&self, counts: &'c BTreeMap<String, usize>) -> Option<&'c str> {
        counts
            .iter()
            .find(|(kind, n)| **n > 0 && self.policies.get(*kind) == Some(&Policy::Refuse))
            .map(|(kind, _)| kind.as_str())
    }

    /// Whether tokens of category `kind` are put back in the answer.
    pub fn restores(&self, kind: &str) -> bool {
        self.policies.get(kind) != Some(&Policy::MaskOnly)
    }
}

/// Why settings could not be turned into a running configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("gateway auth is {0:?} but no gateway secret is set")]
    MissingSecret(GatewayAuth),
    #[error("the key header name {0:?} is not a valid HTTP header name")]
    BadHeaderName(String),
    #[error("cannot read the CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ProxyConfig {
    /// Compiles settings and secrets into what requests are served with.
    pub fn from_settings(
        settings: &Settings,
        secrets: &Secrets,
    ) -> Result<ProxyConfig, ConfigError> {
        let engine = engine_for(settings, &secrets.learned)?;
        let gateway = &settings.gateway;
        let secret = || {
            secrets
                .gateway_secret
                .clone()
                .ok_or(ConfigError::MissingSecret(gateway.auth))
        };
        let credential = match gateway.auth {
            GatewayAuth::None => None,
            GatewayAuth::Key => Some(GatewayCredential::Header {
                name: HeaderName::from_bytes(gateway.key_header.trim().as_bytes())
                    .map_err(|_| ConfigError::BadHeaderName(gateway.key_header.clone()))?,
                value: secret()?,
            }),
            GatewayAuth::Bearer => Some(GatewayCredential::Bearer(secret()?)),
            GatewayAuth::Basic => Some(GatewayCredential::Basic {
                user: gateway.basic_user.clone(),
                password: secret()?,
            }),
        };
        let extra_ca_pem = match &gateway.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|source| ConfigError::CaFile {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let upstream = Upstream::new(&UpstreamConfig {
            credential,
            key_mode: gateway.anthropic_key,
            extra_ca_pem,
            idle_timeout: Duration::from_secs(settings.idle_timeout_secs.max(1)),
            ..UpstreamConfig::new(settings.upstream_url.clone())
        })?;
        Ok(ProxyConfig {
            engine: Arc::new(engine),
            upstream: Arc::new(upstream),
            guard: GuardConfig {
                allowed_hosts: settings.allowed_hosts.clone(),
                local_token: secrets.local_token.clone().filter(|t| !t.is_empty()),
                ..GuardConfig::default()
            },
            max_body_bytes: settings.max_body_bytes(),
            body_timeout: Duration::from_secs(settings.client_body_timeout_secs.max(1)),
            policies: settings.policies.clone(),
            attachments: settings.attachments,
        })
    }
}

impl ServeLimits {
    pub fn from_settings(settings: &Settings) -> ServeLimits {
        ServeLimits {
            header_read: Duration::from_secs(settings.client_header_timeout_secs.max(1)),
            max_connections: settings.max_connections,
        }
    }
}

/// The running proxy's shared state.
pub struct Proxy {
    config: ArcSwap<ProxyConfig>,
    journal: Arc<Journal>,
    buffers: BufferPool,
    activity: quiet::Activity,
    learn: std::sync::OnceLock<LearnHook>,
}

/// What `POST /_maskgate/learn` runs: the control layer's "learn from my AWS account", given
/// a profile; its JSON report, or why it failed.
pub type LearnHook = Arc<
    dyn Fn(
            Option<String>,
        ) -> futures_util::future::BoxFuture<'static, Result<serde_json::Value, String>>
        + Send
        + Sync,
>;

impl Proxy {
    pub fn new(config: ProxyConfig, journal: Arc<Journal>) -> Arc<Proxy> {
        Arc::new(Proxy {
            config: ArcSwap::from_pointee(config),
            journal,
            buffers: BufferPool::default(),
            activity: quiet::Activity::default(),
            learn: std::sync::OnceLock::new(),
        })
    }

    /// Installs what `POST /_maskgate/learn` runs (once; later calls change nothing).
    pub fn set_learn_hook(&self, hook: LearnHook) {
        let _ = self.learn.set(hook);
    }

    pub fn learn_hook(&self) -> Option<&LearnHook> {
        self.learn.get()
    }

    /// The settings snapshot for one request.
    pub fn config(&self) -> Arc<ProxyConfig> {
        self.config.load_full()
    }

    /// Takes effect from the next request on.
    pub fn apply(&self, config: ProxyConfig) {
        self.config.store(Arc::new(config));
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Buffers for request bodies and masked outputs.
    pub fn buffers(&self) -> &BufferPool {
        &self.buffers
    }

    /// The exchanges in flight: memory kept between them is released once none has run for
    /// a while.
    pub fn activity(&self) -> &quiet::Activity {
        &self.activity
    }

    /// Hands back what is kept for the next requests: pooled buffers, the masking's working
    /// memory, and the allocator's free pages.
    fn release_kept_memory(&self) {
        self.buffers.release();
        crate::mask::release_working_memory();
        crate::journal::release_memory();
    }
}

/// A proxy served in the background.
pub struct RunningServer {
    pub address: SocketAddr,
    /// The TLS files it was started with (none: in clear).
    pub tls: Option<ListenerTls>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Why the proxy cannot serve on its address.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Binds `address` and serves `proxy` on it in the background, over TLS with `tls`.
pub async fn start(
    address: SocketAddr,
    tls: Option<&ListenerTls>,
    proxy: Arc<Proxy>,
    limits: ServeLimits,
) -> Result<RunningServer, ListenError> {
    let acceptor = tls.map(tls::acceptor).transpose()?;
    let listener = TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    check_exposure(address, &proxy.config().guard)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, acceptor, proxy, limits, async {
        let _ = stopped.await;
    }));
    Ok(RunningServer {
        address,
        tls: tls.cloned(),
        stop,
        task,
    })
}

impl RunningServer {
    /// Stops accepting, lets open exchanges finish for up to `grace`, then drops the rest.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(());
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
        }
    }
}

/// Refuses to serve beyond this machine without a local token: anyone who can reach the
/// address could otherwise send requests through the gateway, and read originals back.
pub fn check_exposure(address: SocketAddr, guard: &GuardConfig) -> std::io::Result<()> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    if guard.local_token.is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{address} can be reached from other machines; set a local token (MASKGATE_LOCAL_TOKEN) before listening there"
            ),
        ));
    }
    tracing::warn!(
        %address,
        "listening beyond loopback: any machine that reaches this address and holds the local token can send requests through maskgate"
    );
    Ok(())
}

/// Serves until `shutdown` resolves, then lets in-flight exchanges (streams included) finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxy: Arc<Proxy>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    check_exposure(listener.local_addr()?, &proxy.config().guard)?;
    let router = server::router(Arc::clone(&proxy));
    let release = || proxy.release_kept_memory();
    tokio::select! {
        served = serve_router(listener, router, limits, tls, shutdown) => served,
        never = proxy.activity().release_when_quiet(release) => match never {},
    }
}

/// Serves the metrics alone (see [`server::metrics_router`]) until `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    journal: Arc<Journal>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = server::metrics_router(journal);
    serve_router(listener, router, ServeLimits::default(), None, shutdown).await
}
