//! Finds this request's tokens in response text and puts the originals back.
//!
//! A token is replaced only where it stands whole: the longest token ending at a number wins,
//! and a token followed by another digit is not a token (`EC2_INSTANCE_100` inside
//! `EC2_INSTANCE_1000`). Tokens have one shape, `PREFIX_NNN` (numbered per prefix from 1,
//! at least three digits), so a token is looked up by its prefix and number instead of being
//! searched for among all of them: building a restorer costs one pass over the table and no
//! automaton, however many identifiers the request held. For streamed text, [`PendingText`]
//! holds back only a tail that could still grow into a token.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use crate::mask::{MintedTokens, TokenEntry, TokenTable};

/// How an original is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Plain text (`text_delta`, decoded JSON strings).
    Raw,
    /// Inside JSON source text (`input_json_delta.partial_json`).
    JsonString,
}

/// In [`Restorer::prefixes`]: a number whose token is left in the answer.
const NOT_RESTORED: u32 = u32::MAX;

/// Token numbers have at least three digits and, minted from a `u32` count, at most ten.
const MAX_DIGITS: usize = 10;

/// The restore side of one request's token table.
pub struct Restorer {
    /// The request's entries, shared with its journal record.
    entries: Arc<MintedTokens>,
    /// Each token prefix, longest first, with the entry of each of its numbers (index
    /// `number - 1`), or [`NOT_RESTORED`].
    prefixes: Vec<(String, Vec<u32>)>,
    /// The longest restorable token: no longer tail can still grow into one.
    longest: usize,
}

impl Restorer {
    pub fn new(table: &TokenTable) -> Restorer {
        Restorer::restoring(Arc::new(table.entries().clone()), |_| true)
    }

    /// Restores the entries `restores` accepts (of one request's table): tokens left out
    /// stay in the answer.
    pub fn restoring(
        entries: Arc<MintedTokens>,
        restores: impl Fn(TokenEntry) -> bool,
    ) -> Restorer {
        let mut prefixes: Vec<(String, Vec<u32>)> = Vec::new();
        let mut longest = 0;
        for (at, entry) in entries.iter().enumerate() {
            if !restores(entry) {
                continue;
            }
            let Some((prefix, number)) = split_token(entry.token) else {
                debug_assert!(false, "a minted token has the token shape: {}", entry.token);
                continue;
            };
            let numbers = match prefixes.iter().position(|(p, _)| p == prefix) {
                Some(i) => &mut prefixes[i].1,
                None => {
                    prefixes.push((prefix.to_owned(), Vec::new()));
                    &mut prefixes.last_mut().expect("just pushed").1
                }
            };
            let slot = number as usize - 1;
            if numbers.len() <= slot {
                numbers.resize(slot + 1, NOT_RESTORED);
            }
            numbers[slot] = at as u32;
            longest = longest.max(entry.token.len());
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        Restorer {
            entries,
            prefixes,
            longest,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.longest == 0
    }

    /// True if `text` holds a whole token of this restorer.
    pub fn mentions_token(&self, text: &[u8]) -> bool {
        self.find(text, 0).is_some()
    }

    /// Restores every whole token in a complete text.
    pub fn restore<'a>(&self, text: &'a str, escaping: Escaping) -> Cow<'a, str> {
        if !self.mentions_token(text.as_bytes()) {
            return Cow::Borrowed(text);
        }
        let (out, consumed) = self.restore_prefix(text, escaping, true);
        debug_assert_eq!(consumed, text.len());
        Cow::Owned(out)
    }

    /// The first whole token in `text` at or after `from`: its span and its entry. Every
    /// token ends in `_` and its number; the prefix before the `_` is tried longest first,
    /// so of two tokens ending at one number the one starting first wins.
    fn find(&self, text: &[u8], from: usize) -> Option<(Range<usize>, usize)> {
        if self.is_empty() {
            return None;
        }
        let mut at = from;
        while let Some(i) = memchr::memchr(b'_', &text[at..]) {
            let underscore = at + i;
            at = underscore + 1;
            let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            // Minted as `{:03}`: three digits, or more without a leading zero.
            if !(3..=MAX_DIGITS).contains(&digits) || (digits > 3 && text[at] == b'0') {
                continue;
            }
            let end = at + digits;
            let Some(number) = std::str::from_utf8(&text[at..end])
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            for (prefix, numbers) in &self.prefixes {
                let Some(start) = underscore.checked_sub(prefix.len()) else {
                    continue;
                };
                if start < from || &text[start..underscore] != prefix.as_bytes() {
                    continue;
                }
                match numbers.get(number.wrapping_sub(1)) {
                    Some(&entry) if entry != NOT_RESTORED => {
                        return Some((start..end, entry as usize))
                    }
                    _ => {}
                }
            }
        }
        None
    }

