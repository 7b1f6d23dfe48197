//! Restores a complete JSON response (a non-streamed message, an error, a count): every
//! string and object key, except inside thinking blocks, whose signature covers their bytes.

use serde_json::{Map, Value};

use super::tokens::{Escaping, Restorer};

/// Restores tokens in a JSON document. Returns `None` when nothing changed (or the body is
/// not JSON), so the caller can send the original bytes on.
pub fn restore_json_body(restorer: &Restorer, body: &[u8]) -> Option<Vec<u8>> {
    if !restorer.mentions_token(body) {
        return None;
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    restore_value(restorer, &mut value);
    serde_json::to_vec(&value).ok()
}

/// Restores tokens in place, skipping thinking and redacted_thinking blocks.
pub fn restore_value(restorer: &Restorer, value: &mut Value) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(restored) = restorer.restore(s, Escaping::Raw) {
                *s = restored;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| restore_value(restorer, v)),
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str);
            if matches!(kind, Some("thinking" | "redacted_thinking")) {
                return;
            }
            let keys_change = map.keys().any(|k| restorer.mentions_token(k.as_bytes()));
            if keys_change {
                let old = std::mem::take(map);
                *map = old
                    .into_iter()
                    .map(|(k, v)| (restorer.restore(&k, Escaping::Raw).into_owned(), v))
                    .collect::<Map<String, Value>>();
            }
            map.values_mut().for_each(|v| restore_value(restorer, v));
        }
        _ => {}
    }
}
