//! A stand-in for the Anthropic Messages API on loopback. It answers like a model would —
//! echoing the identifiers (tokens, by then) it was sent, calling the Bash tool when asked,
//! streaming thinking with a signature — and records every request it receives so tests can
//! prove no original reached it.
//!
//! Behaviour by the last user turn:
//! - it holds the `tool_result` of the `RUN_INVENTORY` call: a second Bash call that uses the
//!   tokens of that result (`echo invoke LAMBDA_FUNCTION_001 …`), as a model acts on what a
//!   tool showed it;
//! - it holds any other `tool_result`: a final text answer quoting that result;
//! - its text contains `RUN_INVENTORY`: a Bash call that prints `inventory.json` from the
//!   working directory;
//! - its text contains `RUN_TOOL`: a signed thinking block, then a Bash `tool_use` whose
//!   command echoes every token of the prompt (streamed as `input_json_delta` pieces);
//! - otherwise: a text answer that lists every token of the prompt.
//!
//! Text is streamed in 5-character deltas, so tokens are split across events. A thinking
//! block sent back whose bytes differ from what was signed is answered with a 400, as the
//! real API does. Usage counts a prompt cache at its simplest (four bytes a token): what a
//! request shares from its first byte with the previous one is read from the cache, the rest
//! written to it — so a prefix that masks differently from one turn to the next shows.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, head, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
pub struct Recorder {
    pub requests: Mutex<Vec<Received>>,
}

impl Recorder {
    pub fn all(&self) -> Vec<Received> {
        self.requests.lock().expect("recorder lock").clone()
    }

    /// Every byte the upstream received, bodies and headers, as one lossy string.
    pub fn everything(&self) -> String {
        self.all()
            .iter()
            .map(|r| {
                let headers: String = r
                    .headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
                    .collect();
                format!(
                    "{} {}\n{headers}\n{}\n",
                    r.method,
                    r.path_and_query,
                    String::from_utf8_lossy(&r.body)
                )
            })
            .collect()
    }

    pub fn messages_requests(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| is_messages_request(&r))
            .collect()
    }

    /// The usage the API would report for the last `/v1/messages` request, with a prompt
    /// cache of the one before it (see the module doc).
    fn prompt_cache_usage(&self) -> Value {
        // Looks back from the end without copying the record: a soak sends thousands.
        let requests = self.requests.lock().expect("recorder lock");
        let mut messages = requests.iter().rev().filter(is_messages_request);
        let Some(current) = messages.next() else {
            return json!({"input_tokens": 0});
        };
        let shared = messages.next().map_or(0, |previous| {
            let same = previous.body.iter().zip(current.body.iter());
            same.take_while(|(a, b)| a == b).count()
        });
        json!({
            "input_tokens": 1,
            "cache_read_input_tokens": shared / 4,
            "cache_creation_input_tokens": (current.body.len() - shared) / 4,
        })
    }

    /// The body of the last `/v1/messages` request received, as text.
    pub fn last_messages_body(&self) -> String {
        let last = self.messages_requests().pop().expect("a forwarded request");
        String::from_utf8_lossy(&last.body).into_owned()
    }
}

fn is_messages_request(request: &&Received) -> bool {
    request.path_and_query.starts_with("/v1/messages")
        && !request.path_and_query.contains("count_tokens")
}

pub struct TestUpstream {
    pub address: SocketAddr,
    pub recorder: Arc<Recorder>,
}

impl TestUpstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Starts the stand-in on 127.0.0.1 with an ephemeral port.
pub async fn start() -> TestUpstream {
    let recorder = Arc::new(Recorder::default());
    let app = router(Arc::clone(&recorder));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind test upstream");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("test upstream serves");
    });
    TestUpstream { address, recorder }
}

/// The same router, for a stand-in served elsewhere (behind TLS, say).
pub fn router(recorder: Arc<Recorder>) -> Router {
    Router::new()
        .route("/", head(|| async { StatusCode::OK }))
        .route("/v1/models", get(|| async { Json(json!({"data": [{"type": "model", "id": "claude-test"}], "has_more": false})) }))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/messages", post(messages_maybe_gzipped))
        .fallback(any(|| async { (StatusCode::NOT_FOUND, Json(json!({"type":"error","error":{"type":"not_found_error","message":"no such path"}}))) }))
        .with_state(Arc::clone(&recorder))
        .layer(axum::middleware::from_fn_with_state(recorder, record))
}

async fn record(
    State(recorder): State<Arc<Recorder>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    recorder
        .requests
        .lock()
        .expect("recorder lock")
        .push(Received {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.to_string()),
            headers: parts.headers.clone(),
            body: body.clone(),
        });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

async fn count_tokens(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({"input_tokens": body.to_string().len() / 4}))
}

/// A deterministic stand-in for a thinking signature.
pub fn sign(thinking: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in thinking.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("sig-{hash:016x}")
}

/// Every token-shaped word (`EC2_INSTANCE_001`) in `text`, in order, without repeats.
pub fn tokens_in(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_\d{3,}\b").expect("token regex");
    let mut seen = Vec::new();
    for m in re.find_iter(text) {
        if !seen.iter().any(|s| s == m.as_str()) {
            seen.push(m.as_str().to_owned());
        }
    }
    seen
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"type":"error","error":{"type":kind,"message":message}})),
    )
        .into_response()
}

