//! Identifiers recognised by their own shape: EC2/VPC resource IDs (prefix + hex), IAM
//! access key and unique IDs, Organizations IDs, RDS resource IDs.

use super::*;

pub(super) fn hex_resource_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let n = run_len(t, hit.end, |b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if is_resource_suffix(&t[hit.end..hit.end + n]) && boundary_after(t, hit.end + n) {
        out.push(hit.start..hit.end + n);
    }
}

/// The part of an EC2-style ID after its prefix: 8 or 17 lowercase hex digits. AWS's own
/// documentation writes 17-character IDs with a letter or two beyond `f`
/// (`sg-1234567890abcdefg`), and text copied from it is as real to a user as any: a
/// 17-character run with a digit and at most two such letters counts too. (It starts with a
/// hex digit, as the kinds' `after_anchor` asks.)
pub(super) fn is_resource_suffix(suffix: &[u8]) -> bool {
    let beyond_hex = suffix.iter().filter(|&&b| !is_lower_hex(b)).count();
    match suffix.len() {
        8 => beyond_hex == 0,
        17 => beyond_hex <= 2 && suffix.iter().any(u8::is_ascii_digit),
        _ => false,
    }
}

pub(super) fn iam_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if is_label_word(t, &hit, ACCESS_KEY_ID_LABELS) {
        // `"AccessKeyId": "…"`, `--access-key-id …`: whatever its prefix or length.
        if let Some(value) = labelled_value(t, hit, 4) {
            out.push(value);
        }
        return;
    }
    if !boundary_before(t, hit.start) || !t[hit.clone()].iter().all(|b| is_upper_alnum(*b)) {
        return;
    }
    // Access key IDs are 20 characters; unique IDs 21, and shorter in AWS's documentation
    // (`AIDASAMPLEUSERID`), whose examples users paste as often as real output.
    let lengths = match &t[hit.clone()] {
        b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA" | b"A3T" => 20..=21,
        _ => 16..=21,
    };
    let n = run_len(t, hit.start, is_upper_alnum);
    if lengths.contains(&n) && boundary_after(t, hit.start + n) {
        out.push(hit.start..hit.start + n);
    }
}

/// `o-` and 10–32 lowercase letters or digits; `ou-`, 4–32 of them, `-`, 8–32 more.
pub(super) fn organizations_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let is_id_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let first = run_len(t, hit.end, is_id_char);
    let end = if t[hit.clone()] == *b"o-" {
        (10..=32).contains(&first).then_some(hit.end + first)
    } else {
        let second_at = hit.end + first + 1;
        let second = run_len(t, second_at, is_id_char);
        let shaped = (4..=32).contains(&first) && (8..=32).contains(&second);
        (shaped && t.get(hit.end + first) == Some(&b'-')).then_some(second_at + second)
    };
    if let Some(end) = end.filter(|&e| boundary_after(t, e) && t.get(e) != Some(&b'-')) {
        out.push(hit.start..end);
    }
}

pub(super) fn rds_resource_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    if !starts_lowercase_id(t, &hit) {
        return;
    }
    let n = run_len(t, hit.end, is_upper_alnum);
    if n == 26 && boundary_after(t, hit.end + n) {
        out.push(hit.start..hit.end + n);
    }
}

/// The labels of an access key ID (the access_key_id kind's anchors that are not prefixes).
const ACCESS_KEY_ID_LABELS: &[&str] = &["accesskeyid", "access_key_id", "access-key-id"];
