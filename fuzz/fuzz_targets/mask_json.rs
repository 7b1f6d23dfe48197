//! Any bytes as a request body: masking never panics, refuses what is not JSON, and what it
//! returns is still JSON whose strings are the input's with identifiers replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskgate::mask::{mask_json, Engine};
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::with_all_builtins);

/// Whether serde_json reads `bytes` as one JSON value, nesting limit included, but without
/// its range check on numbers: a `Value` refuses numbers beyond `f64`, which are valid JSON
/// and which the walk passes on untouched.
fn is_json(bytes: &[u8]) -> bool {
    // Reading an ignored value, serde_json checks neither numbers' range nor its strings'
    // UTF-8: the text is checked first (a request body must be UTF-8 either way).
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => true,
        Err(e) => {
            e.to_string().starts_with("number out of range")
                && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
        }
    }
}

fuzz_target!(|body: &[u8]| {
    let parsed = is_json(body);
    match mask_json(&ENGINE, body) {
        Ok((masked, _)) => {
            assert!(parsed, "accepted a body serde_json refuses");
            assert!(is_json(&masked.output), "masking keeps the body JSON");
            for entry in masked.table.entries() {
                assert!(!entry.token.is_empty());
            }
        }
        // Refusing what serde_json accepts would refuse a valid request.
        Err(_) => assert!(!parsed, "refused a body serde_json accepts"),
    }
});
