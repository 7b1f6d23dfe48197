//! Resource names in the formats Claude Code reads (`tests/fixtures/names/`): `aws … --output
//! json` for the services the names family covers, Terraform and a `terraform plan`, a
//! CloudFormation template, `kubectl` on EKS, `~/.aws/config`. Every labelled name is masked;
//! every distinctive one at every mention, so none of its bytes reach the upstream; the text
//! comes back byte for byte; the words around the names stay readable. The same holds for the
//! fixture as a tool result inside a request body.

use maskgate::mask::{mask_json, mask_text, Engine};
use maskgate::restore::{Escaping, Restorer};

struct Fixture {
    file: &'static str,
    /// Masked wherever they stand: no mention is left in the masked text.
    everywhere: &'static [&'static str],
    /// Left as they are.
    kept: &'static [&'static str],
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "aws-cli-session.txt",
        everywhere: &[
            "billing-export",
            "billing-export-role-k2j4h5",
            "payments-prod",
            "payments-aurora",
            "LedgerDeployer",
            "jane.doe@acme-payments.example",
            "payments-eks",
            "checkout-ecs",
            "checkout-api",
            "ledger-network",
            "LedgerEntries",
            "ledger-events.fifo",
            "ledger-alerts",
            "/aws/lambda/billing-export",
            "alias/ledger-data",
            "ledger/api",
            "prod/ledger/db",
            "ops-bastion-2024",
            "ledger-bastion",
            "acme-payments-prod",
        ],
        kept: &[
            "alias/aws/s3",
            "\"python3.12\"",
            "\"app.handler\"",
            "aurora-postgresql",
            "eu-west-1b",
            "\"Value\": \"payments\"",
            "UPDATE_COMPLETE",
            "FARGATE",
            "Nightly export of the ledger",
        ],
    },
    Fixture {
        file: "main.tf",
        everywhere: &[
            "billing-export",
            "billing-export-fn",
            "billing-export-exec",
            "LedgerEntries",
            "payments-prod",
            "ledger-events.fifo",
            "LedgerDeployer",
            "acme-ledger-archive",
        ],
        kept: &[
            "\"python3.12\"",
            "\"app.handler\"",
            "PAY_PER_REQUEST",
            "region = \"eu-west-1\"",
            "hashicorp/aws",
            "name = \"pk\"",
            "\"payments\"",
            "lambda.amazonaws.com",
        ],
    },
    Fixture {
        file: "terraform-plan.txt",
        everywhere: &[
            "/aws/lambda/billing-export",
            "billing-export-logs",
            "checkout-api",
            "checkout-api-v2",
            "alias/ledger-data",
        ],
        kept: &[
            "(known after apply)",
            "retention_in_days = 30",
            "Plan: 2 to add",
        ],
    },
    Fixture {
        file: "cloudformation.yaml",
        everywhere: &[
            "ledger-entries-v2",
            "ledger-dlq",
            "ledger-export",
            "ledger-export-exec",
            "/aws/lambda/ledger-export",
        ],
        kept: &[
            "!Sub",
            "PAY_PER_REQUEST",
            "lambda.amazonaws.com",
            "sts:AssumeRole",
            "Default: prod",
        ],
    },
    Fixture {
        file: "kubectl-eks.yaml",
        everywhere: &[
            "payments-eks",
            "payments-eks-ledger-writer",
            "123456789012",
            "A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6.gr7.eu-west-1.eks.amazonaws.com",
        ],
        kept: &[
            "DATA+OMITTED",
            "client.authentication.k8s.io/v1beta1",
            "name: ledger-writer",
            "namespace: payments",
        ],
    },
    Fixture {
        file: "aws-config",
        everywhere: &[
            "123456789012",
            "PaymentsAdministrator",
            "LedgerDeployer",
            "ledger-ci-session",
            "acme-payments.awsapps.com",
        ],
        kept: &["region = eu-west-1", "sso:account:access", "[default]"],
    },
];

