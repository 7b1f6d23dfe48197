//! Resource names: what a company calls its functions, databases, roles, clusters, stacks,
//! tables, queues, topics, log groups, key aliases, repositories, secrets and key pairs, its
//! `Name` tags and its account aliases. A name has no shape of its own, so it is found only
//! where the text says what it is: an API key (`"FunctionName": …`), an `aws` CLI flag
//! (`--function-name …`), an attribute of a Terraform `resource "aws_…"` block, the resource
//! part of an ARN, an SQS queue URL. There it is masked whatever it looks like; elsewhere in
//! the request only when it is [`is_distinctive`], so that a role called `admin` does not
//! mask the word admin in every sentence.

use super::*;

/// What says that a value is a name of one kind.
pub(super) struct NameLabels {
    /// Keys as AWS's APIs and CloudFormation spell them, compared case-sensitively.
    /// PascalCase keys (`FunctionName`) label in JSON, YAML and `Key=value` forms; camelCase
    /// ones (`logGroupName`), which are common variable names too, only as quoted JSON keys.
    pub keys: &'static [&'static str],
    /// `aws` CLI flags, without their dashes (`function-name`).
    pub flags: &'static [&'static str],
    /// Services whose `aws SERVICE … --name VALUE` names one of these (`eks`, `sns`).
    pub name_flag_in: &'static [&'static str],
    /// Terraform attributes: (resource or data source type, attribute).
    pub terraform: &'static [(&'static str, &'static str)],
    /// The name inside an ARN, if the ARN is of this kind.
    pub in_arn: fn(text: &str, arn: &Arn) -> Option<Range<usize>>,
}

/// The longest name taken from a label: AWS's longest (log groups) are 512 bytes.
const NAME_AT_MOST: usize = 512;

/// How far a Terraform block is read for its attributes.
const BLOCK_AT_MOST: usize = 16 * 1024;

/// How far back an `aws SERVICE` command is looked for from its `--name` flag.
const COMMAND_AT_MOST: usize = 512;

/// How far a value may stand from what labels it when only punctuation and layout lie
/// between (a `Name` tag's value, a list's first item): pretty-printed JSON indents deeply.
const GAP_AT_MOST: usize = 128;

/// Names this short never spread, whatever they hold (`v2`, `db`).
const SPREAD_AT_LEAST: usize = 3;

/// Names that are also everyday words of English, infrastructure or programming: a resource
/// called one of them is masked where it is labelled, never in the rest of the text. Sorted
/// (checked by a test); only words a distinctive-name rule would otherwise let spread
/// (6 characters or more, or holding `-`, `_`, `.` or a digit) need to be here.
const COMMON_WORDS: &[&str] = &[
    "account",
    "accounts",
    "active",
    "admin-role",
    "administrator",
    "analytics",
    "archive",
    "assets",
    "aurora",
    "backend",
    "backup",
    "backups",
    "billing",
    "bucket",
    "buckets",
    "builds",
    "client",
    "clients",
    "cluster",
    "config",
    "consumer",
    "customers",
    "database",
    "databases",
    "default",
    "default-vpc",
    "deploy",
    "deployer",
    "deployment",
    "deployments",
    "develop",
    "development",
    "docker",
    "dynamodb",
    "example",
    "examples",
    "export",
    "exports",
    "external",
    "frontend",
    "function",
    "functions",
    "gateway",
    "github",
    "handler",
    "handlers",
    "images",
    "import",
    "imports",
    "index.handler",
    "internal",
    "invoices",
    "kubernetes",
    "lambda",
    "lambda_function",
    "logging",
    "master",
    "messages",
    "metrics",
    "monitoring",
    "my-bucket",
    "my-cluster",
    "my-function",
    "my-queue",
    "my-role",
    "my-secret",
    "my-stack",
    "my-table",
    "my-topic",
    "notifications",
    "orders",
    "payments",
    "pipeline",
    "postgres",
    "postgresql",
    "primary",
    "private",
    "producer",
    "production",
    "public",
    "records",
    "release",
    "replica",
    "reports",
    "secret",
    "secrets",
    "server",
    "servers",
    "service",
    "services",
    "session",
    "sessions",
    "settings",
    "staging",
    "static",
    "storage",
    "stream",
    "streams",
    "terraform",
    "testing",
    "uploads",
    "worker",
    "workers",
];

