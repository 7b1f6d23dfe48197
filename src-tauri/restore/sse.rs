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
    buffer: Vec<u8>,
    /// Where the search for the end of the current event resumes (always a line start).
    scanned: usize,
    blocks: BTreeMap<u64, Block>,
}

impl SseRestorer {
    pub fn new(restorer: Arc<Restorer>) -> SseRestorer {
        SseRestorer {
            restorer,
            buffer: Vec::new(),
            scanned: 0,
            blocks: BTreeMap::new(),
        }
    }

    /// Takes the next chunk from upstream; returns the bytes ready for the client.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.restorer.is_empty() {
            return chunk.to_vec();
        }
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(chunk.len() + 64);
        let mut consumed = 0;
        while let Some(end) = event_end(&self.buffer, self.scanned) {
            let event = self.buffer[consumed..end].to_vec();
            self.process_event(&event, &mut out);
            consumed = end;
            self.scanned = end;
        }
        self.buffer.drain(..consumed);
        self.scanned -= consumed;
        out
    }

    /// Upstream ended: whatever is left, then every held tail.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        if !rest.is_empty() {
            self.process_event(&rest, &mut out);
        }
        let indexes: Vec<u64> = self.blocks.keys().copied().collect();
        for index in indexes {
            self.flush_block(index, &mut out);
        }
        out
    }

    fn process_event(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let Some((name, mut data)) = parse_event(raw) else {
            out.extend_from_slice(raw);
            return;
        };
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
            (Some("message_stop"), _) => {
                let indexes: Vec<u64> = self.blocks.keys().copied().collect();
                for index in indexes {
                    self.flush_block(index, out);
                }
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

/// The end (exclusive) of the first complete event at or after line start `from`.
fn event_end(buffer: &[u8], from: usize) -> Option<usize> {
    let mut line_start = from;
    loop {
        let newline = line_start + memchr::memchr(b'\n', &buffer[line_start..])?;
        let line = &buffer[line_start..newline];
        if line.is_empty() || line == b"\r" {
            return Some(newline + 1);
        }
        line_start = newline + 1;
    }
}

/// The event name and JSON data of one event, if it has JSON data.
fn parse_event(raw: &[u8]) -> Option<(Option<&str>, Value)> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut name = None;
    let mut data = String::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = Some(value.trim());
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
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
        let input = format!("{start}{think}{sig}");
        let mut out = sse.push(input.as_bytes());
        out.extend(sse.finish());
        assert_eq!(String::from_utf8(out).expect("utf8"), input);
    }

    #[test]
    fn events_without_tokens_pass_unchanged() {
        let mut sse = SseRestorer::new(restorer());
        let input = format!(
            "{}event: ping\ndata: {{\"type\":\"ping\"}}\n\n",
            delta(0, "text_delta", "text", "hello")
        );
        let mut out = sse.push(input.as_bytes());
        out.extend(sse.finish());
        assert_eq!(String::from_utf8(out).expect("utf8"), input);
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
            out.extend(sse.push(&bytes[from..p]));
            from = p;
        }
        out.extend(sse.finish());
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