    fn push_original(&self, out: &mut String, entry: usize, escaping: Escaping) {
        let original = self.entries.original(entry);
        match escaping {
            Escaping::Raw => out.push_str(original),
            Escaping::JsonString => {
                let quoted = serde_json::to_string(original).expect("a String always serializes");
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
    }

    /// Restores `text` up to the point where a token might still be growing, unless `last`.
    /// Returns the restored output and how many input bytes it covers.
    fn restore_prefix(&self, text: &str, escaping: Escaping, last: bool) -> (String, usize) {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        while let Some((span, entry)) = self.find(text.as_bytes(), copied) {
            out.push_str(&text[copied..span.start]);
            if span.end == text.len() && !last {
                // A complete token at the very end may still gain a digit.
                return (out, span.start);
            }
            self.push_original(&mut out, entry, escaping);
            copied = span.end;
        }
        let keep = if last {
            text.len()
        } else {
            copied + self.safe_len(&text[copied..])
        };
        out.push_str(&text[copied..keep]);
        (out, keep)
    }

    /// Length of the part of `tail` that cannot be the start of any token: the tail from the
    /// first place where a prefix, its `_` and some digits could still be on their way.
    fn safe_len(&self, tail: &str) -> usize {
        let from = tail.len().saturating_sub(self.longest);
        (from..tail.len())
            .filter(|&p| tail.is_char_boundary(p))
            .find(|&p| self.could_grow_into_token(&tail.as_bytes()[p..]))
            .unwrap_or(tail.len())
    }

    fn could_grow_into_token(&self, suffix: &[u8]) -> bool {
        self.prefixes.iter().any(|(prefix, numbers)| {
            let prefix = prefix.as_bytes();
            if suffix.len() <= prefix.len() {
                return prefix.starts_with(suffix);
            }
            suffix.starts_with(prefix)
                && suffix[prefix.len()] == b'_'
                && digits_could_grow(&suffix[prefix.len() + 1..], numbers)
        })
    }
}

/// Whether `digits` can still become the number of one of `numbers`' restorable tokens: for
/// each length the number could reach, the numbers written with these first digits form one
/// range.
fn digits_could_grow(digits: &[u8], numbers: &[u32]) -> bool {
    if !digits.iter().all(u8::is_ascii_digit) || digits.len() > MAX_DIGITS {
        return false;
    }
    let restorable_in = |low: u64, high: u64| {
        let high = high.min(numbers.len() as u64);
        (low.max(1)..=high).any(|n| numbers[n as usize - 1] != NOT_RESTORED)
    };
    let value = digits
        .iter()
        .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    (digits.len().max(3)..=MAX_DIGITS).any(|length| {
        // Past three digits a number has no leading zero.
        if length > 3 && digits.first() == Some(&b'0') {
            return false;
        }
        let scale = 10u64.pow((length - digits.len()) as u32);
        let low = if digits.is_empty() { 0 } else { value * scale };
        let high = if digits.is_empty() {
            scale - 1
        } else {
            (value + 1) * scale - 1
        };
        let (low, high) = match length {
            3 => (low, high.min(999)),
            _ => (low.max(10u64.pow(length as u32 - 1)), high),
        };
        low <= high && restorable_in(low, high)
    })
}

/// `PREFIX_NNN` → (`PREFIX`, NNN).
fn split_token(token: &str) -> Option<(&str, u32)> {
    let (prefix, number) = token.rsplit_once('_')?;
    let number: u32 = number.parse().ok()?;
    (number > 0 && !prefix.is_empty()).then_some((prefix, number))
}

/// The not-yet-restorable tail of one streamed content block.
#[derive(Debug, Default)]
pub struct PendingText {
    held: String,
}

impl PendingText {
    /// Adds a piece of streamed text; returns what can be sent on now.
    pub fn push(&mut self, restorer: &Restorer, piece: &str, escaping: Escaping) -> String {
        self.held.push_str(piece);
        let (out, consumed) = restorer.restore_prefix(&self.held, escaping, false);
        self.held.drain(..consumed);
        out
    }

    /// The block ended: everything still held, restored.
    pub fn finish(&mut self, restorer: &Restorer, escaping: Escaping) -> String {
        let (out, _) = restorer.restore_prefix(&self.held, escaping, true);
        self.held.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restorer(pairs: &[(&str, &str)]) -> Restorer {
        let mut table = TokenTable::default();
        for (prefix, original) in pairs {
            table.token_for(prefix, "k", original);
        }
        Restorer::new(&table)
    }

    #[test]
    fn whole_tokens_only() {
        let r = restorer(&[("EC2_INSTANCE", "i-0aaaaaaaaaaaaaaaa")]);
        assert_eq!(
            r.restore("run EC2_INSTANCE_001.", Escaping::Raw),
            "run i-0aaaaaaaaaaaaaaaa."
        );
        assert_eq!(
            r.restore("EC2_INSTANCE_0010", Escaping::Raw),
            "EC2_INSTANCE_0010"
        );
    }

    #[test]
    fn json_escaping_applies_inside_partial_json() {
        let r = restorer(&[("CUSTOM", "a\"b")]);
        assert_eq!(
            r.restore("{\"x\":\"CUSTOM_001\"}", Escaping::JsonString),
            "{\"x\":\"a\\\"b\"}"
        );
    }

    #[test]
    fn token_split_across_pieces_is_held_then_restored() {
        let r = restorer(&[("EC2_INSTANCE", "i-0aaaaaaaaaaaaaaaa")]);
        let mut pending = PendingText::default();
        assert_eq!(pending.push(&r, "stop EC2_INS", Escaping::Raw), "stop ");
        assert_eq!(pending.push(&r, "TANCE_001", Escaping::Raw), "");
        assert_eq!(
            pending.push(&r, " now", Escaping::Raw),
            "i-0aaaaaaaaaaaaaaaa now"
        );
        assert_eq!(
            pending.finish(&r, Escaping::Raw),
            "",
            "nothing is left held"
        );
    }

    #[test]
    fn text_that_cannot_become_a_token_is_not_held() {
        let r = restorer(&[("EC2_INSTANCE", "i-0aaaaaaaaaaaaaaaa")]);
        let mut pending = PendingText::default();
        assert_eq!(
            pending.push(&r, "EC2 instances: ", Escaping::Raw),
            "EC2 instances: "
        );
        assert_eq!(
            pending.push(&r, "EC2_INSTANCE_002", Escaping::Raw),
            "EC2_INSTANCE_002"
        );
    }

    #[test]
    fn a_token_is_found_by_prefix_and_number_among_thousands() {
        let mut table = TokenTable::default();
        for n in 0..2500 {
            table.token_for("EC2_INSTANCE", "ec2_instance", &format!("i-{n:017x}"));
        }
        table.token_for("IAM_ROLE", "iam_role", "deploy-runner");
        table.token_for("ROLE", "custom:role", "other-role");
        table.token_for("TEAM_001", "custom:team", "payments");
        let r = Restorer::new(&table);
        assert_eq!(
            r.restore(
                "EC2_INSTANCE_001 EC2_INSTANCE_2500 EC2_INSTANCE_2501",
                Escaping::Raw
            ),
            format!("i-{:017x} i-{:017x} EC2_INSTANCE_2501", 0, 2499)
        );
        // Padding is three digits: a longer number with a leading zero was never minted.
        assert_eq!(
            r.restore("EC2_INSTANCE_0001", Escaping::Raw),
            "EC2_INSTANCE_0001"
        );
        // Of two tokens ending at one number, the one that starts first.
        assert_eq!(
            r.restore("(IAM_ROLE_001)", Escaping::Raw),
            "(deploy-runner)"
        );
        assert_eq!(r.restore("xROLE_001", Escaping::Raw), "xother-role");
        assert_eq!(r.restore("TEAM_001_001.", Escaping::Raw), "payments.");
    }

    #[test]
    fn tokens_left_out_stay_and_are_not_held() {
        let mut table = TokenTable::default();
        table.token_for("VPC", "vpc", "vpc-12345678");
        table.token_for("ACCOUNT", "account", "123456789012");
        let r = Restorer::restoring(Arc::new(table.into_entries()), |e| e.kind != "account");
        assert_eq!(
            r.restore("VPC_001 in ACCOUNT_001", Escaping::Raw),
            "vpc-12345678 in ACCOUNT_001"
        );
        let mut pending = PendingText::default();
        assert_eq!(
            pending.push(&r, "in ACCOUNT_00", Escaping::Raw),
            "in ACCOUNT_00"
        );
        assert_eq!(pending.push(&r, " and VPC_00", Escaping::Raw), " and ");
        assert_eq!(pending.push(&r, "2 or VPC_0", Escaping::Raw), "VPC_002 or ");
        assert_eq!(pending.finish(&r, Escaping::Raw), "VPC_0");
    }

    #[test]
    fn finish_flushes_a_trailing_token() {
        let r = restorer(&[("VPC", "vpc-12345678")]);
        let mut pending = PendingText::default();
        assert_eq!(pending.push(&r, "in VPC_001", Escaping::Raw), "in ");
        assert_eq!(pending.finish(&r, Escaping::Raw), "vpc-12345678");
    }
}