/// A name that is masked at every mention in a request, not only where it is labelled:
/// at least [`SPREAD_AT_LEAST`] bytes, and 6 or more, or holding `-`, `_`, `.` or a digit;
/// never one of the [`COMMON_WORDS`].
pub fn is_distinctive(name: &str) -> bool {
    let shaped = name
        .bytes()
        .any(|b| matches!(b, b'-' | b'_' | b'.') || b.is_ascii_digit());
    let lower = name.to_ascii_lowercase();
    name.len() >= SPREAD_AT_LEAST
        && (name.len() >= 6 || shaped)
        && COMMON_WORDS.binary_search(&lower.as_str()).is_err()
}

/// The bytes that may follow a name kind's anchor: a key's or flag's gap, the start of a
/// Terraform resource type, an ARN's partition.
pub(super) fn may_follow_anchor(b: u8) -> bool {
    b.is_ascii_lowercase()
        || matches!(
            b,
            b' ' | b'\t' | b'"' | b'\'' | b':' | b'=' | b'\\' | b'\0' | KEY_END
        )
}

/// The matcher every name kind shares: the hit is one of its keys or flags, a Terraform
/// block, or an ARN.
pub(super) fn resource_name(at: &Hit, out: &mut Vec<Range<usize>>, labels: &NameLabels) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    let word = &t[hit.clone()];
    if word.eq_ignore_ascii_case(b"arn:") {
        if let Some(name) = at.arn().and_then(|arn| (labels.in_arn)(at.text, arn)) {
            out.push(name);
        }
    } else if word.ends_with(b"\"aws_") {
        for attribute in at.terraform() {
            let wanted = labels.terraform.iter().any(|(kind, name)| {
                !attribute.in_tags
                    && &at.text[attribute.block_kind.clone()] == *kind
                    && &at.text[attribute.name.clone()] == *name
            });
            if wanted {
                out.push(attribute.value.clone());
            }
        }
    } else if let Some(flag) = word.strip_prefix(b"--") {
        let named = if flag == b"name" {
            aws_service_of(t, hit.start).is_some_and(|s| labels.name_flag_in.contains(&s))
        } else {
            labels.flags.iter().any(|f| f.as_bytes() == flag)
        };
        if named {
            out.extend(labelled_name(t, hit.start + 2..hit.end, true));
        }
    } else if let Some((key_range, key)) = key_around(t, &hit, labels.keys) {
        let snake = !key.contains(|c: char| c.is_ascii_uppercase());
        let camel = !snake && key.starts_with(|c: char| c.is_ascii_lowercase());
        if !camel || is_quoted_key(t, &key_range) {
            out.extend(labelled_name(t, key_range, snake));
        }
    }
}

/// The key of `keys` that holds the anchor at `hit` (a key's tail: `Name`, `_profile` …):
/// the whole word around it, or its last camelCase or snake_case segments
/// (`TargetFunctionName` holds `FunctionName`).
fn key_around(
    t: &[u8],
    hit: &Range<usize>,
    keys: &[&'static str],
) -> Option<(Range<usize>, &'static str)> {
    let end = hit.end + run_len(t, hit.end, |b| b.is_ascii_alphanumeric());
    let start = run_start(t, hit.start, |b| b.is_ascii_alphanumeric() || b == b'_');
    (start..=hit.start)
        .filter(|&i| i == start || t[i].is_ascii_uppercase() || t[i - 1] == b'_')
        .find_map(|i| {
            let key = keys.iter().find(|k| k.as_bytes() == &t[i..end])?;
            Some((i..end, *key))
        })
}

/// The name after a label, if it is one: no spaces, the characters AWS allows in names. A
/// list's first item counts too (`"AccountAliases": ["acme-prod"]`). A `snake_case` label
/// (`sso_role_name = …` in `~/.aws/config`) may take an unquoted value after a spaced `=`.
fn labelled_name(t: &[u8], label: Range<usize>, snake: bool) -> Option<Range<usize>> {
    let value = labelled_value(t, label.clone(), 1)
        .filter(|v| {
            is_name(&t[v.clone()]) && (snake || !is_code_assignment(&t[label.end..v.start]))
        })
        .or_else(|| {
            let gap = run_len(t, label.end, |b| {
                matches!(b, b'"' | b':' | b' ' | b'\t' | b'\r' | b'\n' | b'[')
            });
            let gap_text = &t[label.end..label.end + gap];
            let opens_list = gap <= GAP_AT_MOST
                && gap_text.starts_with(b"\"")
                && gap_text.contains(&b':')
                && gap_text.contains(&b'[')
                && gap_text.ends_with(b"\"");
            let start = label.end + gap;
            let len = run_len_within(t, start, NAME_AT_MOST, |b| {
                !matches!(b, b'"' | b'\n' | b'\0')
            })?;
            (opens_list && t.get(start + len) == Some(&b'"')).then_some(start..start + len)
        })?;
    is_name(&t[value.clone()]).then_some(value)
}

/// `UserName = cls`: a program's variable given another, not a configuration value (which
/// is quoted after a spaced `=`, as in Terraform and boto3, or follows `:` or a bare `=`).
fn is_code_assignment(gap: &[u8]) -> bool {
    let spaced_equals = gap.windows(2).any(|w| w == b" =" || w == b"= ");
    spaced_equals && !gap.ends_with(b"\"") && !gap.ends_with(b"'")
}

fn is_name(value: &[u8]) -> bool {
    // AWS's own key aliases (`alias/aws/s3`) name no company's resource.
    value.len() <= NAME_AT_MOST
        && !value.starts_with(b"alias/aws/")
        && value.iter().any(u8::is_ascii_alphanumeric)
        && value.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b'+' | b'=' | b'@' | b':' | b'#'
                )
        })
        && !value.starts_with(b"arn:")
}

