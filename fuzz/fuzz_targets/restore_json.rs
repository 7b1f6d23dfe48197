//! Any bytes as a complete answer: restoring never panics, and what it returns is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskgate::mask::TokenTable;
use maskgate::restore::{restore_json_body, Restorer};
use std::sync::LazyLock;

static RESTORER: LazyLock<Restorer> = LazyLock::new(|| {
    let mut table = TokenTable::default();
    table.token_for("EC2_INSTANCE", "ec2_instance", "i-0123456789abcdef0");
    table.token_for("ARN", "arn", "arn:aws:iam::123456789012:role/\"x\"");
    Restorer::new(&table)
});

fuzz_target!(|body: &[u8]| {
    if let Some(restored) = restore_json_body(&RESTORER, body) {
        serde_json::from_slice::<serde_json::Value>(&restored).expect("restored JSON is JSON");
    }
});
