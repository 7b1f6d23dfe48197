//! Exchanges exported for a ticket or a colleague: JSON Lines (one exchange per line) or
//! HAR 1.2. An export is built only from what crossed the network — the masked request and
//! the upstream's masked answer — and the masked summary; never from the token table or the
//! restored answer, so no original can be in it, whatever the answer says.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ExchangeRecord;

/// The two formats the live view offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON object per exchange and line.
    Jsonl,
    /// HTTP Archive 1.2, which browsers' network panels and proxies read.
    Har,
}

/// An export, ready to be saved.
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub file_name: String,
    pub media_type: &'static str,
    pub text: String,
}

/// `records` (oldest first) in `format`; `base_url` is where the client sent them (the
/// proxy's own address: HAR wants absolute URLs).
pub fn export(records: &[ExchangeRecord], format: ExportFormat, base_url: &str) -> Export {
    let stamp = records.last().map_or(0, |r| r.started_unix_ms);
    let stem = format!("maskgate-{}", file_stamp(stamp));
    match format {
        ExportFormat::Jsonl => Export {
            file_name: format!("{stem}.jsonl"),
            media_type: "application/x-ndjson",
            text: records.iter().map(|r| json_line(r) + "\n").collect(),
        },
        ExportFormat::Har => Export {
            file_name: format!("{stem}.har"),
            media_type: "application/json",
            text: har(records, base_url).to_string(),
        },
    }
}

/// The request body as JSON when it is JSON (it is, unless the request was refused for not
/// being JSON), else as text.
fn request_value(record: &ExchangeRecord) -> Value {
    serde_json::from_slice(&record.masked_request)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&record.masked_request).into()))
}

fn masked_response(record: &ExchangeRecord) -> String {
    String::from_utf8_lossy(&record.masked_response).into_owned()
}

/// Only part of the answer was kept for review.
fn response_truncated(record: &ExchangeRecord) -> bool {
    record.masked_response.len() >= super::RESPONSE_KEEP
}

fn json_line(record: &ExchangeRecord) -> String {
    json!({
        "exchange": record.summary(),
        "request": request_value(record),
        "response": masked_response(record),
        "response_truncated": response_truncated(record),
    })
    .to_string()
}

fn har(records: &[ExchangeRecord], base_url: &str) -> Value {
    let entries: Vec<Value> = records.iter().map(|r| har_entry(r, base_url)).collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "maskgate", "version": env!("CARGO_PKG_VERSION") },
            "entries": entries,
        }
    })
}

fn har_entry(record: &ExchangeRecord, base_url: &str) -> Value {
    let ms = |d: Option<std::time::Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let (masking, first_byte, total) = (
        ms(record.masking),
        ms(record.first_byte),
        ms(record.latency),
    );
    // HAR's phases: sending (maskgate reading and masking the body), waiting for the first
    // byte, receiving the rest. Each is at least zero; together they make the entry's time.
    let wait = (first_byte - masking).max(0.0);
    let receive = (total - masking - wait).max(0.0);
    let response_type = if record.streaming {
        "text/event-stream"
    } else {
        "application/json"
    };
    let text = masked_response(record);
    json!({
        "startedDateTime": rfc3339(record.started_unix_ms),
        "time": masking + wait + receive,
        "request": {
            "method": record.method,
            "url": format!("{}{}", base_url.trim_end_matches('/'), record.path),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{ "name": "content-type", "value": "application/json" }],
            "queryString": [],
            "postData": {
                "mimeType": "application/json",
                "text": String::from_utf8_lossy(&record.masked_request),
            },
            "headersSize": -1,
            "bodySize": record.masked_request.len(),
        },
        "response": {
            "status": record.status.unwrap_or(0),
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{ "name": "content-type", "value": response_type }],
            "content": { "size": text.len(), "mimeType": response_type, "text": text },
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": { "send": masking, "wait": wait, "receive": receive },
        "comment": if response_truncated(record) { "answer cut at the journal's limit" } else { "" },
        "_maskgate": record.summary(),
    })
}

