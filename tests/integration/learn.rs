//! "Learn from my AWS account" with the real `aws` CLI (awscli from PyPI) against moto in
//! server mode on loopback, holding resources this test creates: `maskgate learn` asks the
//! running proxy, which lists them with the CLI, keeps the names in memory only, and masks
//! them from the next request on wherever they appear, unlabelled prose included.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, messages_request, post_messages, spawn_headless, upstream};

fn venv_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/.venv/bin")
}

/// moto in server mode, stopped when dropped.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(port: u16) -> Moto {
    let server = venv_bin().join("moto_server");
    assert!(
        server.exists(),
        "moto is not installed: the README's test command installs it"
    );
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto(child)
}

/// The environment every `aws` call here runs in: moto's endpoint, fake credentials, and the
/// venv's `aws` first on the PATH.
fn aws_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials".to_owned(),
        ),
        (
            "PATH",
            format!(
                "{}:{}",
                venv_bin().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
    ]
}

fn aws(env: &[(&'static str, String)], args: &[&str]) {
    let output = Command::new(venv_bin().join("aws"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("aws runs");
    assert!(
        output.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn maskgate_learn_masks_the_names_of_the_accounts_resources() {
    let port = free_port();
    let _moto = start_moto(port);
    let env = aws_env(port);
    let names = [
        "acme-ledger-archive",
        "ledger-entries-v3",
        "/ledger/writer-v2",
        "ledger-writer-role",
        "ledger-alerts-topic",
        "ops-bastion-key-7",
    ];
    aws(&env, &["s3api", "create-bucket", "--bucket", names[0]]);
    aws(
        &env,
        &[
            "dynamodb",
            "create-table",
            "--table-name",
            names[1],
            "--attribute-definitions",
            "AttributeName=pk,AttributeType=S",
            "--key-schema",
            "AttributeName=pk,KeyType=HASH",
            "--billing-mode",
            "PAY_PER_REQUEST",
        ],
    );
    aws(
        &env,
        &["logs", "create-log-group", "--log-group-name", names[2]],
    );
    aws(
        &env,
        &[
            "iam",
            "create-role",
            "--role-name",
            names[3],
            "--assume-role-policy-document",
            r#"{"Version":"2012-10-17","Statement":[]}"#,
        ],
    );
    aws(&env, &["sns", "create-topic", "--name", names[4]]);
    aws(&env, &["ec2", "create-key-pair", "--key-name", names[5]]);

    let upstream = upstream::start().await;
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let maskgate = spawn_headless(&["--upstream", &upstream.url()], &env_refs);
    let config = tempfile::tempdir().expect("config dir");
    let learned = Command::new(env!("CARGO_BIN_EXE_maskgate"))
        .args(["--config"])
        .arg(config.path().join("config.toml"))
        .args(["--listen", &maskgate.address.to_string(), "learn"])
        .output()
        .expect("maskgate learn runs");
    let printed = String::from_utf8_lossy(&learned.stdout);
    assert!(
        learned.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&learned.stderr)
    );
    for kind in [
        "s3_bucket: 1",
        "dynamodb_table: 1",
        "log_group: 1",
        "iam_role_name: 1",
        "sns_topic: 1",
        "key_pair: 1",
    ] {
        assert!(printed.contains(kind), "{kind} missing from:\n{printed}");
    }
    // awscli 1.x sends SQS to its legacy host whatever AWS_ENDPOINT_URL says: a call that
    // fails is reported, and the others still teach.
    assert!(
        printed.contains("not listed: aws sqs list-queues"),
        "{printed}"
    );
    for name in names {
        assert!(!printed.contains(name), "learn printed a name: {printed}");
    }

    let prompt = format!("why are {} slow today?", names.join(" and "));
    let answer = post_messages(&maskgate.url(), &messages_request(&prompt, false)).await;
    assert_eq!(answer.status(), 200);
    let answer = answer.text().await.expect("answer");
    let seen = upstream.recorder.everything();
    for name in names {
        assert!(!seen.contains(name), "{name} reached the upstream: {seen}");
        assert!(answer.contains(name), "{name} not restored: {answer}");
    }
    // Memory only: nothing was written to a settings file.
    assert!(!config.path().join("config.toml").exists());
}
