//! Restores a streamed Messages response (server-sent events) chunk by chunk.
//!
//! Upstream chunks are cut into whole events. `text_delta` and `input_json_delta` pieces go
//! through a per-block [`PendingText`], which holds back only a tail that could still become
//! one of this request's tokens and flushes it when the block stops. Thinking and signature
//! deltas pass byte for byte. Any other event is re-encoded only if it mentions a token.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::json::restore_value;
use super::tokens::{Escaping, PendingText, Restorer};
use super::usage::Usage;

/// How the deltas of one content block are restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    ToolInput,
    /// thinking / redacted_thinking: signed, never changed.
    Signed,
}

struct Block {
    kind: BlockKind,
    pending: PendingText,
}

/// The restoring state of one streamed response.
pub struct SseRestorer {
    restorer: Arc<Restorer>,
    events: EventSplitter,
    blocks: BTreeMap<u64, Block>,
    /// A `message_stop` or `error` event came: the stream ended as the API ends one.
    ended_well: bool,
    /// What the stream's `message_start` and `message_delta` reported.
    usage: Usage,
}

/// An event longer than this (the API's are a few KiB) ends the stream with an error
/// rather than being held in memory whole.
pub const MAX_EVENT: usize = 8 << 20;

/// Why a stream could not be passed on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error("the upstream sent an event longer than {} MiB", MAX_EVENT >> 20)]
    EventTooLarge,
}

impl SseRestorer {
    pub fn new(restorer: Arc<Restorer>) -> SseRestorer {
        SseRestorer {
            restorer,
            events: EventSplitter::default(),
            blocks: BTreeMap::new(),
            ended_well: false,
            usage: Usage::default(),
        }
    }