/// Like the real API behind a compressing gateway: a plain JSON answer comes gzip-encoded when
/// the client accepts gzip and asks for it with `x-test-gzip`.
async fn messages_maybe_gzipped(
    State(recorder): State<Arc<Recorder>>,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    let answer = messages(body, recorder.prompt_cache_usage()).await;
    let accepts_gzip = headers
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if !headers.contains_key("x-test-gzip") || !accepts_gzip {
        return answer;
    }
    let (mut parts, body) = answer.into_parts();
    let plain = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &plain).expect("gzip");
    parts
        .headers
        .insert("content-encoding", "gzip".parse().expect("header"));
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(encoder.finish().expect("gzip")))
}

/// The id of the Bash call that reads `inventory.json` (see the module doc).
const INVENTORY_CALL: &str = "toolu_01INVENTORY";

async fn messages(Json(body): Json<Value>, mut usage: Value) -> Response {
    let model = body["model"].as_str().unwrap_or("claude-test").to_owned();
    if let Some(code) = model.strip_prefix("error-") {
        let status =
            StatusCode::from_bytes(code.as_bytes()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "api_error", &format!("test upstream error {code}"));
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    // The real API rejects a changed thinking block; so do we.
    for message in &messages {
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "thinking" {
                let thinking = block["thinking"].as_str().unwrap_or_default();
                if block["signature"].as_str() != Some(&sign(thinking)) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "thinking block was modified: signature mismatch",
                    );
                }
            }
        }
    }
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .cloned()
        .unwrap_or(Value::Null);
    let last_text = last_user.to_string();
    // The latest result (a client may keep earlier ones in the same user turn).
    let tool_result_block = last_user["content"]
        .as_array()
        .and_then(|blocks| blocks.iter().rev().find(|b| b["type"] == "tool_result"));
    let answers_inventory = tool_result_block.is_some_and(|b| b["tool_use_id"] == INVENTORY_CALL);
    let tool_result = tool_result_block.map(|b| match &b["content"] {
        Value::String(s) => s.clone(),
        other => other
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    });
    let prompt_tokens = tokens_in(&last_text);
    let blocks: Vec<Value> = if let (true, Some(result)) = (answers_inventory, &tool_result) {
        let command = format!("echo invoke {}", tokens_in(result).join(" "));
        vec![
            json!({"type":"tool_use","id":"toolu_02USE","name":"Bash","input":{"command": command, "description":"Use what the inventory named"}}),
        ]
    } else if let Some(result) = tool_result {
        vec![json!({"type":"text","text": format!("Done. The command printed: {}", result.trim())})]
    } else if last_text.contains("RUN_INVENTORY") {
        vec![
            json!({"type":"tool_use","id":INVENTORY_CALL,"name":"Bash","input":{"command": "cat inventory.json", "description":"Read the inventory"}}),
        ]
    } else if last_text.contains("RUN_TOOL") {
        let thinking = format!("I will echo {} with Bash.", prompt_tokens.join(" "));
        vec![
            json!({"type":"thinking","thinking": thinking, "signature": sign(&thinking)}),
            json!({"type":"tool_use","id":"toolu_01TEST","name":"Bash","input":{"command": format!("echo {}", prompt_tokens.join(" ")), "description":"Echo the identifiers"}}),
        ]
    } else {
        vec![json!({"type":"text","text": format!("Found: {}.", prompt_tokens.join(", "))})]
    };
    let stop_reason = if blocks.iter().any(|b| b["type"] == "tool_use") {
        "tool_use"
    } else {
        "end_turn"
    };
    if body["stream"].as_bool() == Some(true) {
        usage["output_tokens"] = json!(1);
        stream_answer(&model, &blocks, stop_reason, &usage)
    } else {
        usage["output_tokens"] = json!(10);
        Json(json!({
            "id": "msg_test", "type": "message", "role": "assistant", "model": model,
            "content": blocks, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage
        }))
        .into_response()
    }
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn stream_answer(model: &str, blocks: &[Value], stop_reason: &str, usage: &Value) -> Response {
    let mut events = vec![event(
        "message_start",
        json!({"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","model":model,"content":[],"stop_reason":null,"stop_sequence":null,"usage":usage}}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let start = match block["type"].as_str() {
            Some("thinking") => json!({"type":"thinking","thinking":"","signature":""}),
            Some("tool_use") => {
                json!({"type":"tool_use","id":block["id"],"name":block["name"],"input":{}})
            }
            _ => json!({"type":"text","text":""}),
        };
        events.push(event(
            "content_block_start",
            json!({"type":"content_block_start","index":index,"content_block":start}),
        ));
        events.push(event("ping", json!({"type":"ping"})));
        match block["type"].as_str() {
            Some("thinking") => {
                for piece in pieces(block["thinking"].as_str().unwrap_or_default(), 5) {
                    events.push(event("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"thinking_delta","thinking":piece}})));
                }
                events.push(event("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"signature_delta","signature":block["signature"]}})));
            }
            Some("tool_use") => {
                for piece in pieces(&block["input"].to_string(), 5) {
                    events.push(event("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"input_json_delta","partial_json":piece}})));
                }
            }
            _ => {
                for piece in pieces(block["text"].as_str().unwrap_or_default(), 5) {
                    events.push(event("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"text_delta","text":piece}})));
                }
            }
        }
        events.push(event(
            "content_block_stop",
            json!({"type":"content_block_stop","index":index}),
        ));
    }
    events.push(event("message_delta", json!({"type":"message_delta","delta":{"stop_reason":stop_reason,"stop_sequence":null},"usage":{"output_tokens":20}})));
    events.push(event("message_stop", json!({"type":"message_stop"})));
    let stream = futures_util::stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, std::convert::Infallible>(Bytes::from(e))),
    );
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
