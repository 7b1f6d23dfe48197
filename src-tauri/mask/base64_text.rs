//! Base64-encoded text (`kubectl get secret -o yaml` prints `AWS_SECRET_ACCESS_KEY: d0ph…`,
//! a `text/plain` document may come as a base64 source, user data and JWT parts are base64)
//! scanned in its decoded form.
//!
//! Each word of the base64 alphabet (standard or URL-safe, not both) of at least
//! [`MIN_WORD`] characters that decodes to text — valid UTF-8 with no control character but
//! tab and line ends — is decoded and scanned again, after up to `percent`'s label reach of
//! the plain text before it (its label). An identifier found in the decoded text masks the
//! whole encoded word: a token cannot stand for part of a base64 word, and the word restores
//! byte for byte. Binary data (an image, a PDF, a hash) stops decoding at its first bytes.

use std::ops::Range;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use super::byte_sets::base64_alphabet_mask;
use super::engine::{Engine, Finding, Scratch};
use super::percent::label_start;
use super::walk_text::STRING_END;

/// The shortest word decoded: 12 bytes of text, as long as a bare account number. (The run
/// finder's shifts in [`next_long_run`] are written for it.)
const MIN_WORD: usize = 16;

/// A line at least this long, whose length is a multiple of four, may be continued by the
/// next one.
const WRAPPED_LINE: usize = 60;

/// How much of a word is decoded before deciding whether it is text at all.
const PROBE: usize = 64;

/// What a byte is to a base64 word: bit flags, 0 for a byte outside both alphabets.
const COMMON: u8 = 1; // letters and digits, in both alphabets
const STANDARD_ONLY: u8 = 2; // `+` and `/`
const URL_SAFE_ONLY: u8 = 4; // `-` and `_`

const CLASSES: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_alphanumeric() {
            table[b] = COMMON;
        }
        b += 1;
    }
    table[b'+' as usize] = STANDARD_ONLY;
    table[b'/' as usize] = STANDARD_ONLY;
    table[b'-' as usize] = URL_SAFE_ONLY;
    table[b'_' as usize] = URL_SAFE_ONLY;
    table
};

const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

/// The findings of `engine` in the base64-decoded words of `text` (a walk text or a plain
/// one), each as the span of its whole encoded word in `text`, in order and not overlapping.
pub fn findings(engine: &Engine, text: &str, scratch: &mut Scratch) -> Vec<Finding> {
    let decoded = Decoded::of(text.as_bytes());
    if decoded.words.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    engine.scan(&decoded.text, scratch, &mut found);
    let mut out: Vec<Finding> = Vec::new();
    for f in found {
        // The first word whose decoded text the finding reaches into; one that lies wholly
        // in a label before its word is the plain scan's own.
        let at = decoded
            .words
            .partition_point(|w| w.decoded.end <= f.span.start);
        let Some(word) = decoded.words.get(at) else {
            continue;
        };
        if f.span.end <= word.decoded.start || out.last().is_some_and(|o| o.span == word.source) {
            continue;
        }
        out.push(Finding {
            span: word.source.clone(),
            ..f
        });
    }
    out
}

/// One decoded word: where its text stands in [`Decoded::text`] and its encoded span in
/// the input.
struct Word {
    decoded: Range<usize>,
    source: Range<usize>,
}

/// The decoded words, each after the plain text that may label it, laid end to end and
/// ended by NULs.
struct Decoded {
    text: String,
    words: Vec<Word>,
}

impl Decoded {
    fn of(t: &[u8]) -> Decoded {
        let mut decoded = Decoded {
            text: String::new(),
            words: Vec::new(),
        };
        let mut bytes = Vec::new();
        let mut joined = Vec::new();
        let mut done = 0;
        let mut i = 0;
        while let Some(start) = next_long_run(t, i) {
            i = start;
            let (mut line_end, mut classes) = run(t, i);
            // Wrapped output (`base64`, PEM, MIME: lines of 64 or 76) is one word.
            let mut wrapped = false;
            joined.clear();
            loop {
                let line = line_end - i;
                let wrap = match t.get(line_end..line_end + 2) {
                    Some([b'\r', b'\n']) => 2,
                    Some([b'\n', _]) => 1,
                    _ => 0,
                };
                let continued = t
                    .get(line_end + wrap)
                    .is_some_and(|&b| CLASSES[usize::from(b)] != 0);
                if wrap == 0 || line < WRAPPED_LINE || line % 4 != 0 || !continued {
                    break;
                }
                joined.extend_from_slice(&t[i..line_end]);
                wrapped = true;
                i = line_end + wrap;
                let (next_end, next_classes) = run(t, i);
                line_end = next_end;
                classes |= next_classes;
            }
            let word: &[u8] = if wrapped {
                joined.extend_from_slice(&t[i..line_end]);
                &joined
            } else {
                &t[start..line_end]
            };
            i = line_end;
            let mixed = classes & STANDARD_ONLY != 0 && classes & URL_SAFE_ONLY != 0;
            if word.len() < MIN_WORD || mixed {
                continue;
            }
            let url_safe = classes & URL_SAFE_ONLY != 0;
            let Some(plain) = decode_text(word, url_safe) else {
                continue;
            };
            let mut end = line_end;
            while end - line_end < 2 && t.get(end) == Some(&b'=') {
                end += 1;
            }
            bytes.extend_from_slice(&t[label_start(t, done, start)..start]);
            let from = bytes.len();
            bytes.extend_from_slice(plain.as_bytes());
            decoded.words.push(Word {
                decoded: from..bytes.len(),
                source: start..end,
            });
            bytes.push(STRING_END as u8);
            done = end;
            i = end;
        }
        // The labels are whole UTF-8 characters of the input and the words valid UTF-8.
        decoded.text = String::from_utf8(bytes).unwrap_or_default();
        if decoded.text.is_empty() {
            decoded.words.clear();
        }
        decoded
    }
}

