//! "Learn from my AWS account": read-only listing calls through the user's own `aws` CLI —
//! their credentials, region and endpoint settings — whose names become known values for
//! this session: masked wherever they appear, whatever their shape, as their category. What
//! is learned is kept in memory only, never written to a file; the pages show counts per
//! category, never the names.

use std::collections::BTreeMap;
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::mask::catalog::names::is_distinctive;
use crate::mask::KnownValue;

/// One listing call: `aws SERVICE OPERATION --query QUERY`, and the category of what it
/// lists.
struct Listing {
    call: [&'static str; 2],
    query: &'static str,
    kind: &'static str,
    /// Listings that give ARNs or URLs: the name is their last `/` or `:` segment.
    last_segment: bool,
}

const fn listing(call: [&'static str; 2], query: &'static str, kind: &'static str) -> Listing {
    Listing {
        call,
        query,
        kind,
        last_segment: false,
    }
}

const fn segments(call: [&'static str; 2], query: &'static str, kind: &'static str) -> Listing {
    Listing {
        call,
        query,
        kind,
        last_segment: true,
    }
}

/// Every call is read-only (`list-*`, `describe-*`, `get-caller-identity`).
const LISTINGS: &[Listing] = &[
    listing(["sts", "get-caller-identity"], "Account", "account_id"),
    listing(
        ["iam", "list-account-aliases"],
        "AccountAliases",
        "account_alias",
    ),
    listing(["s3api", "list-buckets"], "Buckets[].Name", "s3_bucket"),
    listing(
        ["lambda", "list-functions"],
        "Functions[].FunctionName",
        "lambda_function_name",
    ),
    listing(
        ["rds", "describe-db-instances"],
        "DBInstances[].DBInstanceIdentifier",
        "rds_name",
    ),
    listing(
        ["rds", "describe-db-clusters"],
        "DBClusters[].DBClusterIdentifier",
        "rds_name",
    ),
    listing(["eks", "list-clusters"], "clusters", "cluster_name"),
    segments(["ecs", "list-clusters"], "clusterArns", "cluster_name"),
    listing(["dynamodb", "list-tables"], "TableNames", "dynamodb_table"),
    segments(["sqs", "list-queues"], "QueueUrls", "sqs_queue"),
    segments(["sns", "list-topics"], "Topics[].TopicArn", "sns_topic"),
    listing(["iam", "list-roles"], "Roles[].RoleName", "iam_role_name"),
    listing(["iam", "list-users"], "Users[].UserName", "iam_user_name"),
    listing(
        ["cloudformation", "list-stacks"],
        "StackSummaries[].StackName",
        "cloudformation_stack",
    ),
    listing(
        ["logs", "describe-log-groups"],
        "logGroups[].logGroupName",
        "log_group",
    ),
    listing(
        ["secretsmanager", "list-secrets"],
        "SecretList[].Name",
        "secret_name",
    ),
    listing(
        ["ecr", "describe-repositories"],
        "repositories[].repositoryName",
        "ecr_repository",
    ),
    listing(
        ["ec2", "describe-key-pairs"],
        "KeyPairs[].KeyName",
        "key_pair",
    ),
];

/// What one learning run found, as the pages and `maskgate learn` show it.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct LearnReport {
    /// Names learned, per category.
    pub learned: BTreeMap<String, usize>,
    /// The calls that failed (no permission, a service not enabled), with the CLI's reason.
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    #[error("cannot run the aws CLI ({0}); install it, or learn nothing")]
    NoCli(String),
    #[error("the aws CLI answered none of the listing calls; the first said: {0}")]
    NothingAnswered(String),
}

/// Runs every listing call (in parallel: each is a CLI start-up) with `profile` when given.
pub fn learn(profile: Option<&str>) -> Result<(Vec<KnownValue>, LearnReport), LearnError> {
    let answers: Vec<Result<Value, String>> = std::thread::scope(|scope| {
        let calls: Vec<_> = LISTINGS
            .iter()
            .map(|listing| scope.spawn(move || call(listing, profile)))
            .collect();
        calls
            .into_iter()
            .map(|c| {
                c.join()
                    .unwrap_or_else(|_| Err("the call panicked".to_owned()))
            })
            .collect()
    });
    let mut values: Vec<KnownValue> = Vec::new();
    let mut report = LearnReport::default();
    for (listing, answer) in LISTINGS.iter().zip(answers) {
        let answer = match answer {
            Ok(answer) => answer,
            Err(reason) if reason.starts_with(NO_CLI) => return Err(LearnError::NoCli(reason)),
            Err(reason) => {
                report.failed.push(format!(
                    "aws {} {}: {reason}",
                    listing.call[0], listing.call[1]
                ));
                continue;
            }
        };
        for name in strings(&answer) {
            let name = if listing.last_segment {
                name.rsplit(['/', ':']).next().unwrap_or(name)
            } else {
                name
            };
            if is_learnable(name, listing.kind) && !values.iter().any(|v| v.value == name) {
                values.push(KnownValue {
                    value: name.to_owned(),
                    kind: listing.kind,
                });
                *report.learned.entry(listing.kind.to_owned()).or_default() += 1;
            }
        }
    }
    if report.failed.len() == LISTINGS.len() {
        return Err(LearnError::NothingAnswered(report.failed.swap_remove(0)));
    }
    Ok((values, report))
}

const NO_CLI: &str = "no aws CLI: ";

/// One call's JSON answer, or the first line of its error.
fn call(listing: &Listing, profile: Option<&str>) -> Result<Value, String> {
    let mut command = Command::new("aws");
    command
        .args(listing.call)
        .args(["--output", "json", "--query", listing.query])
        .env("AWS_PAGER", "");
    if let Some(profile) = profile {
        command.args(["--profile", profile]);
    }
    let output = command.output().map_err(|e| format!("{NO_CLI}{e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Err(reason.map_or("failed without a message".to_owned(), error_code));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("not JSON: {e}"))
}

/// The CLI's error without its details: AWS's messages go on to name the caller
/// (`User: arn:aws:iam::123456789012:user/jane is not authorized …`) or an endpoint, and a
/// report that promises counts only must not carry them.
fn error_code(line: &str) -> String {
    line.split_once(" operation:")
        .map(|(head, _)| format!("{head} operation"))
        .or_else(|| line.split_once(": ").map(|(head, _)| head.to_owned()))
        .unwrap_or_else(|| line.to_owned())
}

/// Every string in a `--query` answer (a string, a list, a list of lists; `null` is none).
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Names AWS gives every account (service-linked roles) teach nothing; a name that is an
/// everyday word would mask that word everywhere.
fn is_learnable(name: &str, kind: &str) -> bool {
    let long_enough = name.len() >= crate::mask::lists::LITERAL_AT_LEAST && name.is_ascii();
    let aws_own = name.starts_with("AWSServiceRoleFor") || name.starts_with("aws-service-role");
    let numbered = kind == "account_id";
    long_enough && !aws_own && (numbered || is_distinctive(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_every_shape_give_their_strings() {
        let answer = serde_json::json!([["a-1", "b-2"], "c-3", null]);
        assert_eq!(strings(&answer), ["a-1", "b-2", "c-3"]);
        assert!(strings(&Value::Null).is_empty());
    }

    #[test]
    fn a_failed_calls_reason_names_no_caller_and_no_endpoint() {
        assert_eq!(
            error_code("An error occurred (AccessDenied) when calling the ListRoles operation: User: arn:aws:iam::123456789012:user/jane is not authorized"),
            "An error occurred (AccessDenied) when calling the ListRoles operation"
        );
        assert_eq!(
            error_code("Could not connect to the endpoint URL: \"https://queue.amazonaws.com/\""),
            "Could not connect to the endpoint URL"
        );
    }

    #[test]
    fn aws_own_names_and_everyday_words_are_not_learned() {
        assert!(is_learnable("billing-export", "lambda_function_name"));
        assert!(is_learnable("123456789012", "account_id"));
        assert!(!is_learnable("AWSServiceRoleForECS", "iam_role_name"));
        assert!(!is_learnable("default", "cluster_name"));
        assert!(!is_learnable("db", "rds_name"));
    }
}
