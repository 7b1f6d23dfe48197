//! The official SDKs through the proxy: Python `anthropic` (pip) and `@anthropic-ai/sdk`
//! (npm, in tests/clients). Each sends a plain and a streamed message with planted
//! identifiers and must get the originals back, while the upstream sees only tokens.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{
    assert_no_original_in, planted_text, settings_for, start_proxy, upstream, PLANTED,
};
use maskgate::settings::Secrets;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn run_client(program: &str, script: &str, base_url: String, prompt: String) -> Value {
    let output = Command::new(program)
        .arg(clients_dir().join(script))
        .args([base_url, prompt])
        .current_dir(clients_dir())
        .output()
        .unwrap_or_else(|e| panic!("{program} {script} could not start: {e}"));
    assert!(
        output.status.success(),
        "{script} failed (install the clients with the README's test command): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

async fn check_sdk(program: &str, script: &'static str) -> Value {
    let program = program.to_owned();
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let prompt = format!("Which of these matter? {}", planted_text());
    let url = proxy.url();
    let result = tokio::task::spawn_blocking(move || run_client(&program, script, url, prompt))
        .await
        .expect("client ran");
    let expected: Vec<&str> = PLANTED.iter().map(|(o, _)| *o).collect();
    let expected = format!("Found: {}.", expected.join(", "));
    assert_eq!(result["plain"], expected.as_str());
    assert_eq!(result["streamed"], expected.as_str());
    assert_no_original_in(&upstream.recorder.everything());
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_gets_originals_back_plain_and_streamed() {
    // The venv that scripts/test.sh makes, holding the pinned SDK.
    let python = clients_dir().join(".venv/bin/python3");
    let result = check_sdk(python.to_str().expect("utf8 path"), "python_sdk.py").await;
    assert!(result["input_tokens"].as_u64().expect("count") > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_gets_originals_back_plain_and_streamed() {
    check_sdk("node", "ts_sdk.mjs").await;
}