/// The key at `hit` is a JSON key: quoted, or a key of the walk text.
fn is_quoted_key(t: &[u8], hit: &Range<usize>) -> bool {
    let quoted = hit.start > 0 && t[hit.start - 1] == b'"' && t.get(hit.end) == Some(&b'"');
    let walk = t.get(hit.end) == Some(&KEY_END)
        && (hit.start == 0 || matches!(t[hit.start - 1], b'\0' | KEY_END));
    quoted || walk
}

/// The service of the `aws SERVICE …` command on the line that holds `at`, or on the lines
/// before it that it continues (`aws ecs update-service \` ⏎ `  --cluster …`).
pub(super) fn aws_service_of(t: &[u8], at: usize) -> Option<&str> {
    let from = at.saturating_sub(COMMAND_AT_MOST);
    let mut line_start = at;
    loop {
        line_start = t[from..line_start]
            .iter()
            .rposition(|&b| matches!(b, b'\n' | b'\0' | KEY_END))
            .map_or(from, |i| from + i + 1);
        let continued = line_start > from + 1
            && t[line_start - 1] == b'\n'
            && t[from..line_start - 1].trim_ascii_end().ends_with(b"\\");
        if !continued {
            break;
        }
        line_start -= 1;
    }
    // The command that holds `at`: after the last `;`, `|` or `&` before it.
    let line_start = t[line_start..at]
        .iter()
        .rposition(|&b| matches!(b, b';' | b'|' | b'&'))
        .map_or(line_start, |i| line_start + i + 1);
    let line = &t[line_start..at];
    let command = line
        .windows(4)
        .rposition(|w| w == b"aws ")
        .filter(|&i| boundary_before(line, i))?;
    let service_start = command + 4 + run_len(line, command + 4, |b| b == b' ');
    let service_len = run_len(line, service_start, |b| b.is_ascii_lowercase() || b == b'-');
    std::str::from_utf8(&line[service_start..service_start + service_len]).ok()
}

