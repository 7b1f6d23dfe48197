//! One exchange, from a request's arrival to the end of its answer, with one method per
//! phase: check the path, read the body, mask it, forward it, answer (restoring as it
//! streams). The exchange owns what crosses phases — its start time, its token table and
//! restorer, its handle on its own journal record — so the handler in `server` reads as the
//! list of phases (pingora's `ProxyHttp` is the model).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};

use super::body::{read_limited, BodyError};
use super::buffers::{BodyBuffer, BufferPool};
use super::errors::ApiError;
use super::upstream::{error_chain, Upstream};
use super::{Proxy, ProxyConfig};
use crate::journal::{ExchangeRecord, Failure, Journal, JournalEntry, Outcome};
use crate::mask::{mask_json_into, mask_text, Engine, TokenTable};
use crate::restore::{restore_json_body, Restorer, SseRestorer, Usage};

/// One request and its answer, phase by phase.
pub struct Exchange {
    proxy: Arc<Proxy>,
    /// The settings for this request, loaded once at its start.
    config: Arc<ProxyConfig>,
    started: Instant,
    /// Filled in as the phases learn it; handed to the journal once the body is masked.
    record: ExchangeRecord,
    /// The URL's path and query; identifier-free once [`Exchange::check_path`] passed.
    path: String,
    path_clean: bool,
}

/// A masked body, ready to forward.
pub struct Masked {
    body: Bytes,
    table: TokenTable,
}

/// An exchange whose request went upstream: it writes its own journal record.
pub struct Forwarded {
    entry: JournalEntry,
    started: Instant,
    upstream: Arc<Upstream>,
}

impl Exchange {
    pub fn begin(proxy: &Arc<Proxy>, method: &str, uri: &Uri) -> Exchange {
        let config = proxy.config();
        let (path, path_clean) = masked_path(&config.engine, uri);
        Exchange {
            record: ExchangeRecord::new(method, &path),
            proxy: Arc::clone(proxy),
            config,
            started: Instant::now(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            path_clean,
        }
    }

    /// A request whose path or query holds an identifier is refused: it would be forwarded
    /// as it is.
    pub fn check_path(&self) -> Result<(), ApiError> {
        if self.path_clean {
            return Ok(());
        }
        Err(ApiError::unmaskable(
            "the URL's path or query holds an identifier, and maskgate does not forward one",
        ))
    }

    /// A request whose forwarded headers hold an identifier is refused: headers go upstream
    /// as they are (`ANTHROPIC_CUSTOM_HEADERS` can carry anything). The client's own
    /// credentials, meant for the upstream, are not scanned.
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let mut text = String::new();
        for (name, value) in headers {
            if UNSCANNED_HEADERS.contains(&name.as_str()) {
                continue;
            }
            text.push_str(name.as_str());
            text.push_str(": ");
            text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            text.push('\n');
        }
        let masked = mask_text(&self.config.engine, &text);
        let Some(entry) = masked.table.entries().first() else {
            return Ok(());
        };
        let named = headers
            .iter()
            .find(|(name, value)| {
                !UNSCANNED_HEADERS.contains(&name.as_str())
                    && String::from_utf8_lossy(value.as_bytes()).contains(&*entry.original)
            })
            .map_or("a header", |(name, _)| name.as_str());
        Err(ApiError::unmaskable(format!(
            "the {named} header holds an identifier ({}), and maskgate does not forward one",
            entry.kind
        )))
    }

    /// Reads the body within the size and time limits.
    pub async fn read(&self, headers: &HeaderMap, body: Body) -> Result<BodyBuffer, ApiError> {
        let limit = self.config.body_timeout;
        let read = read_body(
            headers,
            body,
            self.config.max_body_bytes,
            self.proxy.buffers(),
        );
        match tokio::time::timeout(limit, read).await {
            Ok(read) => read,
            Err(_) => Err(ApiError::body_timeout(limit)),
        }
    }