    /// The token usage the stream has reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Takes the next chunk from upstream; returns the bytes ready for the client: whole
    /// events only.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, SseError> {
        self.events.buffer.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(chunk.len() + 64);
        let mut consumed = 0;
        while let Some(end) = self.events.next_end() {
            let mut event = std::mem::take(&mut self.events.scratch);
            event.clear();
            event.extend_from_slice(&self.events.buffer[consumed..end]);
            self.process_event(&event, &mut out);
            self.events.scratch = event;
            consumed = end;
        }
        self.events.consume(consumed);
        if self.events.buffer.len() > MAX_EVENT {
            return Err(SseError::EventTooLarge);
        }
        Ok(out)
    }

    /// The upstream ended. A stream that ended as the API ends one (`message_stop`, or an
    /// `error` event) gets its held tails; any other end, or `cut` (why the stream broke),
    /// drops an unfinished event, flushes the held tails as whole events, and adds one
    /// Anthropic `error` event saying why.
    pub fn finish(&mut self, cut: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        let events = std::mem::take(&mut self.events);
        if events.ends_at_cr {
            // A whole event, ended by a CR: no LF came after it.
            self.process_event(&events.buffer, &mut out);
        }
        self.flush_all(&mut out);
        let reason = match cut {
            Some(reason) => Some(reason.to_owned()),
            None if self.ended_well => None,
            None => Some("the upstream closed the stream before the message ended".to_owned()),
        };
        if let Some(reason) = reason {
            let event = json!({
                "type": "error",
                "error": {"type": "api_error", "message": format!("maskgate: {reason}")},
            });
            write_event(&mut out, Some("error"), &event);
        }
        out
    }

    /// Notes what an event says of the stream: that it ended as the API ends one
    /// (`message_stop`, `error`), and the usage it reports.
    fn note(&mut self, data: &Value) {
        let kind = data.get("type").and_then(Value::as_str);
        if matches!(kind, Some("message_stop" | "error")) {
            self.ended_well = true;
        }
        if let Some(usage) = Usage::in_event(data) {
            self.usage.note(usage);
        }
    }

    fn flush_all(&mut self, out: &mut Vec<u8>) {
        let indexes: Vec<u64> = self.blocks.keys().copied().collect();
        for index in indexes {
            self.flush_block(index, out);
        }
    }

    fn process_event(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        if self.restorer.is_empty() {
            // Nothing to restore: the event passes as it is; only the stream's last word and
            // its usage are read, and only from an event that can hold them.
            let worth_reading = ["message_stop", "error", "usage"]
                .iter()
                .any(|word| memchr::memmem::find(raw, word.as_bytes()).is_some());
            if let Some((_, data)) = worth_reading.then(|| parse_event(raw)).flatten() {
                self.note(&data);
            }
            out.extend_from_slice(raw);
            return;
        }
        let Some((name, mut data)) = parse_event(raw) else {
            out.extend_from_slice(raw);
            return;
        };
        self.note(&data);
        let index = data.get("index").and_then(Value::as_u64);
        match (data.get("type").and_then(Value::as_str), index) {
            (Some("content_block_start"), Some(index)) => {
                let kind = match data.pointer("/content_block/type").and_then(Value::as_str) {
                    Some("thinking" | "redacted_thinking") => BlockKind::Signed,
                    Some("tool_use" | "server_tool_use" | "mcp_tool_use") => BlockKind::ToolInput,
                    _ => BlockKind::Text,
                };
                self.blocks.insert(
                    index,
                    Block {
                        kind,
                        pending: PendingText::default(),
                    },
                );
                self.restore_whole(raw, name, data, out);
            }
            (Some("content_block_delta"), Some(index)) => {
                let field = match data.pointer("/delta/type").and_then(Value::as_str) {
                    Some("text_delta") => "text",
                    Some("input_json_delta") => "partial_json",
                    Some("thinking_delta" | "signature_delta") => {
                        out.extend_from_slice(raw);
                        return;
                    }
                    _ => return self.restore_whole(raw, name, data, out),
                };
                let block = self.blocks.entry(index).or_insert_with(|| Block {
                    kind: if field == "text" {
                        BlockKind::Text
                    } else {
                        BlockKind::ToolInput
                    },
                    pending: PendingText::default(),
                });
                let escaping = match block.kind {
                    BlockKind::Signed => {
                        out.extend_from_slice(raw);
                        return;
                    }
                    BlockKind::Text => Escaping::Raw,
                    BlockKind::ToolInput => Escaping::JsonString,
                };
                let Some(piece) = data
                    .pointer(&format!("/delta/{field}"))
                    .and_then(Value::as_str)
                else {
                    out.extend_from_slice(raw);
                    return;
                };
                let ready = block.pending.push(&self.restorer, piece, escaping);
                if ready == piece {
                    out.extend_from_slice(raw);
                } else if !ready.is_empty() {
                    data["delta"][field] = Value::String(ready);
                    write_event(out, name, &data);
                }
            }
            (Some("content_block_stop"), Some(index)) => {
                self.flush_block(index, out);
                out.extend_from_slice(raw);
            }
            (Some("message_stop" | "error"), _) => {
                // Every held tail goes out before the stream's last word.
                self.flush_all(out);
                self.restore_whole(raw, name, data, out);
            }
            _ => self.restore_whole(raw, name, data, out),
        }
    }

    /// Sends the event as it came unless it mentions a token, in which case it is restored.
    fn restore_whole(&self, raw: &[u8], name: Option<&str>, mut data: Value, out: &mut Vec<u8>) {
        if self.restorer.mentions_token(raw) {
            restore_value(&self.restorer, &mut data);
            write_event(out, name, &data);
        } else {
            out.extend_from_slice(raw);
        }
    }

    fn flush_block(&mut self, index: u64, out: &mut Vec<u8>) {
        let Some(mut block) = self.blocks.remove(&index) else {
            return;
        };
        let (delta_type, field, escaping) = match block.kind {
            BlockKind::Text => ("text_delta", "text", Escaping::Raw),
            BlockKind::ToolInput => ("input_json_delta", "partial_json", Escaping::JsonString),
            BlockKind::Signed => return,
        };
        let rest = block.pending.finish(&self.restorer, escaping);
        if !rest.is_empty() {
            let data = json!({
                "type": "content_block_delta",
                "index": index,
                "delta": { "type": delta_type, field: rest },
            });
            write_event(out, Some("content_block_delta"), &data);
        }
    }
}

