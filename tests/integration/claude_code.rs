//! The real Claude Code CLI (from npm, pinned in tests/clients/package.json) through the real
//! `maskgate --headless` binary to the Anthropic stand-in. Claude Code is asked about a list
//! of AWS identifiers; the stand-in — seeing only tokens — answers with a Bash tool call that
//! echoes them; Claude Code must run it with the real identifiers, send the output back
//! (masked again on the way up) and print the restored final answer.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{assert_no_original_in, planted_text, spawn_headless, upstream, PLANTED};

/// The CLI that `npm ci` in tests/clients installs. Missing is a failure, not a skip.
pub fn claude_binary() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node_modules/.bin/claude");
    assert!(path.exists(), "Claude Code is not installed: run `npm ci --prefix tests/clients` (the README's test command does)");
    path
}

/// Runs `claude -p <prompt>` against `base_url` in a fresh HOME and working directory;
/// returns the stream-json lines it printed.
pub fn run_claude(base_url: &str, prompt: &str, extra_env: &[(&str, &str)]) -> Vec<Value> {
    let work = tempfile::tempdir().expect("work dir");
    run_claude_in(work.path(), base_url, prompt, extra_env)
}

/// [`run_claude`] in the working directory `work`, which the test has prepared.
pub fn run_claude_in(
    work: &std::path::Path,
    base_url: &str,
    prompt: &str,
    extra_env: &[(&str, &str)],
) -> Vec<Value> {
    let mut command = Command::new(claude_binary());
    command.env("ANTHROPIC_BASE_URL", base_url);
    run_claude_with(command, work, prompt, extra_env)
}

