//! `maskgate run -- COMMAND` and `maskgate doctor`, as a user runs them: the real binary,
//! with and without a maskgate already serving, against the stand-in upstream.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::{free_port, spawn_headless, upstream};

/// `maskgate ARGS…` with a fresh HOME and config, on `listen`, with no proxy variables and
/// no Claude Code variables but `env`.
fn maskgate(listen: &str, upstream: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let home = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(home.join("config.toml"), "").expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_maskgate"));
    command
        .args(["--listen", listen, "--upstream", upstream, "--config"])
        .arg(home.join("config.toml"))
        .args(args)
        .env("HOME", &home)
        .env("NO_COLOR", "1")
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC")
        .env_remove("ANTHROPIC_CUSTOM_HEADERS");
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("maskgate runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_for_its_command_sets_the_variables_and_passes_the_exit_code() {
    let upstream = upstream::start().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let doctor = env!("CARGO_BIN_EXE_maskgate");
    // Nothing serves there yet: `run` serves for the command, which is `maskgate doctor`.
    let output = run(maskgate(
        &listen,
        &upstream.url(),
        &["run", "--", doctor, "--listen", &listen, "doctor"],
        &[],
    ));
    let lines = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{lines}");
    assert!(
        lines.contains(&format!("✓ ANTHROPIC_BASE_URL=http://{listen}")),
        "{lines}"
    );
    assert!(
        lines.contains("✓ CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"),
        "{lines}"
    );
    assert!(lines.contains("✓ live probe"), "{lines}");
    assert!(!lines.contains('✗'), "{lines}");
    // The health checks ask the upstream for its models; the planted probe went nowhere.
    let forwarded = upstream.recorder.all();
    assert!(
        forwarded
            .iter()
            .all(|r| r.path_and_query.starts_with("/v1/models")),
        "the probe forwarded nothing: {:?}",
        forwarded
            .iter()
            .map(|r| &r.path_and_query)
            .collect::<Vec<_>>()
    );
    // The command's own status comes back, and the user's custom headers are kept.
    let output = run(maskgate(
        &listen,
        &upstream.url(),
        &[
            "run",
            "--",
            "sh",
            "-c",
            "printf '%s' \"$ANTHROPIC_CUSTOM_HEADERS\"; exit 7",
        ],
        &[
            ("ANTHROPIC_CUSTOM_HEADERS", "X-Team: platform"),
            ("MASKGATE_LOCAL_TOKEN", "local-token-1234"),
        ],
    ));
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(
        stdout(&output),
        "X-Team: platform\nx-maskgate-token: local-token-1234"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_uses_the_maskgate_already_serving_and_passes_signals_on() {
    let upstream = upstream::start().await;
    let headless = spawn_headless(&["--upstream", &upstream.url()], &[]);
    let listen = headless.address.to_string();
    let output = run(maskgate(
        &listen,
        &upstream.url(),
        &[
            "run",
            "--",
            env!("CARGO_BIN_EXE_maskgate"),
            "--listen",
            &listen,
            "doctor",
        ],
        &[],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("maskgate is serving"),
        "it started no proxy of its own: {stderr}"
    );
    // The doctor's probe reached the serving maskgate: its metrics count the refusal.
    let metrics = crate::support::client()
        .get(format!("{}/_maskgate/metrics", headless.url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("maskgate_refusals_total{status=\"400\"} 1"),
        "{metrics}"
    );

    // SIGTERM to maskgate reaches the command, whose exit status maskgate then returns.
    let mut child = maskgate(
        &listen,
        &upstream.url(),
        &[
            "run",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; sleep 30 & wait",
        ],
        &[],
    )
    .stdout(Stdio::null())
    .spawn()
    .expect("maskgate runs");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal sent");
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_what_is_wrong_and_fails() {
    let upstream = upstream::start().await;
    let headless = spawn_headless(&["--upstream", &upstream.url()], &[]);
    let listen = headless.address.to_string();
    let good = format!("http://{listen}");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")],
            "✗ ANTHROPIC_BASE_URL is not set",
        ),
        (
            &[
                ("ANTHROPIC_BASE_URL", &good),
                ("CLAUDE_CODE_USE_BEDROCK", "1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ],
            "✗ CLAUDE_CODE_USE_BEDROCK is set",
        ),
        (
            &[
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:1"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ],
            "points elsewhere",
        ),
        (
            &[
                ("ANTHROPIC_BASE_URL", &good),
                ("HTTPS_PROXY", "http://proxy.invalid:3128"),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ],
            "✗ HTTPS_PROXY is set",
        ),
    ];
    for (env, expected) in cases {
        let output = run(maskgate(&listen, &upstream.url(), &["doctor"], env));
        let lines = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{lines}");
        assert!(lines.contains(expected), "{expected:?} in:\n{lines}");
        assert!(
            lines.contains(&format!("✓ maskgate 0.1.0 serves on {listen}")),
            "{lines}"
        );
    }
    // A wrong port: nothing serves there.
    let elsewhere = format!("127.0.0.1:{}", free_port());
    let output = run(maskgate(&elsewhere, &upstream.url(), &["doctor"], &[]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains(&format!("✗ nothing serves on {elsewhere}")));
}