fn timestamp(unix_ms: u64) -> jiff::Timestamp {
    let ms = i64::try_from(unix_ms).unwrap_or(i64::MAX);
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// `2026-12-07T06:15:28.123Z`, as HAR's dates are written.
fn rfc3339(unix_ms: u64) -> String {
    format!("{:.3}", timestamp(unix_ms))
}

/// `20261207-061528`: a file name's date, in UTC.
fn file_stamp(unix_ms: u64) -> String {
    timestamp(unix_ms).strftime("%Y%m%d-%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::mask::TokenTable;

    /// A streamed exchange as the proxy records it: the masked request, the upstream's masked
    /// answer, and the restored answer and token table that must stay out of an export.
    fn record(id: u64) -> ExchangeRecord {
        let mut r = ExchangeRecord::new("POST", "/v1/messages?beta=true");
        r.id = id;
        r.started_unix_ms = 1_796_624_128_123 + id;
        r.streaming = true;
        r.status = Some(200);
        r.masking = Some(Duration::from_millis(2));
        r.first_byte = Some(Duration::from_millis(300));
        r.latency = Some(Duration::from_millis(900));
        r.masked_request = Bytes::from_static(
            br#"{"model":"m","messages":[{"role":"user","content":"stop EC2_INSTANCE_001"}]}"#,
        );
        r.masked_response =
            b"event: content_block_delta\ndata: {\"delta\":{\"text\":\"EC2_INSTANCE_001\"}}\n\n"
                .to_vec();
        r.response =
            "event: content_block_delta\ndata: {\"delta\":{\"text\":\"i-0a1b2c3d4e5f67890\"}}\n\n"
                .into();
        let mut table = TokenTable::default();
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-0a1b2c3d4e5f67890");
        r.tokens = Arc::new(table.into_entries());
        r.counts.insert("ec2_instance".into(), 1);
        r
    }

    #[test]
    fn jsonl_holds_one_masked_exchange_per_line() {
        let export = export(&[record(1), record(2)], ExportFormat::Jsonl, "x");
        assert_eq!(export.file_name, "maskgate-20261207-061528.jsonl");
        assert!(
            !export.text.contains("i-0a1b2c3d4e5f67890"),
            "{}",
            export.text
        );
        let lines: Vec<Value> = (export.text.lines())
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["exchange"]["id"], 2);
        assert_eq!(
            lines[0]["request"]["messages"][0]["content"],
            "stop EC2_INSTANCE_001"
        );
        assert!(lines[0]["response"]
            .as_str()
            .is_some_and(|t| t.contains("EC2_INSTANCE_001")));
    }

    #[test]
    fn har_has_what_har_1_2_requires() {
        let export = export(&[record(1)], ExportFormat::Har, "http://127.0.0.1:8082/");
        assert!(!export.text.contains("i-0a1b2c3d4e5f67890"));
        let har: Value = serde_json::from_str(&export.text).expect("JSON");
        assert_eq!(har["log"]["version"], "1.2");
        let entry = &har["log"]["entries"][0];
        assert_eq!(entry["startedDateTime"], "2026-12-07T06:15:28.124Z");
        assert_eq!(
            entry["request"]["url"],
            "http://127.0.0.1:8082/v1/messages?beta=true"
        );
        assert_eq!(entry["response"]["status"], 200);
        assert_eq!(
            entry["response"]["content"]["mimeType"],
            "text/event-stream"
        );
        let timings = &entry["timings"];
        assert_eq!(
            [&timings["send"], &timings["wait"], &timings["receive"]],
            [&json!(2.0), &json!(298.0), &json!(600.0)]
        );
        assert_eq!(entry["time"], 900.0);
        for member in ["cookies", "headers", "queryString"] {
            assert!(entry["request"][member].is_array(), "{member}");
        }
        assert!(entry["cache"].is_object());
    }
}