/// `Name` tags: `{"Key": "Name", "Value": …}` in JSON (the walk text's keys and JSON held
/// in a string), `Key: Name` / `Value: …` in YAML, `Key=Name,Value=…` in the CLI's
/// shorthand, `TAGS⇥Name⇥…` (tab-separated) in its text output, and `tags = { Name = … }` in Terraform.
pub(super) fn name_tag(at: &Hit, out: &mut Vec<Range<usize>>) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    let word = &t[hit.clone()];
    if word.ends_with(b"\"aws_") {
        out.extend(
            at.terraform()
                .iter()
                .filter(|a| a.in_tags && &at.text[a.name.clone()] == "Name")
                .map(|a| a.value.clone()),
        );
        return;
    }
    if !(word[0] == b'"' || boundary_before(t, hit.start)) {
        return;
    }
    if word.eq_ignore_ascii_case(b"tag:name,values=") {
        // A filter's values: `Name=tag:Name,Values=a,b`.
        let mut at = hit.end;
        while let Some(len) = run_len_within(t, at, NAME_AT_MOST, |b| {
            !matches!(
                b,
                b',' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'\\' | b'\0'
            ) && b != KEY_END
        }) {
            if len == 0 {
                break;
            }
            out.push(at..at + len);
            at += len;
            if t.get(at) != Some(&b',') {
                break;
            }
            at += 1;
        }
        return;
    }
    if word.eq_ignore_ascii_case(b"tags\tname\t") {
        let len = run_len_within(t, hit.end, NAME_AT_MOST, |b| {
            !matches!(b, b'\t' | b'\n' | b'\r' | b'\0') && b != KEY_END
        });
        if let Some(len) = len.filter(|&n| n > 0) {
            out.push(hit.end..hit.end + len);
        }
        return;
    }
    if word.last().is_some_and(u8::is_ascii_alphabetic) && !boundary_after(t, hit.end) {
        return;
    }
    // From the tag's key to its value's label.
    let gap = run_len(t, hit.end, |b| {
        matches!(
            b,
            b'"' | b'\'' | b',' | b' ' | b'\t' | b'\n' | b'\r' | b'\0'
        )
    });
    let value_label = hit.end + gap..hit.end + gap + 5;
    let is_value_label = gap <= GAP_AT_MOST
        && t.get(value_label.clone())
            .is_some_and(|w| w.eq_ignore_ascii_case(b"value"));
    if !is_value_label {
        return;
    }
    if let Some(value) = labelled_value(t, value_label, 1) {
        out.push(value);
    }
}

/// One `attribute = "value"` of a Terraform block (or of its `tags` map).
pub struct TerraformAttribute {
    /// The block's resource or data source type (`aws_lambda_function`).
    pub block_kind: Range<usize>,
    pub name: Range<usize>,
    pub value: Range<usize>,
    pub in_tags: bool,
}