    /// Masks the body (an empty one stays empty); refuses what cannot be masked.
    pub fn mask(&mut self, body: &[u8]) -> Result<Masked, ApiError> {
        self.record.request_bytes = body.len();
        if body.is_empty() {
            return Ok(Masked {
                body: Bytes::new(),
                table: TokenTable::default(),
            });
        }
        let buffers = self.proxy.buffers();
        let masking = Instant::now();
        let masked = mask_json_into(&self.config.engine, body, buffers.take(body.len()));
        self.record.masking = Some(masking.elapsed());
        let (masked, facts) = masked.map_err(ApiError::unmaskable)?;
        self.record.model = facts.model;
        self.record.streaming = facts.stream;
        self.record.attachments = facts.attachments;
        if facts.attachments > 0 && self.config.attachments == crate::settings::Attachments::Refuse
        {
            self.record.counts = masked.counts;
            return Err(ApiError::attachments(facts.attachments));
        }
        if let Some(kind) = self.config.refused_category(&masked.counts) {
            let label = self.config.engine.rules().iter().find(|r| r.id == kind);
            let label = label.map_or(kind, |r| r.label.as_str());
            let refusal = ApiError::by_policy(label, kind);
            self.record.counts = masked.counts;
            return Err(refusal);
        }
        self.record.counts = masked.counts;
        Ok(Masked {
            body: buffers.share(masked.output),
            table: masked.table,
        })
    }

    /// Journals the masked request and sends it upstream; the restorer for its tokens is
    /// built while the upstream thinks.
    pub async fn forward(
        mut self,
        parts: Parts,
        masked: Masked,
    ) -> Result<(Forwarded, reqwest::Response, Restorer), Response> {
        // The journal keeps a copy of exactly the body's size: the shared buffer's capacity
        // can be several times that, and it goes back to the pool once the upstream has it.
        self.record.masked_request = Bytes::copy_from_slice(&masked.body);
        self.record.tokens = Arc::from(masked.table.into_entries());
        // The restorer looks tokens up by prefix and number: built in one pass over the
        // entries the journal shares with it.
        let config = &self.config;
        let restorer =
            Restorer::restoring(Arc::clone(&self.record.tokens), |e| config.restores(e.kind));
        let entry = self.proxy.journal().start(self.record);
        let upstream = Arc::clone(&self.config.upstream);
        let sent = upstream
            .send(parts.method, &self.path, &parts.headers, masked.body)
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(id = entry.id(), upstream = %upstream.display_name, error = %error.message, "forward failed");
                let latency = self.started.elapsed();
                entry.update(|r| {
                    r.outcome = Outcome::Failed;
                    r.status = Some(error.status.as_u16());
                    r.latency = Some(latency);
                    r.error = Some(error.message.clone());
                    r.failure = Some(Failure::Unreachable);
                });
                return Err(error.into_response());
            }
        };
        let forwarded = Forwarded {
            entry,
            started: self.started,
            upstream,
        };
        Ok((forwarded, answer, restorer))
    }

    /// Answers with `refusal` instead of forwarding; the refusal is journaled (and audited).
    pub fn refuse(self, refusal: ApiError) -> Response {
        refuse(self.proxy.journal(), self.record, refusal)
    }
}

impl Forwarded {
    /// Passes the answer on, restored: SSE event by event, JSON whole, anything else as it
    /// streams. The record is finished when the answer ends, breaks off, or the client leaves.
    pub async fn respond(self, answer: reqwest::Response, restorer: Restorer) -> Response {
        let tap = Tap {
            entry: self.entry,
            started: self.started,
            finished: false,
        };
        respond(answer, Arc::new(restorer), &self.upstream, tap).await
    }
}

/// The URL's path and query as the journal may show them, masked; and whether they were
/// free of identifiers (the only form in which they may be forwarded).
pub fn masked_path(engine: &Engine, uri: &Uri) -> (String, bool) {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let masked = mask_text(engine, path);
    let clean = masked.table.is_empty();
    (masked.output, clean)
}

/// Journals `record` as refused with `refusal`, and answers with it.
pub fn refuse(journal: &Arc<Journal>, mut record: ExchangeRecord, refusal: ApiError) -> Response {
    tracing::warn!(path = %record.path, reason = %refusal.message, "request refused");
    record.outcome = Outcome::Refused;
    record.status = Some(refusal.status.as_u16());
    record.error = Some(refusal.message.clone());
    record.failure = Some(Failure::Refused);
    journal.start(record);
    refusal.into_response()
}

