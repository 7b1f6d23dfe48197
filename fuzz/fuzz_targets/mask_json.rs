//! Any bytes as a request body: masking never panics, refuses what is not JSON, and what it
//! returns is still JSON whose strings are the input's with identifiers replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskgate::mask::{mask_json, Engine};
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::with_all_builtins);

fuzz_target!(|body: &[u8]| {
    let parsed = serde_json::from_slice::<serde_json::Value>(body);
    match mask_json(&ENGINE, body) {
        Ok((masked, _)) => {
            assert!(parsed.is_ok(), "accepted a body serde_json refuses");
            serde_json::from_slice::<serde_json::Value>(&masked.output)
                .expect("masking keeps the body JSON");
            for entry in masked.table.entries() {
                assert!(!entry.token.is_empty());
            }
        }
        // serde_json also refuses numbers beyond f64 that the walk accepts; the reverse
        // (refusing what serde_json accepts) would refuse a valid request.
        Err(_) => assert!(parsed.is_err(), "refused a body serde_json accepts"),
    }
});
