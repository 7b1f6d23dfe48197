//! Accepting connections within bounds: a cap on open connections (a clear 503 past it), a
//! time limit on the TLS handshake and on request headers that also closes a keep-alive
//! connection left idle, and a graceful shutdown that lets open exchanges finish. In clear the
//! listener speaks HTTP/1.1; with TLS it offers HTTP/2 too (ALPN), whose connections carry at
//! most [`MAX_STREAMS_PER_CONNECTION`] exchanges at once and are pinged so that a vanished
//! peer is dropped. The proxy and the browser dashboard are both served through [`serve_router`].

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Version};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::errors::ApiError;
use super::tls::negotiated_h2;

/// Exchanges one HTTP/2 connection may carry at once.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;

/// How long and how many: what one client may hold of the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// From a connection's start, or the end of its last answer, until a request's headers
    /// are in: a connection idle for longer is closed.
    pub header_read: Duration,
    /// Open connections at most; one more is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            header_read: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Serves `app` on `listener` within `limits`, over TLS when `tls` is given, until `shutdown`
/// resolves; then stops accepting and waits for the open connections to finish their exchanges.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors, most likely: let open connections end, then go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small SSE events must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream, tls.clone(), limits.max_connections));
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            authority_as_host(&mut request);
            let mut app = app.clone();
            async move { Ok::<_, Infallible>(app.call(request).await.into_response()) }
        });
        let (tls, watcher) = (tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let served = match tls {
                None => serve_http1(TokioIo::new(stream), service, watcher, limits).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) if negotiated_h2(stream.get_ref().1) => {
                            serve_h2(TokioIo::new(stream), service, watcher).await
                        }
                        Ok(Ok(stream)) => {
                            serve_http1(TokioIo::new(stream), service, watcher, limits).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn serve_http1<I, S>(
    io: TokioIo<I>,
    service: S,
    watcher: Watcher,
    limits: ServeLimits,
) -> hyper::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        // A client that half-closes after sending its request still gets the answer.
        .half_close(true);
    watcher.watch(builder.serve_connection(io, service)).await
}

async fn serve_h2<I, S>(io: TokioIo<I>, service: S, watcher: Watcher) -> hyper::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    watcher.watch(builder.serve_connection(io, service)).await
}

/// HTTP/2 names the host in the `:authority` pseudo-header, which hyper keeps in the URI: it
/// becomes the Host header the guard reads. A different Host beside it makes two, which the
/// guard refuses.
fn authority_as_host(request: &mut Request<Incoming>) {
    if request.version() != Version::HTTP_2 {
        return;
    }
    let Some(value) = request
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    else {
        return;
    };
    let headers = request.headers_mut();
    if headers.get(header::HOST) != Some(&value) {
        headers.append(header::HOST, value);
    }
}

/// Answers a connection past the cap with a 503 in the Anthropic format, and closes it.
/// Over TLS the handshake comes first; an HTTP/2 client is simply closed on.
async fn refuse_busy(stream: TcpStream, tls: Option<TlsAcceptor>, cap: usize) {
    const LIMIT: Duration = Duration::from_secs(2);
    match tls {
        None => write_busy(stream, cap).await,
        Some(acceptor) => {
            if let Ok(Ok(stream)) = tokio::time::timeout(LIMIT, acceptor.accept(stream)).await {
                if !negotiated_h2(stream.get_ref().1) {
                    write_busy(stream, cap).await;
                }
            }
        }
    }
}

async fn write_busy(mut stream: impl AsyncWrite + Unpin, cap: usize) {
    let error = ApiError::overloaded(format!(
        "maskgate already holds {cap} open connections; try again shortly"
    ));
    let body = serde_json::to_string(&error.body()).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), write).await;
}
