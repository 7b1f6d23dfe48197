//! Secrets: secret access keys (after a label or near a key ID), STS session tokens (by
//! label or encoded prefix, URL-encoded too), KMS key IDs after their label.

use super::*;

/// A 40-character base64 run at `start` with nothing base64 on either side (an `=` may lead
/// in, as in `KEY=value`, but not pad it out).
pub(super) fn secret_at(t: &[u8], start: usize) -> Option<Range<usize>> {
    let before_ok = start == 0 || !is_base64(t[start - 1]);
    let n = run_len(t, start, is_base64);
    (before_ok && n == 40 && t.get(start + n) != Some(&b'=')).then_some(start..start + 40)
}

pub(super) fn secret_access_key(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let is_key_id = t[hit.clone()] == *b"AKIA" || t[hit.clone()] == *b"ASIA";
    if !is_key_id {
        // A label such as aws_secret_access_key / SecretAccessKey / "secret access key".
        if !is_label(t, &hit) {
            return;
        }
        // Any value of a key's length that the label assigns; else a 40-character key after
        // the label and a gap (`secret access key wJalr…`).
        let labelled = labelled_value(t, hit.clone(), SECRET_AT_LEAST);
        if let Some(value) =
            labelled.or_else(|| skip_gap(t, hit.end, 24).and_then(|s| secret_at(t, s)))
        {
            out.push(value);
        }
        return;
    }
    let mut id = Vec::new();
    iam_id(at, &mut id);
    let Some(id) = id.pop() else { return };
    // Near a key ID: a mixed-case 40-character run within the next few lines (a 40-hex
    // git SHA has no capitals and is left alone).
    let window_end = t.len().min(id.end + 240);
    let mut i = id.end;
    while i < window_end {
        let n = run_len(t, i, is_base64);
        if n == 0 {
            i += 1;
            continue;
        }
        if let Some(value) = secret_at(t, i) {
            let v = &t[value.clone()];
            let mixed = v.iter().any(u8::is_ascii_lowercase)
                && v.iter().any(u8::is_ascii_uppercase)
                && v.iter().any(u8::is_ascii_digit);
            if mixed {
                out.push(value);
                return;
            }
        }
        i += n;
    }
}

pub(super) fn session_token(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let encoded_prefix = SESSION_TOKEN_PREFIXES
        .iter()
        .any(|p| t[hit.clone()].eq_ignore_ascii_case(p.as_bytes()));
    let start = if encoded_prefix {
        let exact = SESSION_TOKEN_PREFIXES
            .iter()
            .any(|p| t[hit.clone()] == *p.as_bytes());
        if !exact || (hit.start > 0 && is_base64(t[hit.start - 1])) {
            return;
        }
        hit.start
    } else {
        // A label, then at least one separator before the value.
        if !is_label(t, &hit) {
            return;
        }
        match skip_gap(t, hit.end, 24) {
            Some(s) if s > hit.end => s,
            _ => return,
        }
    };
    let n = encoded_token_len(t, start);
    if n < 64 && !encoded_prefix {
        // Not shaped like an STS token, but what the label assigns all the same.
        if let Some(value) = labelled_value(t, hit, SECRET_AT_LEAST) {
            out.push(value);
        }
        return;
    }
    if n >= 64 {
        out.push(start..start + n);
    }
}

/// The length of a base64 run from `start`, `=` padding included, and its URL-encoded form
/// too (`%2B`, `%2F`, `%3D`), as a presigned URL's `X-Amz-Security-Token` carries it. Read
/// no further than [`MAX_TOKEN_LEN`]: a longer run is no STS token, and a label word repeated
/// inside one long run must not read the rest of it from every hit.
pub(super) fn encoded_token_len(t: &[u8], start: usize) -> usize {
    let mut at = start;
    let end = t.len().min(start + MAX_TOKEN_LEN);
    while let Some(&b) = t[..end].get(at) {
        if is_base64(b) || b == b'=' {
            at += 1;
        } else if b == b'%' && t.get(at + 1..at + 3).is_some_and(is_base64_escape) {
            at += 3;
        } else {
            break;
        }
    }
    at - start
}

