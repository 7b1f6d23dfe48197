//! Names and IDs of every other AWS resource, found by what says they are one: the resource
//! part of any ARN (`stream/clickstream-prod`, `distribution/E2QWRUHAPOMQZL`), the value of
//! an `aws` command's `--…-name`, `--…-id`, `--…-identifier` or `--…-arn` flag (and `--name`
//! of any service), and the API keys of services no name kind of their own covers. The
//! categories of `names` claim what they know first; this one catches the rest, so that a
//! name the text reveals is masked wherever else it stands (when it is distinctive).

use std::sync::LazyLock;

use super::*;

/// Flags of `aws` commands whose values name AWS's own things, not a company's.
const NOT_RESOURCE_FLAGS: &[&[u8]] = &[
    b"metric-name",
    b"attribute-name",
    b"engine-name",
    b"region-name",
    b"availability-zone-id",
    b"zone-id",
];

/// Services whose `--name` flag names one of the company's resources (SSM parameters, Glue
/// and Athena objects, EventBridge rules, build projects …); other commands' `--name` may
/// not (`aws s3 cp` has none).
const NAME_FLAG_SERVICES: &[&str] = &[
    "ssm",
    "glue",
    "athena",
    "events",
    "codebuild",
    "codepipeline",
    "elasticbeanstalk",
    "es",
    "opensearch",
    "apigatewayv2",
    "backup",
    "kinesisanalytics",
    "firehose",
    "route53resolver",
    "wafv2",
    "scheduler",
    "pipes",
    "cloudtrail",
    "batch",
];

/// The flags a name kind of its own reads (`--function-name`): when that kind is switched
/// off, this one must not mask what it would have.
static OWNED_FLAGS: LazyLock<Vec<&'static [u8]>> = LazyLock::new(|| {
    CATALOG
        .iter()
        .filter(|k| k.id != "aws_resource")
        .flat_map(|k| k.anchors.iter())
        .filter_map(|a| a.strip_prefix("--"))
        .filter(|flag| *flag != "name")
        .map(str::as_bytes)
        .collect()
});

/// Keys ending in `Id` that hold a resource's ID whatever its shape (the tails `Name` and
/// `Identifier` are the name kinds' anchors; `Id` alone is too common a word to be one).
pub(super) const ID_KEYS: &[&str] = &[
    "DistributionId",
    "RestApiId",
    "restApiId",
    "ApiId",
    "apiId",
    "UserPoolId",
    "IdentityPoolId",
    "ClientId",
    "CacheClusterId",
    "ReplicationGroupId",
    "WebACLId",
    "DetectorId",
    "HsmId",
    "DirectoryId",
    "WorkspaceId",
    "ApplicationId",
    "AppId",
    "DomainId",
    "ResourceId",
    "resourceId",
];

/// How many values a plural flag (`--…-ids`, `--…-names`) takes at most.
const VALUES_AT_MOST: usize = 64;

pub(super) fn other_resource(at: &Hit, out: &mut Vec<Range<usize>>) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    let word = &t[hit.clone()];
    if word.eq_ignore_ascii_case(b"arn:") {
        if let Some(arn) = at.arn() {
            arn_resource_parts(at.text, arn, out);
        }
    } else if word.starts_with(b"Id") || word.starts_with(b"id") {
        let value = id_key_before(t, hit.start)
            .and_then(|key| labelled_value(t, key, 1))
            .filter(|v| is_plain_value(&t[v.clone()]));
        out.extend(value);
    } else if word[0] == b'-' {
        aws_flag_values(t, &hit, out);
    }
}

/// The segments of an ARN's resource part that name something (`stream/NAME`,
/// `loadbalancer/app/NAME/ID`, `account/o-…/ACCOUNT`): every segment but the leading
/// resource type. The services a name kind reads ARNs of are that kind's.
fn arn_resource_parts(text: &str, arn: &Arn, out: &mut Vec<Range<usize>>) {
    if arn.account.is_none() || ARN_SERVICES_OF_NAME_KINDS.contains(&&text[arn.service.clone()]) {
        return;
    }
    let resource = &text[arn.resource.clone()];
    let mut segments = Vec::new();
    let mut start = 0;
    for (i, c) in resource.char_indices() {
        if c == '/' || c == ':' {
            segments.push(start..i);
            start = i + 1;
        }
    }
    segments.push(start..resource.len());
    let skip = usize::from(segments.len() > 1);
    for segment in segments.into_iter().skip(skip) {
        let value = &resource.as_bytes()[segment.clone()];
        if is_plain_value(value) {
            out.push(arn.resource.start + segment.start..arn.resource.start + segment.end);
        }
    }
}