/// `claude -p <prompt>` as the last arguments of `command` (Claude Code itself, or a
/// launcher such as `maskgate run --`), in a fresh HOME and a clean environment.
pub fn run_claude_with(
    mut command: Command,
    work: &std::path::Path,
    prompt: &str,
    extra_env: &[(&str, &str)],
) -> Vec<Value> {
    let home = tempfile::tempdir().expect("home");
    let base_url = command
        .get_envs()
        .find(|(k, _)| *k == "ANTHROPIC_BASE_URL")
        .and_then(|(_, v)| v.map(|v| v.to_owned()));
    command.env_clear();
    if let Some(base_url) = base_url {
        command.env("ANTHROPIC_BASE_URL", base_url);
    }
    if command.get_program() != claude_binary().as_os_str() {
        command.arg(claude_binary());
    }
    let mut child = command
        .args([
            "-p",
            prompt,
            "--allowedTools",
            "Bash",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .current_dir(work)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "1")
        .envs(extra_env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("claude starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("claude output");
            panic!(
                "claude did not finish within 180 s; it printed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("claude output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!(
        "[claude stderr] {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `tool_result` texts Claude Code produced, and its final `result` line.
pub fn tool_results_and_result(lines: &[Value]) -> (Vec<String>, Value) {
    let tool_results = lines
        .iter()
        .filter(|l| l["type"] == "user")
        .flat_map(|l| {
            l["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|b| b["type"] == "tool_result")
        .map(|b| b["content"].to_string())
        .collect();
    let result = lines
        .iter()
        .rev()
        .find(|l| l["type"] == "result")
        .cloned()
        .unwrap_or(Value::Null);
    (tool_results, result)
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_runs_the_tool_on_real_identifiers_while_upstream_sees_only_tokens() {
    let upstream = upstream::start().await;
    let maskgate = spawn_headless(&["--upstream", &upstream.url()], &[]);
    let prompt = format!("RUN_TOOL: check these resources: {}", planted_text());
    let base_url = maskgate.url();
    let lines = tokio::task::spawn_blocking(move || run_claude(&base_url, &prompt, &[]))
        .await
        .expect("claude ran");

    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(
        tool_results.len(),
        1,
        "one Bash call expected; got {lines:#?}"
    );
    for (original, _) in PLANTED {
        assert!(
            tool_results[0].contains(original),
            "the command ran without {original}: {}",
            tool_results[0]
        );
    }
    assert_eq!(result["is_error"], false, "{result}");
    let final_text = result["result"].as_str().expect("result text");
    assert!(
        final_text.starts_with("Done. The command printed: "),
        "{final_text}"
    );
    for (original, _) in PLANTED {
        assert!(
            final_text.contains(original),
            "{original} not restored in the final answer: {final_text}"
        );
    }

    // Upstream: two model turns, only tokens, and the tool output masked again.
    let turns = upstream.recorder.messages_requests();
    assert!(
        turns.len() >= 2,
        "expected the tool loop's two turns, got {}",
        turns.len()
    );
    assert_no_original_in(&upstream.recorder.everything());
    // Claude Code's own system prompt and ~24 tool definitions hold no identifier: nothing in
    // them may have been masked (a false positive there would break every session's cache).
    let first: Value = serde_json::from_slice(&turns[0].body).expect("JSON body");
    for section in ["tools", "system"] {
        let masked = upstream::tokens_in(&first[section].to_string());
        assert!(
            masked.is_empty(),
            "false positives in Claude Code's {section}: {masked:?}"
        );
    }
    let second = String::from_utf8_lossy(&turns.last().expect("second turn").body).into_owned();
    assert!(
        second.contains("tool_result") && second.contains("EC2_INSTANCE_001"),
        "tool output should come back masked"
    );
}

/// Resource names have no shape: a tool's output names a Lambda function and an RDS instance
/// by their labels, the model (seeing only tokens) calls the next tool with those tokens, and
/// Claude Code must run that command with the real names while no name reaches the upstream.
#[tokio::test(flavor = "multi_thread")]
async fn a_tool_call_names_resources_by_token_and_runs_with_the_real_names() {
    let upstream = upstream::start().await;
    let maskgate = spawn_headless(&["--upstream", &upstream.url()], &[]);
    let work = tempfile::tempdir().expect("work dir");
    let names = ["billing-export", "payments-prod"];
    std::fs::write(
        work.path().join("inventory.json"),
        format!(
            "{{\"Functions\": [{{\"FunctionName\": \"{}\"}}], \"DBInstances\": [{{\"DBInstanceIdentifier\": \"{}\"}}]}}\n",
            names[0], names[1]
        ),
    )
    .expect("inventory written");
    let base_url = maskgate.url();
    let work_path = work.path().to_owned();
    let lines = tokio::task::spawn_blocking(move || {
        run_claude_in(&work_path, &base_url, "RUN_INVENTORY: what do I run?", &[])
    })
    .await
    .expect("claude ran");

    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(
        tool_results.len(),
        2,
        "two Bash calls expected; got {lines:#?}"
    );
    // The second command was written with tokens and ran with the real names.
    for name in names {
        assert!(
            tool_results[1].contains(&format!(" {name}")) && tool_results[1].contains("invoke"),
            "the command ran without {name}: {}",
            tool_results[1]
        );
    }
    assert_eq!(result["is_error"], false, "{result}");
    let final_text = result["result"].as_str().expect("result text");
    assert!(
        final_text.contains(names[0]) && final_text.contains(names[1]),
        "{final_text}"
    );

    let seen = upstream.recorder.everything();
    for name in names {
        assert!(!seen.contains(name), "{name} reached the upstream");
    }
    let turns = upstream.recorder.messages_requests();
    let second = String::from_utf8_lossy(&turns[1].body).into_owned();
    assert!(
        second.contains("LAMBDA_FUNCTION_001") && second.contains("RDS_INSTANCE_001"),
        "the inventory should reach the model as tokens: {second}"
    );
}

/// `maskgate run -- claude -p …` with no maskgate serving yet: the launcher serves for the
/// session, Claude Code goes through it (no ANTHROPIC_BASE_URL of its own), and the tool
/// loop runs on the real identifiers while the upstream sees only tokens.
#[tokio::test(flavor = "multi_thread")]
async fn maskgate_run_routes_claude_code_through_a_proxy_of_its_own() {
    let upstream = upstream::start().await;
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(config.path().join("config.toml"), "").expect("config");
    let listen = format!("127.0.0.1:{}", crate::support::free_port());
    let mut launcher = Command::new(env!("CARGO_BIN_EXE_maskgate"));
    launcher
        .args([
            "--listen",
            &listen,
            "--upstream",
            &upstream.url(),
            "--config",
        ])
        .arg(config.path().join("config.toml"))
        .args(["run", "--"]);
    let prompt = format!("RUN_TOOL: check these resources: {}", planted_text());
    let lines = tokio::task::spawn_blocking(move || {
        let work = tempfile::tempdir().expect("work dir");
        run_claude_with(launcher, work.path(), &prompt, &[])
    })
    .await
    .expect("claude ran");
    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(
        tool_results.len(),
        1,
        "one Bash call expected; got {lines:#?}"
    );
    for (original, _) in PLANTED {
        assert!(tool_results[0].contains(original), "{}", tool_results[0]);
    }
    assert_eq!(result["is_error"], false, "{result}");
    assert!(upstream.recorder.messages_requests().len() >= 2);
    assert_no_original_in(&upstream.recorder.everything());
}