/// The quoted string attributes of the Terraform block that opens at `hit`
/// (`resource "aws_` or `data "aws_`), in configuration or in `terraform plan` / `show`
/// output (whose lines start with `+`, `-` or `~`, and whose changes read `"old" -> "new"`).
/// Reads at most [`BLOCK_AT_MOST`] bytes and never past the string that holds the block.
pub(super) fn terraform_block(t: &[u8], hit: &Range<usize>) -> Vec<TerraformAttribute> {
    let mut attributes = Vec::new();
    if !boundary_before(t, hit.start) {
        return attributes;
    }
    let kind_start = hit.end - 4;
    let kind =
        kind_start..kind_start + run_len(t, kind_start, |b| b.is_ascii_alphanumeric() || b == b'_');
    if t.get(kind.end) != Some(&b'"') {
        return attributes;
    }
    let header = run_len_within(t, kind.end, 256, |b| !matches!(b, b'{' | b'\n' | b'\0'));
    let Some(open) = header
        .map(|n| kind.end + n)
        .filter(|&i| t.get(i) == Some(&b'{'))
    else {
        return attributes;
    };
    let limit = t.len().min(open + 1 + BLOCK_AT_MOST);
    let t = &t[..limit];
    let mut depth = 1usize;
    let mut tags_depth = None;
    let mut at = open + 1;
    while at < limit && depth > 0 {
        let line_end = at + run_len(t, at, |b| !matches!(b, b'\n' | b'\0') && b != KEY_END);
        let line = &t[..line_end];
        let ident_start = at
            + run_len(line, at, |b| {
                matches!(b, b' ' | b'\t' | b'\r' | b'+' | b'-' | b'~')
            });
        // A plan quotes map keys: `+ "Name" = "…"`.
        let quoted = line.get(ident_start) == Some(&b'"');
        let ident_start = ident_start + usize::from(quoted);
        let ident = ident_start
            ..ident_start
                + run_len(line, ident_start, |b| {
                    b.is_ascii_alphanumeric() || b == b'_'
                });
        let ident_end = ident.end + usize::from(quoted && line.get(ident.end) == Some(&b'"'));
        let eq = ident_end + run_len(line, ident_end, |b| b == b' ' || b == b'\t');
        let in_tags = tags_depth == Some(depth);
        // Only the block's own attributes and its tags: a nested block's `name` (a table's
        // `attribute { name = "pk" }`) names something else.
        let top = depth == 1 || in_tags;
        if top
            && !ident.is_empty()
            && line.get(eq) == Some(&b'=')
            && line.get(eq + 1) != Some(&b'=')
        {
            let mut value_at = eq + 1 + run_len(line, eq + 1, |b| b == b' ' || b == b'\t');
            // A plan's change `"old" -> "new"` names the resource twice.
            while line.get(value_at) == Some(&b'"') {
                let len = run_len(line, value_at + 1, |b| b != b'"');
                if line.get(value_at + 1 + len) != Some(&b'"') {
                    break;
                }
                let value = value_at + 1..value_at + 1 + len;
                if is_name(&line[value.clone()]) || in_tags && len > 0 {
                    attributes.push(TerraformAttribute {
                        block_kind: kind.clone(),
                        name: ident.clone(),
                        value,
                        in_tags,
                    });
                }
                let after = value_at + 2 + len;
                let arrow = after + run_len(line, after, |b| b == b' ');
                if !line[arrow..].starts_with(b"->") {
                    break;
                }
                value_at = arrow + 2 + run_len(line, arrow + 2, |b| b == b' ');
            }
            if line.get(value_at) == Some(&b'{')
                && matches!(&line[ident.clone()], b"tags" | b"tags_all")
            {
                tags_depth = Some(depth + 1);
            }
        }
        let mut quoted = false;
        for &b in &line[at..] {
            match b {
                b'"' => quoted = !quoted,
                b'{' if !quoted => depth += 1,
                b'}' if !quoted => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if tags_depth.is_some_and(|d| depth < d) {
            tags_depth = None;
        }
        if line_end >= limit || t[line_end] != b'\n' {
            break;
        }
        at = line_end + 1;
    }
    attributes
}

/// The services whose ARNs the name kinds read (below): the generic `aws_resource` kind
/// leaves them to those, so that switching one off leaves its names alone.
pub(super) const ARN_SERVICES_OF_NAME_KINDS: &[&str] = &[
    "lambda",
    "rds",
    "iam",
    "sts",
    "eks",
    "ecs",
    "cloudformation",
    "dynamodb",
    "sqs",
    "sns",
    "logs",
    "kms",
    "ecr",
    "secretsmanager",
];

/// `arn:…:SERVICE:…:RESOURCE`: the part of the resource after `prefix`, up to `end` (or
/// the resource's end).
fn arn_part(
    text: &str,
    arn: &Arn,
    service: &str,
    prefix: &str,
    end: &[char],
) -> Option<Range<usize>> {
    if &text[arn.service.clone()] != service {
        return None;
    }
    let resource = &text[arn.resource.clone()];
    let rest = resource.strip_prefix(prefix)?;
    let len = rest.find(end).unwrap_or(rest.len());
    let start = arn.resource.start + prefix.len();
    (len > 0).then_some(start..start + len)
}

/// The last `/` segment of an IAM resource of this account (`role/service-role/Deploy`);
/// AWS's own (`arn:aws:iam::aws:policy/…`) are not a company's names.
fn iam_part(text: &str, arn: &Arn, prefix: &str) -> Option<Range<usize>> {
    arn.account.as_ref()?;
    let path = arn_part(text, arn, "iam", prefix, &[])?;
    let last = text[path.clone()].rfind('/').map_or(0, |i| i + 1);
    (path.start + last < path.end).then_some(path.start + last..path.end)
}

pub(super) fn lambda_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "lambda", "function:", &[':'])
}

pub(super) fn rds_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "rds", "db:", &[]).or_else(|| arn_part(text, arn, "rds", "cluster:", &[]))
}

pub(super) fn role_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    iam_part(text, arn, "role/").or_else(|| arn_part(text, arn, "sts", "assumed-role/", &['/']))
}

/// A user, or the session name of an assumed role (often a person's login or e-mail).
pub(super) fn user_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    iam_part(text, arn, "user/").or_else(|| {
        let role_and_session = arn_part(text, arn, "sts", "assumed-role/", &[])?;
        let slash = text[role_and_session.clone()].find('/')?;
        let start = role_and_session.start + slash + 1;
        (start < role_and_session.end).then_some(start..role_and_session.end)
    })
}