/// A value that can be a resource's name or ID: no spaces, a letter or digit, no wildcard.
fn is_plain_value(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 512
        && value.iter().any(u8::is_ascii_alphanumeric)
        && value.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b'/' | b'+' | b'=' | b'@' | b'#')
        })
}

/// The key of [`ID_KEYS`] whose `Id` stands at `id_at` (`"RestApiId"`), if it is a JSON key
/// (quoted, or a key of the walk text) or a YAML-style `Key:`.
fn id_key_before(t: &[u8], id_at: usize) -> Option<Range<usize>> {
    let end = id_at + 2;
    let start = run_start(t, end, |b| b.is_ascii_alphanumeric());
    ID_KEYS.iter().find(|k| k.as_bytes() == &t[start..end])?;
    let quoted = start > 0 && t[start - 1] == b'"';
    let walk = start == 0 || matches!(t[start - 1], b'\0' | KEY_END);
    let yaml = t.get(end) == Some(&b':') && boundary_before(t, start);
    (quoted || walk || yaml).then_some(start..end)
}

/// The values of a `--…-name`/`-id`/`-identifier`/`-arn` flag (plural: several words) on an
/// `aws` command line. `hit` is the flag's tail (`-name `, `-ids ` …).
fn aws_flag_values(t: &[u8], hit: &Range<usize>, out: &mut Vec<Range<usize>>) {
    let flag_start = if t[hit.clone()].starts_with(b"--") {
        hit.start
    } else {
        let word_start = run_start(t, hit.start, |b| b.is_ascii_lowercase() || b == b'-');
        if !t[word_start..].starts_with(b"--") || !boundary_before(t, word_start) {
            return;
        }
        word_start
    };
    // The flag's name ends at a space or `=` (the anchor may hold it or stop just before).
    let name_end = hit.start
        + t[hit.clone()]
            .iter()
            .position(|&b| b == b' ' || b == b'=')
            .unwrap_or(hit.len());
    if !matches!(t.get(name_end), Some(b' ' | b'=')) {
        return;
    }
    let flag = &t[flag_start + 2..name_end];
    let Some(service) = aws_service_of(t, flag_start) else {
        return;
    };
    let wanted = if flag == b"name" {
        NAME_FLAG_SERVICES.contains(&service)
    } else {
        !NOT_RESOURCE_FLAGS.contains(&flag) && !OWNED_FLAGS.contains(&flag)
    };
    if !wanted {
        return;
    }
    let plural = flag.ends_with(b"s");
    let mut at = name_end + 1;
    for _ in 0..if plural { VALUES_AT_MOST } else { 1 } {
        let quote = t.get(at).filter(|&&b| b == b'"' || b == b'\'').copied();
        let start = at + usize::from(quote.is_some());
        let len = run_len(t, start, |b| match quote {
            Some(q) => b != q && !matches!(b, b'\n' | b'\0' | b'\\') && b != KEY_END,
            None => {
                !matches!(
                    b,
                    b' ' | b'\t'
                        | b'\n'
                        | b'\r'
                        | b'\0'
                        | b'"'
                        | b'\''
                        | b'\\'
                        | b';'
                        | b'|'
                        | b'&'
                        | b')'
                ) && b != KEY_END
            }
        });
        let value = &t[start..start + len];
        if value.is_empty() || value.starts_with(b"-") || value.starts_with(b"$") {
            return;
        }
        if is_plain_value(value) && !is_region(value) {
            out.push(start..start + len);
        }
        at = start + len + usize::from(quote.is_some());
        if t.get(at) != Some(&b' ') {
            return;
        }
        at += 1;
    }
}
