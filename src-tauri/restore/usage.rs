//! The token usage an answer reports (`usage` of a JSON answer; `message_start` and
//! `message_delta` of a stream), read as the answer passes: the live view's proof that
//! masking keeps the prompt-cache prefix stable is the share of input read from the cache.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tokens as the upstream counted them; a field it did not report stays 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// Takes the counts a `usage` object reports. A stream's `message_delta` repeats the
    /// counts so far, so a reported field replaces the earlier figure; an absent one keeps it.
    pub fn note(&mut self, usage: &Value) {
        let fields = [
            ("input_tokens", &mut self.input_tokens),
            ("output_tokens", &mut self.output_tokens),
            ("cache_read_input_tokens", &mut self.cache_read_input_tokens),
            (
                "cache_creation_input_tokens",
                &mut self.cache_creation_input_tokens,
            ),
        ];
        for (name, count) in fields {
            if let Some(n) = usage.get(name).and_then(Value::as_u64) {
                *count = n;
            }
        }
    }

    /// The `usage` of a whole JSON answer, if it has one.
    pub fn of_json_answer(body: &[u8]) -> Option<Usage> {
        #[derive(Deserialize)]
        struct Answer {
            usage: Option<Usage>,
        }
        serde_json::from_slice::<Answer>(body).ok()?.usage
    }

    /// The usage object a stream event carries: `message_start` holds it in its message,
    /// `message_delta` at the top.
    pub fn in_event(data: &Value) -> Option<&Value> {
        match data.get("type").and_then(Value::as_str) {
            Some("message_start") => data.pointer("/message/usage"),
            Some("message_delta") => data.get("usage"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_start_and_its_delta_add_up_to_the_final_counts() {
        let mut usage = Usage::default();
        let start = json!({"type": "message_start", "message": {"usage": {"input_tokens": 12, "cache_read_input_tokens": 4000, "cache_creation_input_tokens": 30, "output_tokens": 1}}});
        let delta = json!({"type": "message_delta", "usage": {"output_tokens": 87}});
        for event in [&start, &delta] {
            usage.note(Usage::in_event(event).expect("carries usage"));
        }
        assert_eq!(
            usage,
            Usage {
                input_tokens: 12,
                output_tokens: 87,
                cache_read_input_tokens: 4000,
                cache_creation_input_tokens: 30,
            }
        );
        assert!(Usage::in_event(&json!({"type": "content_block_delta", "usage": {}})).is_none());
    }

    #[test]
    fn a_json_answer_gives_its_usage_and_one_without_gives_none() {
        let answer =
            br#"{"type":"message","content":[],"usage":{"input_tokens":5,"output_tokens":7}}"#;
        assert_eq!(
            Usage::of_json_answer(answer),
            Some(Usage {
                input_tokens: 5,
                output_tokens: 7,
                ..Usage::default()
            })
        );
        assert_eq!(Usage::of_json_answer(br#"{"type":"error"}"#), None);
        assert_eq!(Usage::of_json_answer(b"not json"), None);
    }
}
