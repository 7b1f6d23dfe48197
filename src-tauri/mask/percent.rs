//! Percent-encoded text (`arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy` in a console
//! link, `X-Amz-Credential=AKIA…%2F…` in a presigned URL) scanned in its decoded form.
//!
//! The strings of a text that hold a `%XX` escape of a printable ASCII character are
//! decoded (`%253A`, encoded twice, decodes to `:` in one step) and scanned again; a finding
//! whose span holds an escape is mapped back to the encoded bytes it was decoded from, so it
//! is masked in place and its original is the text as it stands, which restores byte for byte.
//! Findings that hold no escape are the plain scan's own and are dropped here.

use std::ops::Range;

use memchr::{memchr_iter, memrchr2};

use super::engine::{Engine, Finding, Scratch};
use super::walk_text::{KEY_END, STRING_END};

/// The findings of `engine` in the percent-decoded strings of `text` (strings ended by
/// [`STRING_END`] or [`KEY_END`]), as spans of `text`, in order and not overlapping.
pub fn findings(engine: &Engine, text: &str, scratch: &mut Scratch) -> Vec<Finding> {
    let t = text.as_bytes();
    if memchr::memchr(b'%', t).is_none() {
        return Vec::new();
    }
    let decoded = Decoded::of(t);
    if decoded.text.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    engine.scan(&decoded.text, scratch, &mut found);
    found
        .into_iter()
        .filter_map(|f| {
            let span = decoded.source(f.span.clone());
            // Same length: no escape inside, so the plain scan saw the same bytes.
            (span.len() != f.span.len()).then_some(Finding { span, ..f })
        })
        .collect()
}

/// The decoded words that hold escapes — a URL, a query value — each with up to
/// [`LABEL_REACH`] bytes before it in its string (a label, `"SessionToken": "…`) or the key
/// before its string (`"Console": "https%3A…"`), laid end to end and ended by NULs, and where
/// each decoded byte came from. Only these are scanned again: a megabyte of tool output with
/// one link in it is not.
struct Decoded {
    text: String,
    /// Per byte of `text`, and one past its end: the offset of its source in the input.
    source: Vec<usize>,
}

/// How far before an encoded word its label may stand.
const LABEL_REACH: usize = 64;

impl Decoded {
    fn of(t: &[u8]) -> Decoded {
        let mut decoded = Decoded {
            text: String::new(),
            source: Vec::new(),
        };
        let mut bytes = Vec::new();
        let ends = |b: u8| b == STRING_END as u8 || b == KEY_END as u8;
        let mut done = 0; // the input before this is laid out or passed over
        for at in memchr_iter(b'%', t) {
            if at < done || escape(t, at).is_none() {
                continue;
            }
            // Every look back stops at `done`, so the text is read a bounded number of times.
            let string_start = memrchr2(STRING_END as u8, KEY_END as u8, &t[done..at])
                .map_or(done, |e| done + e + 1);
            let word_start = t[string_start..at]
                .iter()
                .rposition(u8::is_ascii_whitespace)
                .map_or(string_start, |p| string_start + p + 1);
            let from = label_start(t, done, word_start);
            let to = at
                + t[at..]
                    .iter()
                    .position(|&b| b.is_ascii_whitespace() || ends(b))
                    .unwrap_or(t.len() - at);
            let mut i = from;
            while i < to {
                let (byte, len) = escape(t, i).unwrap_or((t[i], 1));
                bytes.push(byte);
                decoded.source.push(i);
                i += len;
            }
            bytes.push(STRING_END as u8);
            decoded.source.push(to);
            done = to;
        }
        decoded.source.push(done);
        // Only ASCII is decoded and every other byte is copied whole, so this stays UTF-8.
        decoded.text = String::from_utf8(bytes).unwrap_or_default();
        decoded
    }

    /// The input span a span of the decoded text came from.
    fn source(&self, span: Range<usize>) -> Range<usize> {
        self.source[span.start]..self.source[span.end]
    }
}