pub(super) fn group_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    iam_part(text, arn, "group/")
}

pub(super) fn policy_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    iam_part(text, arn, "policy/")
}

pub(super) fn cluster_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "eks", "cluster/", &['/'])
        .or_else(|| arn_part(text, arn, "ecs", "cluster/", &['/']))
}

/// `service/CLUSTER/NAME`, or the older `service/NAME`.
pub(super) fn ecs_service_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    let path = arn_part(text, arn, "ecs", "service/", &[])?;
    let last = text[path.clone()].rfind('/').map_or(0, |i| i + 1);
    (path.start + last < path.end).then_some(path.start + last..path.end)
}

pub(super) fn stack_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "cloudformation", "stack/", &['/'])
}

pub(super) fn table_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "dynamodb", "table/", &['/'])
}

pub(super) fn queue_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "sqs", "", &[':', '/'])
}

pub(super) fn topic_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "sns", "", &[':', '/'])
}

pub(super) fn log_group_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "logs", "log-group:", &[':'])
}

/// `alias/NAME`, as `AliasName` holds it; AWS's own aliases (`alias/aws/s3`) are left alone.
pub(super) fn alias_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    let name = arn_part(text, arn, "kms", "alias/", &[])?;
    (!text[name.clone()].starts_with("aws/")).then_some(name.start - "alias/".len()..name.end)
}

pub(super) fn repository_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    arn_part(text, arn, "ecr", "repository/", &[])
}

/// `secret:NAME-AbCdEf`: the name without the six characters Secrets Manager appends.
pub(super) fn secret_in_arn(text: &str, arn: &Arn) -> Option<Range<usize>> {
    let named = arn_part(text, arn, "secretsmanager", "secret:", &[])?;
    let value = text[named.clone()].as_bytes();
    let suffixed = value.len() > 7
        && value[value.len() - 7] == b'-'
        && value[value.len() - 6..]
            .iter()
            .all(u8::is_ascii_alphanumeric);
    Some(if suffixed {
        named.start..named.end - 7
    } else {
        named
    })
}

pub(super) fn no_arn(_: &str, _: &Arn) -> Option<Range<usize>> {
    None
}

/// SQS queue URLs, `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` (and the legacy
/// `queue.amazonaws.com`): the name after the account.
pub(super) fn queue_in_url(at: &Hit, out: &mut Vec<Range<usize>>) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    if !t[hit.clone()].eq_ignore_ascii_case(b".amazonaws.com/") {
        return;
    }
    let host_start = run_start(t, hit.start, |b| {
        b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
    });
    let host = &t[host_start..hit.start];
    if !(host.starts_with(b"sqs.") || host == b"queue") {
        return;
    }
    let Some(account_end) = account_number_at(t, hit.end) else {
        return;
    };
    if t.get(account_end) != Some(&b'/') {
        return;
    }
    let start = account_end + 1;
    let len = run_len(t, start, |b| {
        b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
    });
    // A FIFO queue's `.fifo` belongs to its name; a sentence's last dot does not.
    let len = t[start..start + len]
        .strip_suffix(b".")
        .map_or(len, |s| s.len());
    if len > 0 {
        out.push(start..start + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_word_list_is_sorted_lowercase_and_needed() {
        assert!(
            COMMON_WORDS.windows(2).all(|w| w[0] < w[1]),
            "COMMON_WORDS must stay sorted"
        );
        for word in COMMON_WORDS {
            assert_eq!(*word, word.to_ascii_lowercase());
            let shaped = word
                .bytes()
                .any(|b| matches!(b, b'-' | b'_' | b'.') || b.is_ascii_digit());
            assert!(word.len() >= 6 || shaped, "{word} would not spread anyway");
        }
    }

    #[test]
    fn only_distinctive_names_spread() {
        for name in [
            "billing-export",
            "payments-prod",
            "acme_ledger",
            "db1",
            "LedgerWriter",
            "web.internal",
        ] {
            assert!(is_distinctive(name), "{name}");
        }
        for name in [
            "admin",
            "main",
            "api",
            "v2",
            "prod",
            "default",
            "Production",
            "lambda",
            "my-function",
        ] {
            assert!(!is_distinctive(name), "{name}");
        }
    }
}