/// Reads the whole request body within the size limit into a buffer of `buffers`;
/// compressed bodies are refused since they could not be scanned.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    buffers: &BufferPool,
) -> Result<BodyBuffer, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(HeaderValue::as_bytes);
    if encoding.is_some_and(|e| !e.eq_ignore_ascii_case(b"identity")) {
        return Err(ApiError::unmaskable(
            "compressed request bodies (Content-Encoding) cannot be scanned",
        ));
    }
    // A length past the limit is refused once the body has been read on for a while (see
    // `body`), so that the client reads the answer.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    // Room grows with the bytes that arrive: a declared length is a promise, and many slow
    // clients promising the limit must not reserve it up front.
    let mut buffer = buffers.take_for_body(declared.unwrap_or(0).min(RESERVED_AT_MOST));
    match read_limited(body, limit, &mut buffer).await {
        Ok(()) => Ok(buffer),
        Err(BodyError::TooLarge { .. }) => Err(ApiError::too_large(limit)),
        Err(BodyError::OutOfMemory) => Err(ApiError::out_of_memory()),
        Err(broken @ BodyError::Broken(_)) => Err(ApiError::unmaskable(broken)),
    }
}

/// Headers not scanned for identifiers: the client's credentials for the upstream, and
/// maskgate's own token, which is never forwarded.
const UNSCANNED_HEADERS: &[&str] = &["x-api-key", "authorization", super::guard::TOKEN_HEADER];

/// A request body's buffer is made this large at most before its bytes arrive.
const RESERVED_AT_MOST: usize = 256 * 1024;

/// Response headers that must not be passed on: hop-by-hop, and the length, which changes
/// when tokens are restored.
const DROPPED_RESPONSE_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "trailer",
    "content-length",
    "content-encoding",
];

async fn respond(
    answer: reqwest::Response,
    restorer: Arc<Restorer>,
    upstream: &Upstream,
    mut tap: Tap,
) -> Response {
    let status = answer.status();
    let mut headers = HeaderMap::with_capacity(answer.headers().len());
    for (name, value) in answer.headers() {
        if !DROPPED_RESPONSE_HEADERS.contains(&name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    tap.entry.update(|r| {
        r.status = Some(status.as_u16());
        r.first_byte = Some(tap.started.elapsed());
    });

    if content_type.starts_with("text/event-stream") {
        let sse = Some(SseRestorer::new(restorer));
        return (
            status,
            headers,
            Body::from_stream(tapped_stream(answer, sse, tap)),
        )
            .into_response();
    }
    if !content_type.contains("json") && status.is_success() {
        // Files and other non-JSON answers hold no text to restore: passed on as they stream.
        return (
            status,
            headers,
            Body::from_stream(tapped_stream(answer, None, tap)),
        )
            .into_response();
    }
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(e) => {
            let error = upstream.describe(&e);
            tap.finish(
                Outcome::Failed,
                Some((Failure::StreamCut, error.message.clone())),
            );
            return error.into_response();
        }
    };
    if !status.is_success() && !is_anthropic_error(&body) {
        let error = ApiError::from_gateway(
            status,
            &upstream.display_name,
            &error_detail(&body),
            upstream.is_gateway,
        );
        let said = serde_json::to_vec(&error.body()).unwrap_or_default();
        tap.record_text(&said, &said);
        let failure = if upstream.is_gateway && matches!(status.as_u16(), 401 | 403) {
            Failure::GatewayRejected
        } else {
            Failure::UpstreamError
        };
        tap.finish(Outcome::Completed, Some((failure, error.message.clone())));
        let mut response = error.into_response();
        if let Some(retry_after) = headers.get(header::RETRY_AFTER) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.clone());
        }
        return response;
    }
    let usage = Usage::of_json_answer(&body);
    tap.entry.update(|r| r.usage = usage);
    let restored = restore_json_body(&restorer, &body).map_or_else(|| body.clone(), Bytes::from);
    tap.record_text(&body, &restored);
    tap.finish(Outcome::Completed, None);
    (status, headers, restored).into_response()
}