fn read(file: &str) -> String {
    let path = format!("{}/tests/fixtures/names/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn check(file: &str, text: &str, masked: &str, fixture: &Fixture) {
    for name in fixture.everywhere {
        assert!(
            !masked.contains(name),
            "{file}: {name:?} reached the masked text:\n{masked}"
        );
    }
    for kept in fixture.kept {
        assert!(
            masked.contains(kept),
            "{file}: {kept:?} should have been left alone:\n{masked}"
        );
    }
    assert_ne!(masked, text, "{file}: nothing masked");
}

#[test]
fn every_labelled_name_is_masked_at_every_mention_and_restored() {
    let engine = Engine::with_all_builtins();
    for fixture in FIXTURES {
        let text = read(fixture.file);
        let masked = mask_text(&engine, &text);
        check(fixture.file, &text, &masked.output, fixture);
        let restorer = Restorer::new(&masked.table);
        assert_eq!(
            restorer.restore(&masked.output, Escaping::Raw),
            text,
            "{}",
            fixture.file
        );
    }
}

#[test]
fn names_in_a_tool_result_are_masked_the_same_way() {
    let engine = Engine::with_all_builtins();
    for fixture in FIXTURES {
        let text = read(fixture.file);
        let body = serde_json::json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "messages": [
                {"role": "user", "content": "why does the export fail?"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "cat it"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": text}
                ]}
            ]
        });
        let body = serde_json::to_vec(&body).expect("json");
        let (masked, _) = mask_json(&engine, &body).expect("valid body");
        let sent: serde_json::Value = serde_json::from_slice(&masked.output).expect("still JSON");
        let sent_text = sent["messages"][2]["content"][0]["content"]
            .as_str()
            .expect("a string");
        check(fixture.file, &text, sent_text, fixture);
        let restorer = Restorer::new(&masked.table);
        assert_eq!(
            restorer.restore(sent_text, Escaping::Raw),
            text,
            "{}",
            fixture.file
        );
    }
}

/// A distinctive name found once is masked in the user's own sentence too, before or after
/// the tool output that revealed it, with the same token; a common-word name is not.
#[test]
fn a_distinctive_name_spreads_to_prose_and_a_common_word_does_not() {
    let engine = Engine::with_all_builtins();
    let text = "why does billing-export fail? the admin said so.\n\
                {\"FunctionName\": \"billing-export\", \"RoleName\": \"admin\"}\n\
                rerun billing-export as admin";
    let masked = mask_text(&engine, text);
    assert_eq!(
        masked.output,
        "why does LAMBDA_FUNCTION_001 fail? the admin said so.\n\
         {\"FunctionName\": \"LAMBDA_FUNCTION_001\", \"RoleName\": \"IAM_ROLE_001\"}\n\
         rerun LAMBDA_FUNCTION_001 as admin"
    );
}

/// Each name category is switched off on its own, like every other kind.
#[test]
fn a_name_category_switched_off_is_left_alone() {
    let engine = Engine::new(|id| id != "lambda_function_name", &[]).expect("engine");
    let masked = mask_text(
        &engine,
        "aws lambda invoke --function-name billing-export --role-name ci-deployer",
    );
    assert_eq!(
        masked.output,
        "aws lambda invoke --function-name billing-export --role-name IAM_ROLE_001"
    );
}

/// The user's own AWS configuration is read by the running proxy: its profiles, role and
/// account are masked wherever they stand, whatever their shape — and a profile added to the
/// file while the proxy runs is masked from the next request on, with no restart.
#[tokio::test(flavor = "multi_thread")]
async fn values_from_the_aws_configuration_are_masked_and_re_read_when_it_changes() {
    use crate::support::{messages_request, post_messages, spawn_headless, upstream};

    let aws = tempfile::tempdir().expect("aws dir");
    let config = aws.path().join("config");
    let credentials = aws.path().join("credentials");
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-1\n\n[profile ledger-ci]\nrole_arn = arn:aws:iam::123456789012:role/ci/LedgerDeployer\nsso_account_id = 210987654321\n",
    )
    .expect("config");
    std::fs::write(
        &credentials,
        "[ledger-ci]\naws_access_key_id = KEYIDOFANODDSHAPE\naws_secret_access_key = not-forty-but-secret\n",
    )
    .expect("credentials");
    let upstream = upstream::start().await;
    let config_path = config.display().to_string();
    let credentials_path = credentials.display().to_string();
    let maskgate = spawn_headless(
        &["--upstream", &upstream.url()],
        &[
            ("AWS_CONFIG_FILE", &config_path),
            ("AWS_SHARED_CREDENTIALS_FILE", &credentials_path),
        ],
    );
    let send = |text: &'static str| {
        let url = maskgate.url();
        async move {
            let answer = post_messages(&url, &messages_request(text, false)).await;
            assert_eq!(answer.status(), 200);
        }
    };
    send("use ledger-ci (bills 210987654321) with KEYIDOFANODDSHAPE and not-forty-but-secret in eu-west-1").await;
    let body = upstream.recorder.last_messages_body();
    for original in [
        "ledger-ci",
        "210987654321",
        "KEYIDOFANODDSHAPE",
        "not-forty-but-secret",
    ] {
        assert!(
            !body.contains(original),
            "{original} reached the upstream: {body}"
        );
    }
    assert!(body.contains("in eu-west-1"), "regions stay: {body}");

    // A new profile, written while the proxy runs.
    std::fs::write(
        &config,
        "[default]\nregion = eu-west-1\n\n[profile ledger-ci]\nsso_account_id = 210987654321\n\n[profile orchard-staging]\nregion = eu-west-1\n",
    )
    .expect("config rewritten");
    crate::support::webdriver::eventually("the new profile to be masked", || async {
        send("switch to orchard-staging").await;
        !upstream
            .recorder
            .last_messages_body()
            .contains("orchard-staging")
    })
    .await;
}