/// Session tokens are a few hundred to about two thousand characters; URL-encoded, more.
pub(super) const MAX_TOKEN_LEN: usize = 8192;

/// `2B`, `2F`, `3D` (either case): the percent-escapes of `+`, `/` and `=`.
pub(super) fn is_base64_escape(hex: &[u8]) -> bool {
    matches!(hex, [b'2', b'b' | b'B' | b'f' | b'F'] | [b'3', b'd' | b'D'])
}

/// How STS session tokens begin once base64-encoded.
/// The last is an ECR registry token (`aws ecr get-login-password`), a credential of the same
/// lifetime: base64 of `{"payload":"`.
pub(super) const SESSION_TOKEN_PREFIXES: &[&str] = &[
    "IQoJb3JpZ2luX2Vj",
    "FwoGZXIvYXdzE",
    "FQoGZXIvYXdzE",
    "eyJwYXlsb2FkIjoi",
];

pub(super) fn kms_key(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if t[hit.clone()].eq_ignore_ascii_case(b"mrk-") {
        let n = run_len(t, hit.end, is_lower_hex);
        if is_exact(text, &hit, "mrk-")
            && boundary_before(t, hit.start)
            && n == 32
            && boundary_after(t, hit.end + 32)
        {
            out.push(hit.start..hit.end + 32);
        }
        return;
    }
    if !is_label(t, &hit) {
        return;
    }
    // The key ID follows on the same line ("--key-id …", "\"KeyId\": \"…\"", "kms key …").
    let window = &t[hit.end..t.len().min(hit.end + 64)];
    let window_end = hit.end + memchr::memchr(b'\n', window).unwrap_or(window.len());
    for i in hit.end..window_end {
        if let Some(end) = parse_uuid(t, i) {
            out.push(i..end);
            return;
        }
    }
}

/// A labelled secret key or session token is at least this long: shorter values after such
/// a label are examples and field names, not credentials.
const SECRET_AT_LEAST: usize = 16;

/// Passwords and secret values, by their label: `"password": "…"`, `MasterUserPassword`,
/// `PGPASSWORD=…`, `password = "…"` in Terraform, `--master-user-password …`,
/// `"SecretString": "…"`. A program's own variables are not values (`password = getpass()`,
/// `password: string`).
pub(super) fn password(at: &Hit, out: &mut Vec<Range<usize>>) {
    let t = at.text.as_bytes();
    let hit = at.range.clone();
    // A flag's label is the whole flag (`--master-user-password VALUE`).
    let word_start = run_start(t, hit.start, |b| b.is_ascii_lowercase() || b == b'-');
    let label = if t[word_start..].starts_with(b"--") && boundary_before(t, word_start) {
        word_start + 2..hit.end
    } else {
        hit.clone()
    };
    let Some(value) = labelled_value(t, label.clone(), PASSWORD_AT_LEAST) else {
        return;
    };
    let gap = &t[label.end..value.start];
    let quoted = gap
        .last()
        .is_some_and(|&b| matches!(b, b'"' | b'\'' | b'`') || b == KEY_END);
    let spaced_equals = gap.windows(2).any(|w| w == b" =" || w == b"= ");
    let v = &t[value.clone()];
    let code = v.iter().any(|&b| matches!(b, b'(' | b'[' | b'{'))
        || (spaced_equals && !quoted)
        || NOT_PASSWORDS.iter().any(|w| v.eq_ignore_ascii_case(w));
    if !code {
        out.push(value);
    }
}

/// The shortest value a password label is trusted with.
const PASSWORD_AT_LEAST: usize = 4;

/// Type names and words a password label is followed by in code and docs, not passwords.
const NOT_PASSWORDS: &[&[u8]] = &[
    b"string",
    b"bytes",
    b"secret",
    b"password",
    b"optional",
    b"required",
    b"text",
    b"bool",
    b"boolean",
    b"sensitive",
    b"hidden",
    b"masked",
];
