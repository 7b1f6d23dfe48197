//! Known values from the user's own AWS configuration: `~/.aws/config` and
//! `~/.aws/credentials` (or `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`) and the proxy's
//! own `AWS_*` environment. Every value there that names an account, a role, a key, a profile
//! or a portal is masked wherever it appears in a request, whatever its shape, as the
//! category it belongs to. Regions and output formats are not identifiers and are left out;
//! a profile or role called by a common word (`default`) is masked only where labelled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::mask::catalog::names::is_distinctive;
use crate::mask::KnownValue;

/// The values found, and how many came from each source (the UI shows counts, never values).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KnownValues {
    pub values: Vec<KnownValue>,
    pub per_source: BTreeMap<String, usize>,
}

/// Where the two files are, as the AWS CLI looks for them.
fn paths(env: &dyn Fn(&str) -> Option<String>) -> [(String, PathBuf); 2] {
    let home = directories::BaseDirs::new().map_or_else(PathBuf::new, |d| d.home_dir().to_owned());
    let file = |var: &str, name: &str| {
        env(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".aws").join(name))
    };
    [
        (
            "~/.aws/config".to_owned(),
            file("AWS_CONFIG_FILE", "config"),
        ),
        (
            "~/.aws/credentials".to_owned(),
            file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        ),
    ]
}

/// What changes when the known values may have: the files' modification times and sizes.
pub fn fingerprint(env: &dyn Fn(&str) -> Option<String>) -> Vec<Option<(SystemTime, u64)>> {
    paths(env)
        .iter()
        .map(|(_, path)| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// Reads both files (a missing or unreadable one gives nothing) and the environment.
pub fn read(env: &dyn Fn(&str) -> Option<String>) -> KnownValues {
    let mut known = KnownValues::default();
    for (source, path) in paths(env) {
        if let Ok(text) = std::fs::read_to_string(&path) {
            add(&mut known, &source, from_ini(&text));
        }
    }
    let from_env = ENV
        .iter()
        .filter_map(|(var, kind)| Some((env(var)?, *kind)))
        .collect();
    add(&mut known, "environment", from_env);
    known
}

fn add(known: &mut KnownValues, source: &str, found: Vec<(String, &'static str)>) {
    let mut count = 0;
    for (value, kind) in found {
        let value = value.trim().trim_matches(['"', '\'']).to_owned();
        let name_like = matches!(kind, "aws_profile" | "iam_role_name" | "iam_user_name");
        if value.len() < crate::mask::lists::LITERAL_AT_LEAST
            || !value.is_ascii()
            || name_like && !is_distinctive(&value)
        {
            continue;
        }
        if !known.values.iter().any(|k| k.value == value) {
            known.values.push(KnownValue { value, kind });
            count += 1;
        }
    }
    if count > 0 {
        *known.per_source.entry(source.to_owned()).or_default() += count;
    }
}

/// The keys of both files that hold an identifier, and the category it is masked as.
const KEYS: &[(&str, &str)] = &[
    ("aws_access_key_id", "access_key_id"),
    ("aws_secret_access_key", "secret_access_key"),
    ("aws_session_token", "session_token"),
    ("aws_security_token", "session_token"),
    ("role_arn", "arn"),
    ("mfa_serial", "arn"),
    ("source_profile", "aws_profile"),
    ("sso_account_id", "account_id"),
    ("sso_role_name", "iam_role_name"),
    ("role_session_name", "iam_user_name"),
    ("sso_session", "aws_profile"),
    ("sso_start_url", "aws_hostname"),
];

/// The environment variables read, and the category of their values.
const ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
    ("AWS_SESSION_TOKEN", "session_token"),
    ("AWS_PROFILE", "aws_profile"),
    ("AWS_DEFAULT_PROFILE", "aws_profile"),
    ("AWS_ROLE_ARN", "arn"),
    ("AWS_ROLE_SESSION_NAME", "iam_user_name"),
];

/// The values of an AWS INI file: section names (profiles, SSO sessions) and the [`KEYS`].
fn from_ini(text: &str) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = section
                .strip_prefix("profile ")
                .or_else(|| section.strip_prefix("sso-session "))
                .unwrap_or(section);
            found.push((name.trim().to_owned(), "aws_profile"));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some((_, kind)) = KEYS.iter().find(|(k, _)| *k == key.trim()) else {
            continue;
        };
        let value = value.trim();
        let value = if *kind == "aws_hostname" {
            // The portal's host: `https://acme.awsapps.com/start` names the company.
            value
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or(value)
        } else {
            value
        };
        found.push((value.to_owned(), kind));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_read_and_regions_are_not() {
        let config = "[default]\nregion = eu-west-1\noutput = json\n\n[profile ledger-ci]\nrole_arn = arn:aws:iam::123456789012:role/ci/LedgerDeployer\nsource_profile = default\nrole_session_name = ledger-ci-session\n\n[sso-session acme-sso]\nsso_start_url = https://acme-payments.awsapps.com/start\nsso_region = us-east-1\n\n[profile payments-admin]\nsso_account_id = 210987654321\nsso_role_name = PaymentsAdministrator\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, config).expect("written");
        let env = |var: &str| match var {
            "AWS_CONFIG_FILE" => Some(path.display().to_string()),
            "AWS_SHARED_CREDENTIALS_FILE" => Some(dir.path().join("none").display().to_string()),
            "AWS_PROFILE" => Some("ledger-ci".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AKIAZZZZZZZZZZZZZZZZ".to_owned()),
            _ => None,
        };
        let known = read(&env);
        let values: Vec<(&str, &str)> = known
            .values
            .iter()
            .map(|k| (k.value.as_str(), k.kind))
            .collect();
        assert_eq!(
            values,
            [
                ("ledger-ci", "aws_profile"),
                ("arn:aws:iam::123456789012:role/ci/LedgerDeployer", "arn"),
                ("ledger-ci-session", "iam_user_name"),
                ("acme-sso", "aws_profile"),
                ("acme-payments.awsapps.com", "aws_hostname"),
                ("payments-admin", "aws_profile"),
                ("210987654321", "account_id"),
                ("PaymentsAdministrator", "iam_role_name"),
                ("AKIAZZZZZZZZZZZZZZZZ", "access_key_id"),
            ]
        );
        assert_eq!(known.per_source["~/.aws/config"], 8);
        assert_eq!(known.per_source["environment"], 1);
    }
}