/// Where the first run of [`MIN_WORD`] alphabet bytes at or after `from` begins. Text is
/// looked at 64 bytes at a time, windows overlapping by `MIN_WORD`: most text has a
/// separator every few bytes and is passed over without a branch per byte.
fn next_long_run(t: &[u8], from: usize) -> Option<usize> {
    const WINDOW: usize = 64;
    let mut at = from;
    while at + MIN_WORD <= t.len() {
        let mut runs = match t[at..].first_chunk::<WINDOW>() {
            Some(window) => base64_alphabet_mask(window),
            None => {
                let mut window = [0; WINDOW];
                window[..t.len() - at].copy_from_slice(&t[at..]);
                base64_alphabet_mask(&window)
            }
        };
        // Bit `i` stays set where bits `i..i + 16` all are.
        runs &= runs >> 1;
        runs &= runs >> 2;
        runs &= runs >> 4;
        runs &= runs >> 8;
        if runs != 0 {
            return Some(at + runs.trailing_zeros() as usize);
        }
        at += WINDOW - MIN_WORD;
    }
    None
}

/// The end of the run of alphabet bytes from `from`, and the classes seen in it.
#[inline]
fn run(t: &[u8], from: usize) -> (usize, u8) {
    let mut classes = 0;
    let mut i = from;
    while let Some(&b) = t.get(i) {
        let class = CLASSES[usize::from(b)];
        if class == 0 {
            break;
        }
        classes |= class;
        i += 1;
    }
    (i, classes)
}

/// `word` decoded, if it is text.
fn decode_text(word: &[u8], url_safe: bool) -> Option<String> {
    // Most words only happen to be spelled in the alphabet (paths, IDs, hashes, long
    // names) or are binary data: their first bytes already say so, before any decoding.
    if !first_bytes_may_be_text(word) {
        return None;
    }
    let engine = if url_safe { &URL_SAFE } else { &STANDARD };
    let probe = &word[..word.len().min(PROBE) / 4 * 4];
    if !engine.decode(probe).is_ok_and(|b| is_text_prefix(&b)) {
        return None;
    }
    let plain = String::from_utf8(engine.decode(word).ok()?).ok()?;
    is_text(&plain).then_some(plain)
}

/// Whether the three bytes the first four characters of `word` encode could begin text:
/// no control byte but tab and line ends, no UTF-8 continuation byte first. (`+` and `-`,
/// `/` and `_` hold the same values in their alphabets.)
fn first_bytes_may_be_text(word: &[u8]) -> bool {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            _ => 63,
        }
    };
    let quad = word[..4].iter().fold(0u32, |quad, &c| quad << 6 | value(c));
    let [_, b0, b1, b2] = quad.to_be_bytes();
    let may_be_text = |b: u8| b >= 0x20 && b != 0x7F || matches!(b, b'\t' | b'\n' | b'\r');
    may_be_text(b0) && !(0x80..0xC0).contains(&b0) && may_be_text(b1) && may_be_text(b2)
}

fn is_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Whether `b` could begin text: UTF-8 up to a character the probe cut, no control byte.
fn is_text_prefix(b: &[u8]) -> bool {
    let valid = match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    is_text(valid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD as PADDED, URL_SAFE_NO_PAD};

    fn spans(text: &str) -> Vec<&str> {
        let engine = Engine::with_all_builtins();
        let found = findings(&engine, text, &mut Scratch::default());
        found.into_iter().map(|f| &text[f.span]).collect()
    }

    #[test]
    fn an_encoded_identifier_masks_its_whole_word() {
        let arn = PADDED.encode("arn:aws:iam::123456789012:role/Deploy");
        let text = format!("data:\n  role: {arn}\n  plain: aGVsbG8gd29ybGQsIGhlbGxvIQ==\0");
        assert_eq!(spans(&text), [arn.as_str()]);
        let jwt_part = URL_SAFE_NO_PAD.encode(r#"{"account":"123456789012","sub":"x"}"#);
        assert_eq!(
            spans(&format!("eyJhbGciOi.{jwt_part}.sig\0")),
            [jwt_part.as_str()]
        );
    }

    #[test]
    fn a_label_before_the_word_names_what_it_decodes_to() {
        let secret = PADDED.encode("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9a8b7c6d");
        let text = format!("  AWS_SECRET_ACCESS_KEY: {secret}\0");
        assert_eq!(spans(&text), [secret.as_str()]);
        let key = format!("AWS_SECRET_ACCESS_KEY\u{1}{secret}\0");
        assert_eq!(spans(&key), [secret.as_str()]);
    }

    #[test]
    fn wrapped_lines_are_one_word() {
        let config = "[default]\naws_access_key_id = AKIAZ7Q3EXAMPLEKEY12\nregion = eu-west-1\n";
        let encoded = PADDED.encode(config.repeat(2));
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        let text = format!("-----BEGIN-----\n{}\n-----END-----\0", wrapped.join("\n"));
        assert_eq!(spans(&text), [wrapped.join("\n").as_str()]);
    }

    #[test]
    fn binary_data_hashes_and_plain_words_are_left_alone() {
        let png = PADDED.encode([0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13].repeat(20));
        let text = format!(
            "{png} 0123456789abcdef0123456789abcdef01234567 /usr/local/lib/python3.12 \
             AWS_SECRET_ACCESS_KEY ip-10-0-12-34-eu-west-1 i-0abcdef1234567890\0"
        );
        assert!(spans(&text).is_empty());
        let harmless = PADDED.encode("nothing to see here, only words");
        assert!(spans(&format!("{harmless}\0")).is_empty());
    }
}
