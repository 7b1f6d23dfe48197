//! Any bytes as a request body: masking never panics, refuses what is not JSON, and what it
//! returns is still JSON whose strings are the input's with identifiers replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskgate::mask::{mask_json, Engine};
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::with_all_builtins);

/// Any JSON value, read only to be checked: every string and key decoded (escapes and
/// surrogates checked), nothing kept. Unlike `serde_json::Value` it gives no key a meaning: a
/// `Value` reads an object whose key is serde_json's private raw-value marker as embedded
/// JSON text and refuses valid JSON that holds it.
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// Whether serde_json reads `bytes` as one JSON value, nesting limit included, but without
/// its range check on numbers: numbers beyond `f64` are valid JSON, and the walk passes them
/// on untouched.
fn is_json(bytes: &[u8]) -> bool {
    // Reading an ignored value, serde_json checks neither numbers' range nor its strings'
    // UTF-8: the text is checked first (a request body must be UTF-8 either way).
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    match serde_json::from_str::<Checked>(text) {
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
