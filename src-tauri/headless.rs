//! `maskgate --headless`: the proxy without the desktop app, and the browser dashboard and the
//! metrics listener when asked — exactly what the binary runs, so that tests start the same thing. Serves until
//! `shutdown` resolves, then lets open exchanges (streams included) finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::control::{Control, Shell, Status};
use crate::dashboard::{self, Dashboard};
use crate::proxy;
use crate::settings::{Secrets, Settings};

/// What the headless server runs with.
pub struct Options {
    pub settings_path: PathBuf,
    /// The settings file with the command line's overrides applied.
    pub settings: Settings,
    pub secrets: Secrets,
    pub dashboard: Option<DashboardOptions>,
}

/// Where and how the browser dashboard is served.
pub struct DashboardOptions {
    /// A loopback address: the dashboard shows originals.
    pub listen: SocketAddr,
    /// The per-run token every API call must carry.
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("{0}")]
    Start(String),
    #[error("--dashboard-listen {0}: the dashboard shows originals and only listens on loopback")]
    DashboardNotLoopback(SocketAddr),
    #[error("cannot serve the metrics on {address}: {source}")]
    Metrics {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot serve the dashboard on {address}: {source}")]
    Dashboard {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// How long open exchanges may take to finish once asked to stop: the longest answers
/// stream for minutes.
pub const DRAIN: Duration = Duration::from_secs(600);

/// Serves the proxy (and the dashboard) until `shutdown` resolves.
pub async fn run(
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), HeadlessError> {
    let metrics_listen = options.settings.metrics_listen;
    let control = Control::new(
        options.settings_path,
        options.settings,
        options.secrets,
        Shell::Headless,
        Box::new(|status| {
            if let Status::Error { message } = status {
                tracing::error!("{message}");
            }
        }),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dashboard_task = match options.dashboard {
        Some(options) => {
            if !options.listen.ip().is_loopback() {
                return Err(HeadlessError::DashboardNotLoopback(options.listen));
            }
            let dashboard_error = |source| HeadlessError::Dashboard {
                address: options.listen,
                source,
            };
            let listener = TcpListener::bind(options.listen)
                .await
                .map_err(dashboard_error)?;
            let at = listener.local_addr().map_err(dashboard_error)?;
            // The token is the key to the originals: it is printed once to the terminal
            // that started maskgate, not logged through tracing.
            eprintln!(
                "maskgate: dashboard at http://{at}/#token={}",
                options.token
            );
            tracing::info!(address = %at, "dashboard serving");
            let mut stopped = stopped.clone();
            Some(tokio::spawn(dashboard::serve(
                listener,
                Dashboard::new(std::sync::Arc::clone(&control), options.token),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    let metrics_task = match metrics_listen {
        Some(address) => {
            let metrics_error = |source| HeadlessError::Metrics { address, source };
            let listener = TcpListener::bind(address).await.map_err(metrics_error)?;
            let at = listener.local_addr().map_err(metrics_error)?;
            tracing::info!(address = %at, "metrics serving at /metrics");
            let mut stopped = stopped.clone();
            Some(tokio::spawn(proxy::serve_metrics(
                listener,
                std::sync::Arc::clone(control.journal()),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    // The proxy announces its address last, when everything else it serves is listening.
    control.start().await.map_err(HeadlessError::Start)?;
    let known_values_watch = tokio::spawn(Control::watch_known_values(&control));
    shutdown.await;
    tracing::info!("shutting down; letting open exchanges finish");
    let _ = stop.send(true);
    control.stop(DRAIN).await;
    known_values_watch.abort();
    for task in [dashboard_task, metrics_task].into_iter().flatten() {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
