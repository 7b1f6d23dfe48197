//! Structure-aware: a Claude-Code-shaped body built from the fuzzer's strings, with an
//! identifier of each kind planted in a user message, tool input and tool result. None may
//! reach the output, and restoring the output gives the body back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use maskgate::mask::{mask_json, Engine};
use maskgate::restore::{Escaping, Restorer};
use serde_json::json;
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(Engine::with_all_builtins);

const PLANTED: &[&str] = &[
    "i-0a1b2c3d4e5f67890",
    "arn:aws:iam::123456789012:role/Deploy",
    "AKIAIOSFODNN7EXAMPLE",
    "10.20.30.40",
    "vpc-0e9801d1290a1b2c3",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let (a, b, c, d) = (next(), next(), next(), next());
    let planted = PLANTED[data.len() % PLANTED.len()];
    // The fuzzer's text stands next to the identifier, never glued to it.
    let body = json!({
        "model": "claude-test",
        "tools": [{"name": a, "description": b, "input_schema": {"type": "object", "properties": {c.clone(): {"type": d}}}}],
        "system": [{"type": "text", "text": format!("{a}\n")}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": format!("{b} {planted} {c}")}]},
            {"role": "assistant", "content": [
                // Signed: passed byte for byte, so the restore below would not give it back if
                // it held token-shaped text; the walk's thinking rules have their own tests.
                {"type": "thinking", "thinking": "considering it", "signature": "c2ln"},
                {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": format!("aws ec2 x {planted}"), b.clone(): c}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": format!("{d}\n{planted}\n")}]}
        ]
    })
    .to_string();
    let (masked, _) = mask_json(&ENGINE, body.as_bytes()).expect("serde_json wrote it");
    let output = String::from_utf8(masked.output).expect("UTF-8 in, UTF-8 out");
    // Where the fuzzer's own text holds it, it may rightly stay (glued into a longer word);
    // where it stands only as planted, it must not.
    // Looked for in the decoded strings: in the JSON text an escape's digits can run into
    // the text after it (`\u0011` + `0.20.30.40`) and spell a look-alike that no one reads.
    let fuzzed = [&a, &b, &c, &d].iter().any(|part| part.contains(planted));
    if !fuzzed {
        let sent: serde_json::Value = serde_json::from_str(&output).expect("still JSON");
        let mut strings = Vec::new();
        collect_strings(&sent, &mut strings);
        assert!(
            !strings.iter().any(|s| s.contains(planted)),
            "{planted} leaked: {output}"
        );
    }
    let restorer = Restorer::new(&masked.table);
    assert_eq!(restorer.restore(&output, Escaping::JsonString), body);
});

/// Every key and string value of `value`, decoded.
fn collect_strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(members) => {
            for (key, v) in members {
                out.push(key);
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}