/// Cuts a byte stream into events as the SSE specification does: lines end with CR, LF or
/// CRLF (a CRLF cut between two chunks included), and an empty line ends an event. Each byte
/// is looked at once, however the stream is chunked.
#[derive(Default)]
struct EventSplitter {
    buffer: Vec<u8>,
    /// Bytes before this have been looked at.
    scanned: usize,
    line_start: usize,
    /// The last line ended with a CR: an LF right after it belongs to that line end.
    after_cr: bool,
    /// The buffer ends with a whole event whose blank line is a lone CR so far.
    ends_at_cr: bool,
    /// One event's bytes, kept between events.
    scratch: Vec<u8>,
}

impl EventSplitter {
    /// The end (exclusive) of the next complete event in `buffer`, if there is one.
    fn next_end(&mut self) -> Option<usize> {
        loop {
            let from = self.scanned;
            let p = from + memchr::memchr2(b'\r', b'\n', &self.buffer[from..])?;
            let byte = self.buffer[p];
            self.scanned = p + 1;
            if byte == b'\n' && self.after_cr && p == self.line_start {
                // The LF of a CRLF whose CR ended the line before.
                self.after_cr = false;
                self.line_start = p + 1;
                continue;
            }
            let empty = p == self.line_start;
            if empty && byte == b'\r' && p + 1 == self.buffer.len() {
                // The event ends here, unless an LF follows in the next chunk and ends it one
                // byte later: wait for that byte (or the stream's end), so that where an event
                // ends never depends on how the stream was cut.
                self.scanned = p;
                self.ends_at_cr = true;
                return None;
            }
            self.after_cr = byte == b'\r';
            self.line_start = p + 1;
            if !empty {
                continue;
            }
            self.ends_at_cr = false;
            if self.after_cr && self.buffer.get(p + 1) == Some(&b'\n') {
                // The blank line's own CRLF, whole: the event ends after it.
                self.after_cr = false;
                self.scanned = p + 2;
                self.line_start = p + 2;
            }
            return Some(self.scanned);
        }
    }

    /// Drops the first `n` bytes (whole events already handled).
    fn consume(&mut self, n: usize) {
        self.buffer.drain(..n);
        self.scanned -= n;
        self.line_start -= n;
    }
}

/// The lines of an event, split at CR, LF or CRLF.
fn lines(raw: &str) -> impl Iterator<Item = &str> {
    raw.split('\n')
        .flat_map(|line| line.split('\r'))
        .filter(|line| !line.is_empty())
}

/// The event name and JSON data of one event, if it has JSON data.
fn parse_event(raw: &[u8]) -> Option<(Option<&str>, Value)> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut name = None;
    let mut data = String::new();
    let field = |line: &'_ str, prefix: &str| -> Option<String> {
        let value = line.strip_prefix(prefix)?;
        Some(value.strip_prefix(' ').unwrap_or(value).to_owned())
    };
    for line in lines(text) {
        if let Some(value) = line.strip_prefix("event:") {
            name = Some(value.strip_prefix(' ').unwrap_or(value));
        } else if let Some(value) = field(line, "data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(&value);
        }
    }
    let value = serde_json::from_str(&data).ok()?;
    Some((name, value))
}