/// The answer passed on as it streams — restored event by event when `sse` is given.
/// An upstream failure mid-stream becomes an SSE `error` event, so the client learns why the
/// stream ended.
fn tapped_stream(
    answer: reqwest::Response,
    sse: Option<SseRestorer>,
    tap: Tap,
) -> BoxStream<'static, Result<Bytes, std::convert::Infallible>> {
    let state = StreamState {
        upstream: answer.bytes_stream().boxed(),
        sse,
        tap,
        ended: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        while !state.ended {
            let next = state.upstream.next().await;
            let mut received = Bytes::new();
            let out: Vec<u8> = match (next, &mut state.sse) {
                (Some(Ok(chunk)), None) => chunk.to_vec(),
                (Some(Ok(chunk)), Some(sse)) => match sse.push(&chunk) {
                    Ok(out) => {
                        received = chunk;
                        out
                    }
                    Err(e) => state.end(Some(format!("the answer could not be passed on: {e}"))),
                },
                (Some(Err(e)), _) => state.end(Some(format!(
                    "the upstream stream broke off: {}",
                    error_chain(&e)
                ))),
                (None, _) => state.end(None),
            };
            if !state.ended {
                state.tap.sent(&received, &out, state.sse.is_some());
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), state));
            }
        }
        None
    })
    .boxed()
}

/// What an answer's stream holds between chunks.
struct StreamState {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    sse: Option<SseRestorer>,
    tap: Tap,
    ended: bool,
}

impl StreamState {
    /// The stream's last bytes: for SSE, the held tails and, when it was `cut` or did not
    /// end as the API ends a stream, one error event. The journal learns how it ended.
    fn end(&mut self, cut: Option<String>) -> Vec<u8> {
        self.ended = true;
        let out = match &mut self.sse {
            Some(sse) => {
                let usage = sse.usage();
                self.tap.entry.update(|r| r.usage = Some(usage));
                sse.finish(cut.as_deref())
            }
            None => Vec::new(),
        };
        self.tap.sent(&[], &out, self.sse.is_some());
        match cut {
            Some(reason) => self.tap.finish(
                Outcome::Failed,
                Some((Failure::StreamCut, format!("maskgate: {reason}"))),
            ),
            None => self.tap.finish(Outcome::Completed, None),
        }
        out
    }
}

fn is_anthropic_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
        v.get("type").and_then(|t| t.as_str()) == Some("error") && v.get("error").is_some()
    })
}

/// The gateway's own words: Kong's `{"message": …}`, or the start of a text/HTML body.
fn error_detail(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(|m| m.as_str())
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "no details given".to_owned();
    }
    text.chars().take(200).collect()
}

/// The journal's view of one answer as it is passed on, through the exchange's own entry.
struct Tap {
    entry: JournalEntry,
    started: Instant,
    finished: bool,
}

impl Tap {
    /// Notes what the client was sent; when the answer is `text`, keeps what was `received`
    /// (masked) and what was sent (restored: memory only).
    fn sent(&self, received: &[u8], sent: &[u8], text: bool) {
        if sent.is_empty() && received.is_empty() {
            return;
        }
        if !text {
            self.entry.update(|r| r.response_bytes += sent.len());
            return;
        }
        self.record_text(received, sent);
    }

    fn record_text(&self, received: &[u8], sent: &[u8]) {
        self.entry.response_chunk(received, sent);
    }

    fn finish(&mut self, outcome: Outcome, failure: Option<(Failure, String)>) {
        self.finished = true;
        let latency = self.started.elapsed();
        self.entry.update(|r| {
            r.outcome = outcome;
            r.latency = Some(latency);
            (r.failure, r.error) = failure.unzip();
            tracing::info!(
                id = r.id,
                path = %r.path,
                status = r.status,
                masked = r.counts.values().sum::<usize>(),
                ms = latency.as_millis() as u64,
                "exchange"
            );
        });
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if !self.finished {
            let gone = "the client closed the connection before the answer ended";
            self.finish(
                Outcome::Failed,
                Some((Failure::ClientGone, gone.to_owned())),
            );
        }
    }
}
