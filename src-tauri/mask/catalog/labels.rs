//! Values named by their label, whatever their shape: `"SecretAccessKey": "…"`,
//! `aws_session_token = …`, `--access-key-id …`, `"RoleArn": "…"`. The label must stand as
//! one — a JSON key (in the walk text, or quoted in text), a flag, or a word followed by `:`
//! or `=` — and the value is taken to its own end (a quote, a string's end, whitespace or a
//! delimiter), at most [`VALUE_AT_MOST`] bytes. Empty values and placeholders
//! (`STRING_VALUE`, `<your-key>`, `${VAR}`, `****`, `null`) are left alone.

use super::*;

/// A labelled value longer than this is not taken (no identifier or key is that long, and a
/// label must not swallow a page).
pub(super) const VALUE_AT_MOST: usize = 1024;

/// The value that the label at `label` names, if it stands as a label, is at least
/// `min_len` bytes and is no placeholder.
pub(super) fn labelled_value(
    t: &[u8],
    label: Range<usize>,
    min_len: usize,
) -> Option<Range<usize>> {
    let flag = label.start >= 2 && &t[label.start - 2..label.start] == b"--";
    // The end of a longer word is a label only as its last camelCase, snake or kebab segment
    // (`RoleArn`, `role_arn`, `TargetBucket`), not inside a word (`learn`).
    let segment = boundary_before(t, label.start)
        || t[label.start].is_ascii_uppercase()
        || matches!(t[label.start - 1], b'_' | b'-');
    let ends = boundary_after(t, label.end) && t.get(label.end) != Some(&b'_');
    if !(flag || segment) || !ends {
        return None;
    }
    let gap = run_len(t, label.end, |b| {
        matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'`' | b':' | b'=' | b'\\') || b == KEY_END
    });
    if gap == 0 || gap > 12 {
        return None;
    }
    let gap_text = &t[label.end..label.end + gap];
    let assigns = gap_text
        .iter()
        .any(|&b| matches!(b, b':' | b'=') || b == KEY_END);
    // A flag takes the next word (`--access-key-id AKIA…`).
    let flag_word = flag && gap_text.iter().all(|&b| matches!(b, b' ' | b'"' | b'\''));
    if !(assigns || flag_word) {
        return None;
    }
    let start = label.end + gap;
    let end = if gap_text.ends_with(&[KEY_END]) {
        // A JSON key in the walk text: its value is the next string, if that is a value.
        let end = start + run_len_within(t, start, VALUE_AT_MOST, |b| b != 0 && b != KEY_END)?;
        (t.get(end) == Some(&0)).then_some(end)?
    } else {
        let quoted = gap_text
            .last()
            .is_some_and(|&b| matches!(b, b'"' | b'\'' | b'`'));
        let stops = |b: u8| {
            b == 0
                || b == KEY_END
                || matches!(b, b'"' | b'\'' | b'`' | b'\\' | b'\n' | b'\r')
                || !quoted && matches!(b, b' ' | b'\t' | b',' | b';' | b'&' | b')' | b'}' | b']')
        };
        start + run_len_within(t, start, VALUE_AT_MOST, |b| !stops(b))?
    };
    let value = &t[start..end];
    (value.len() >= min_len && !is_placeholder(value)).then_some(start..end)
}

/// Text that stands in for a value rather than being one.
fn is_placeholder(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let upper = text.to_ascii_uppercase();
    let bracketed = |open: &str, close: &str| text.starts_with(open) && text.ends_with(close);
    text.trim().is_empty()
        || matches!(
            upper.as_str(),
            "NULL"
                | "NONE"
                | "NIL"
                | "UNDEFINED"
                | "TRUE"
                | "FALSE"
                | "STRING_VALUE"
                | "REDACTED"
                | "..."
                | "…"
        )
        || bracketed("<", ">")
        || bracketed("[", "]")
        // An unquoted value stops at `}`: a template's opening is enough.
        || text.starts_with("${")
        || text.starts_with("{{")
        || (text.starts_with('$')
            && text[1..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'))
        || text
            .bytes()
            .all(|b| matches!(b, b'*' | b'x' | b'X' | b'.' | b'#' | b'-'))
}

/// A label word of `labels` at `hit`, compared as the anchor matched (case-insensitively).
pub(super) fn is_label_word(t: &[u8], hit: &Range<usize>, labels: &[&str]) -> bool {
    labels
        .iter()
        .any(|label| t[hit.clone()].eq_ignore_ascii_case(label.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, label: &str, min_len: usize) -> Option<String> {
        let at = text
            .to_ascii_lowercase()
            .find(&label.to_ascii_lowercase())?;
        let range = labelled_value(text.as_bytes(), at..at + label.len(), min_len)?;
        Some(text[range].to_owned())
    }

    #[test]
    fn a_label_names_its_value_whatever_its_shape() {
        for (text, label, expected) in [
            (
                "\"SecretAccessKey\": \"short-but-secret-1\",",
                "SecretAccessKey",
                "short-but-secret-1",
            ),
            (
                "SecretAccessKey\u{1}abc/def+ghi=jkl012\0",
                "SecretAccessKey",
                "abc/def+ghi=jkl012",
            ),
            (
                "aws_secret_access_key = zzzzzzzzzzzzzzzzzzzzz\n",
                "secret_access_key",
                "zzzzzzzzzzzzzzzzzzzzz",
            ),
            (
                "AWS_SECRET_ACCESS_KEY=zzzzzzzzzzzzzzzzzz ",
                "SECRET_ACCESS_KEY",
                "zzzzzzzzzzzzzzzzzz",
            ),
            (
                "aws iam x --access-key-id KEY12345 --y",
                "access-key-id",
                "KEY12345",
            ),
            (
                "{\\\"AccessKeyId\\\":\\\"ZZZZ1234\\\"}",
                "AccessKeyId",
                "ZZZZ1234",
            ),
            ("  RoleArn: role/odd-shape\n", "Arn", "role/odd-shape"),
        ] {
            assert_eq!(value(text, label, 4).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn placeholders_prose_and_longer_words_are_not_labels() {
        for (text, label) in [
            ("\"SecretAccessKey\": \"STRING_VALUE\"", "SecretAccessKey"),
            (
                "\"SecretAccessKey\": \"<your-secret-key>\"",
                "SecretAccessKey",
            ),
            ("aws_secret_access_key = ${AWS_SECRET}", "secret_access_key"),
            (
                "aws_secret_access_key = $AWS_SECRET_ACCESS_KEY",
                "secret_access_key",
            ),
            ("\"SessionToken\": \"****************\"", "SessionToken"),
            ("\"SessionToken\": null,", "SessionToken"),
            ("\"SessionToken\": \"\"", "SessionToken"),
            (
                "the secret access key is rotated daily",
                "secret access key",
            ),
            ("SecretAccessKeys: many", "SecretAccessKey"),
            ("learn: the basics", "arn"),
            ("SessionToken\u{1}Next\u{1}value\0", "SessionToken"),
        ] {
            assert_eq!(value(text, label, 4), None, "{text}");
        }
    }

    #[test]
    fn a_value_is_bounded() {
        let long = format!("SecretAccessKey: {}", "a".repeat(VALUE_AT_MOST + 1));
        assert_eq!(value(&long, "SecretAccessKey", 4), None);
    }
}