fn write_event(out: &mut Vec<u8>, name: Option<&str>, data: &Value) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut *out, data).expect("writing JSON to a Vec cannot fail");
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::TokenTable;

    fn restorer() -> Arc<Restorer> {
        let mut table = TokenTable::default();
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-0123456789abcdef0");
        Arc::new(Restorer::new(&table))
    }

    fn delta(index: u64, kind: &str, field: &str, text: &str) -> String {
        let data =
            json!({"type":"content_block_delta","index":index,"delta":{"type":kind, field:text}});
        format!("event: content_block_delta\ndata: {data}\n\n")
    }

    #[test]
    fn thinking_and_signature_deltas_pass_byte_for_byte() {
        let mut sse = SseRestorer::new(restorer());
        let start = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n";
        let think = delta(0, "thinking_delta", "thinking", "about EC2_INSTANCE_001");
        let sig = delta(0, "signature_delta", "signature", "c2ln");
        let input = format!("{start}{think}{sig}{STOP}");
        let mut out = sse.push(input.as_bytes()).expect("small events");
        out.extend(sse.finish(None));
        assert_eq!(String::from_utf8(out).expect("utf8"), input);
    }

    #[test]
    fn events_without_tokens_pass_unchanged() {
        let mut sse = SseRestorer::new(restorer());
        let input = format!(
            "{}event: ping\ndata: {{\"type\":\"ping\"}}\n\n{STOP}",
            delta(0, "text_delta", "text", "hello")
        );
        let mut out = sse.push(input.as_bytes()).expect("small events");
        out.extend(sse.finish(None));
        assert_eq!(String::from_utf8(out).expect("utf8"), input);
    }

    const STOP: &str = "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    /// The data of every event in `out`, parsed, with CR, LF or CRLF line ends.
    fn events(out: &[u8]) -> Vec<Value> {
        let text = String::from_utf8(out.to_vec()).expect("utf8");
        lines(&text)
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).expect("every event sent is whole"))
            .collect()
    }

    #[test]
    fn cr_and_crlf_line_ends_are_events_too() {
        for newline in ["\r", "\r\n"] {
            let input = format!(
                "{}{STOP}",
                delta(0, "text_delta", "text", "EC2_INSTANCE_001 up")
            )
            .replace('\n', newline);
            let mut sse = SseRestorer::new(restorer());
            // Cut between every pair of bytes: a CRLF split over two chunks included.
            let mut out = Vec::new();
            for byte in input.as_bytes().chunks(1) {
                out.extend(sse.push(byte).expect("small events"));
            }
            out.extend(sse.finish(None));
            let mut whole = SseRestorer::new(restorer());
            let mut at_once = whole.push(input.as_bytes()).expect("small events");
            at_once.extend(whole.finish(None));
            assert_eq!(out, at_once, "the same bytes however the stream is cut");
            let text: String = events(&out)
                .iter()
                .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
                .collect();
            assert_eq!(text, "i-0123456789abcdef0 up", "{newline:?}");
            assert!(!events(&out).iter().any(|e| e["type"] == "error"));
        }
    }

    #[test]
    fn a_cut_stream_ends_with_whole_events_the_held_tail_and_one_error() {
        let mut sse = SseRestorer::new(restorer());
        let whole = delta(0, "text_delta", "text", "stop EC2_INSTANCE_00");
        let partial = &delta(0, "text_delta", "text", "1 now")[..30];
        let mut out = sse
            .push(format!("{whole}{partial}").as_bytes())
            .expect("small");
        out.extend(sse.finish(Some("the upstream stream broke off")));
        let sent = events(&out);
        let text: String = sent
            .iter()
            .filter_map(|e| e["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, "stop EC2_INSTANCE_00");
        assert_eq!(sent.last().expect("error")["type"], "error");
        assert_eq!(sent.iter().filter(|e| e["type"] == "error").count(), 1);
        assert!(!String::from_utf8_lossy(&out).contains("1 now"));
    }

    #[test]
    fn a_stream_that_closes_before_message_stop_ends_with_an_error() {
        let mut sse = SseRestorer::new(restorer());
        let mut out = sse
            .push(delta(0, "text_delta", "text", "hi").as_bytes())
            .expect("small");
        out.extend(sse.finish(None));
        let sent = events(&out);
        assert_eq!(sent.last().expect("error")["type"], "error");
    }

    #[test]
    fn with_nothing_to_restore_events_pass_whole_and_the_end_is_still_read() {
        let empty = || SseRestorer::new(Arc::new(Restorer::new(&TokenTable::default())));
        let input = format!("{}{STOP}", delta(0, "text_delta", "text", "hi"));
        let mut sse = empty();
        let mut out = sse.push(input.as_bytes()).expect("small");
        out.extend(sse.finish(None));
        assert_eq!(String::from_utf8(out).expect("utf8"), input);
        let mut sse = empty();
        let mut out = sse
            .push(&input.as_bytes()[..input.len() - STOP.len() + 5])
            .expect("small");
        out.extend(sse.finish(None));
        let sent = events(&out);
        assert_eq!(sent.len(), 2, "the whole delta, then the error: {sent:?}");
        assert_eq!(sent[1]["type"], "error");
    }

    #[test]
    fn held_tails_go_out_before_an_upstream_error_event() {
        let mut sse = SseRestorer::new(restorer());
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n";
        let input = format!("{}{error}", delta(0, "text_delta", "text", "EC2_INST"));
        let mut out = sse.push(input.as_bytes()).expect("small");
        out.extend(sse.finish(None));
        let sent = events(&out);
        let kinds: Vec<&str> = sent.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(kinds, ["content_block_delta", "error"]);
        assert_eq!(sent[0]["delta"]["text"], "EC2_INST");
    }

    #[test]
    fn an_event_past_the_bound_is_an_error_not_a_growing_buffer() {
        let mut sse = SseRestorer::new(restorer());
        let line = vec![b'x'; 1 << 20];
        let mut failed = None;
        for n in 0..=MAX_EVENT >> 20 {
            if let Err(e) = sse.push(&line) {
                failed = Some((n, e));
                break;
            }
        }
        assert_eq!(failed.map(|(_, e)| e), Some(SseError::EventTooLarge));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::mask::TokenTable;

    fn table() -> TokenTable {
        let mut table = TokenTable::default();
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-0123456789abcdef0");
        table.token_for("VPC", "vpc", "vpc-\"quoted\"");
        for n in 0..120 {
            table.token_for("SECURITY_GROUP", "security_group", &format!("sg-{n:08x}"));
        }
        table
    }

    /// A streamed answer: text and tool input, each cut into `size`-char deltas.
    fn stream(text: &str, input: &str, size: usize) -> String {
        let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n");
        for (index, (kind, field, body)) in [
            ("text_delta", "text", text),
            ("input_json_delta", "partial_json", input),
        ]
        .into_iter()
        .enumerate()
        {
            let block = if index == 0 {
                json!({"type":"text","text":""})
            } else {
                json!({"type":"tool_use","id":"t","name":"Bash","input":{}})
            };
            s += &format!(
                "event: content_block_start\ndata: {}\n\n",
                json!({"type":"content_block_start","index":index,"content_block":block})
            );
            let chars: Vec<char> = body.chars().collect();
            for piece in chars.chunks(size.max(1)) {
                let piece: String = piece.iter().collect();
                s += &format!(
                    "event: content_block_delta\ndata: {}\n\n",
                    json!({"type":"content_block_delta","index":index,"delta":{"type":kind, field: piece}})
                );
            }
            s += &format!(
                "event: content_block_stop\ndata: {}\n\n",
                json!({"type":"content_block_stop","index":index})
            );
        }
        s + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    }

    fn run(input: &str, cuts: &[usize]) -> Vec<u8> {
        let mut sse = SseRestorer::new(Arc::new(Restorer::new(&table())));
        let bytes = input.as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut out = Vec::new();
        let mut from = 0;
        for p in points.into_iter().chain([bytes.len()]) {
            out.extend(sse.push(&bytes[from..p]).expect("small events"));
            from = p;
        }
        out.extend(sse.finish(None));
        out
    }

    fn deltas(out: &[u8], field: &str) -> String {
        String::from_utf8_lossy(out)
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|e| e["delta"][field].as_str().map(str::to_owned))
            .collect()
    }

    const WORDS: &[&str] = &[
        "EC2_INSTANCE_001",
        "VPC_001",
        "SECURITY_GROUP_100",
        "SECURITY_GROUP_10",
        "EC2_INSTANCE_0010",
        "EC2_",
        "E",
        " ",
        "stop ",
        "\n",
        "_001",
        "x",
    ];

    proptest! {
        #[test]
        fn any_split_of_the_stream_restores_to_the_same_bytes(
            words in prop::collection::vec(prop::sample::select(WORDS), 0..30),
            size in 1usize..9,
            cuts in prop::collection::vec(any::<usize>(), 0..40),
        ) {
            let text = words.concat();
            let input_json = json!({"command": format!("echo {text}")}).to_string();
            let source = stream(&text, &input_json, size);
            let whole = run(&source, &[]);
            prop_assert_eq!(&run(&source, &cuts), &whole);

            let restorer = Restorer::new(&table());
            prop_assert_eq!(deltas(&whole, "text"), restorer.restore(&text, Escaping::Raw).into_owned());
            let tool_input: Value = serde_json::from_str(&deltas(&whole, "partial_json")).expect("tool input stays valid JSON");
            prop_assert_eq!(tool_input["command"].as_str().expect("command"), format!("echo {}", restorer.restore(&text, Escaping::Raw)));
        }
    }
}
