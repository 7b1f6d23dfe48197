//! AWS account IDs: inside ARNs, ECR and SQS addresses, IAM policy principals, and after an
//! account or owner label.

use super::*;

/// A 12-digit account number (or `1234-5678-9012`, `1234 5678 9012`) at `start`; returns its end.
pub(super) fn account_number_at(t: &[u8], start: usize) -> Option<usize> {
    if start > 0 && t[start - 1].is_ascii_digit() {
        return None;
    }
    let plain = run_len(t, start, |b| b.is_ascii_digit());
    let end = if plain == 12 {
        start + 12
    } else if plain == 4
        && matches!(t.get(start + 4), Some(b'-' | b' '))
        && run_len(t, start + 5, |b| b.is_ascii_digit()) == 4
        && t.get(start + 9) == t.get(start + 4)
        && run_len(t, start + 10, |b| b.is_ascii_digit()) == 4
    {
        start + 14
    } else {
        return None;
    };
    boundary_after(t, end).then_some(end)
}

pub(super) fn account_id(at: &Hit, out: &mut Vec<Range<usize>>) {
    let (text, hit) = (at.text, at.range.clone());
    let t = text.as_bytes();
    let is = |literal: &[u8]| t[hit.clone()].eq_ignore_ascii_case(literal);
    match () {
        () if is(b"arn:") => {
            if let Some(account) = at.arn().and_then(|a| a.account.clone()) {
                out.push(account);
            }
        }
        () if is(b".dkr.ecr.") => {
            let start = run_start(t, hit.start, |b| b.is_ascii_digit());
            if hit.start - start == 12 && boundary_before(t, start) {
                out.push(start..hit.start);
            }
        }
        () if is(b".amazonaws.com/") => {
            if let Some(end) = account_number_at(t, hit.end).filter(|&e| t.get(e) == Some(&b'/')) {
                out.push(hit.end..end);
            }
        }
        () if t[hit.clone()].starts_with(b"AWS") => {
            // An IAM policy's principal: `"AWS": "123456789012"`, `"AWS": ["…", "…"]`.
            let word_end = hit.start + 3;
            if !boundary_before(t, hit.start) {
                return;
            }
            let gap = run_len(t, word_end, |b| is_label_gap(b) || b == b'[');
            let gap_text = &t[word_end..word_end + gap];
            let assigns = gap_text.iter().any(|&b| matches!(b, b':' | b'='))
                || gap_text.contains(&KEY_END) && is_json_key(t, hit.start, word_end + gap);
            if gap <= 6 && assigns {
                account_list(t, word_end + gap, out);
            }
        }
        () if labelled_account(t, &hit).is_some() => {
            out.extend(labelled_account(t, &hit));
        }
        () => {
            // "account" / "owner" labels: the first number within a short gap of letters,
            // quotes and separators ("Account ID: ", "\"OwnerId\": \""), then any list that follows.
            if !is_label(t, &hit) {
                return;
            }
            let window = &t[hit.end..t.len().min(hit.end + 40)];
            let Some(first_digit) = window.iter().position(u8::is_ascii_digit) else {
                return;
            };
            let gap = &window[..first_digit];
            let gap_ok = gap.iter().all(|&b| {
                b.is_ascii_alphabetic()
                    || matches!(b, b'_' | b'-' | b'#' | b'(' | b'[')
                    || is_label_gap(b)
            });
            if gap_ok {
                account_list(t, hit.end + first_digit, out);
            }
        }
    }
}

/// The value of an account label whatever its shape: `"AccountId": "…"`, `aws_account_id =
/// …`, `sso_account_id`, `--account-id …`, `"OwnerId": "…"` (an S3 canonical user ID),
/// `SourceAccount: …`. A 12-digit value is left to the number rule; an odd one is taken when
/// it is one word that could not be an everyday one (it spreads to the whole request).
fn labelled_account(t: &[u8], hit: &Range<usize>) -> Option<Range<usize>> {
    let suffix = [&b"Id"[..], b"ID", b"_id", b"-id"]
        .into_iter()
        .find(|s| t[hit.end..].starts_with(s));
    let source_account = t[hit.clone()] == *b"Account"
        && hit.start >= 6
        && t[hit.start - 6..hit.start] == *b"Source";
    let label_end = match suffix {
        Some(suffix) => hit.end + suffix.len(),
        None if source_account => hit.end,
        None => return None,
    };
    let value = labelled_value(t, hit.start..label_end, 4)?;
    let v = &t[value.clone()];
    let one_word = v
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    let numbered = account_number_at(t, value.start) == Some(value.end);
    let distinctive = std::str::from_utf8(v).is_ok_and(names::is_distinctive);
    (one_word && !numbered && distinctive).then_some(value)
}

/// The account numbers from `at` on: one, or a list (`111…, 222…`, a JSON array, the
/// strings of a JSON array in a request's walk text).
pub(super) fn account_list(t: &[u8], mut at: usize, out: &mut Vec<Range<usize>>) {
    while let Some(end) = account_number_at(t, at) {
        out.push(at..end);
        let sep = run_len(t, end, |b| {
            matches!(b, b' ' | b',' | b'"' | b'\'' | b'\n' | b'\t' | b'\0')
        });
        if sep == 0 || sep > 6 {
            break;
        }
        at = end + sep;
    }
}