/// Where a label of the encoded word at `word_start` may begin: up to [`LABEL_REACH`] bytes
/// before it in its string, or the key before its string when the word starts the string
/// (`"Console": "https%3A…"`); never before `done`.
pub(super) fn label_start(t: &[u8], done: usize, word_start: usize) -> usize {
    let string_start = memrchr2(STRING_END as u8, KEY_END as u8, &t[done..word_start])
        .map_or(done, |e| done + e + 1);
    let mut from = word_start.saturating_sub(LABEL_REACH).max(string_start);
    while from > string_start && t[from] & 0xC0 == 0x80 {
        from -= 1; // not inside a UTF-8 character
    }
    if from == string_start && string_start > done && t[string_start - 1] == KEY_END as u8 {
        from = memrchr2(STRING_END as u8, KEY_END as u8, &t[done..string_start - 1])
            .map_or(done, |p| done + p + 1);
    }
    from
}

/// The printable ASCII character a `%XX` escape at `at` stands for, and the escape's
/// length; `%25` followed by two more hex digits is an escaped escape, decoded through.
fn escape(t: &[u8], at: usize) -> Option<(u8, usize)> {
    let hex = |i: usize| -> Option<u8> {
        let pair = t.get(i..i + 2)?;
        let digit = |b: u8| (b as char).to_digit(16);
        Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
    };
    if t.get(at) != Some(&b'%') {
        return None;
    }
    let mut value = hex(at + 1)?;
    let mut len = 3;
    while value == b'%' {
        match hex(at + len) {
            Some(inner) => {
                value = inner;
                len += 2;
            }
            None => break,
        }
    }
    (0x20..0x7f).contains(&value).then_some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> String {
        Decoded::of(text.as_bytes()).text
    }

    #[test]
    fn only_words_with_escapes_are_decoded_with_what_may_label_them() {
        let text = "plain\0Console\u{1}https%3A%2F%2Fx%2Fy%2520z\0only 100% sure\0a%zz\0";
        assert_eq!(decoded(text), "Console\u{1}https://x/y z\0");
        let long = format!("{} label: x%2Fy and more\0", "word ".repeat(40));
        let word = long.find("x%2Fy").expect("there");
        let reach = &long[word - LABEL_REACH..word];
        assert_eq!(decoded(&long), format!("{reach}x/y\0"));
    }

    #[test]
    fn a_span_of_decoded_text_maps_to_its_encoded_bytes() {
        let text = "see arn%3Aaws%253Aiam\0";
        let d = Decoded::of(text.as_bytes());
        assert_eq!(d.text, "see arn:aws:iam\0");
        let at = d.text.find("arn:aws:iam").expect("decoded");
        let span = d.source(at..at + "arn:aws:iam".len());
        assert_eq!(&text[span], "arn%3Aaws%253Aiam");
    }

    #[test]
    fn encoded_identifiers_are_found_and_plain_ones_left_to_the_plain_scan() {
        let engine = Engine::with_all_builtins();
        let text = "https://console/?arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy&k=AKIAIOSFODNN7EXAMPLE%2F2013\0";
        let found = findings(&engine, text, &mut Scratch::default());
        let spans: Vec<&str> = found.iter().map(|f| &text[f.span.clone()]).collect();
        assert_eq!(spans, ["arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy"]);
    }

    #[test]
    fn non_ascii_and_control_escapes_are_left_encoded() {
        assert_eq!(escape(b"%C3%A9", 0), None);
        assert_eq!(escape(b"%00", 0), None);
        assert_eq!(escape(b"%0A", 0), None);
        assert_eq!(escape(b"%3a", 0), Some((b':', 3)));
        assert_eq!(escape(b"%25253A", 0), Some((b':', 7)));
        assert_eq!(escape(b"%25", 0), Some((b'%', 3)));
    }
}
