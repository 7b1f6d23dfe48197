//! Finds this request's tokens in response text and puts the originals back.
//!
//! A token is replaced only where it stands whole: the longest token starting at a position
//! wins, and a token followed by another digit is not a token (`EC2_INSTANCE_100` inside
//! `EC2_INSTANCE_1000`). For streamed text, [`PendingText`] holds back only a tail that could
//! still grow into one of the table's tokens.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::mask::{TokenEntry, TokenTable};

/// How an original is written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Plain text (`text_delta`, decoded JSON strings).
    Raw,
    /// Inside JSON source text (`input_json_delta.partial_json`).
    JsonString,
}

/// The restore side of one request's token table.
pub struct Restorer {
    finder: Option<AhoCorasick>,
    raw: Vec<String>,
    json: Vec<String>,
    /// Tokens sorted, to ask "could this tail still become a token?".
    sorted: Vec<String>,
}

impl Restorer {
    pub fn new(table: &TokenTable) -> Restorer {
        Restorer::with_entries(table.entries().iter())
    }

    /// Restores only `entries` (of one request's table): tokens left out stay in the answer.
    pub fn with_entries<'t>(entries: impl Iterator<Item = &'t TokenEntry> + Clone) -> Restorer {
        let tokens: Vec<&str> = entries.clone().map(|e| e.token.as_str()).collect();
        let finder = (!tokens.is_empty()).then(|| {
            // Built for every request, and answers are short: an automaton that is quick to
            // build (a DFA of 80 tokens took 0.1 ms and a 200 KB table) beats a fast one.
            AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .match_kind(MatchKind::LeftmostLongest)
                .build(&tokens)
                .expect("tokens build an automaton")
        });
        let raw: Vec<String> = entries.map(|e| e.original.clone()).collect();
        let json = raw
            .iter()
            .map(|o| {
                let quoted = serde_json::to_string(o).expect("a String always serializes");
                quoted[1..quoted.len() - 1].to_owned()
            })
            .collect();
        let mut sorted: Vec<String> = tokens.iter().map(|t| (*t).to_owned()).collect();
        sorted.sort_unstable();
        Restorer {
            finder,
            raw,
            json,
            sorted,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.finder.is_none()
    }

    /// True if `text` contains any of the tokens (whole or not).
    pub fn mentions_token(&self, text: &[u8]) -> bool {
        self.finder.as_ref().is_some_and(|f| f.is_match(text))
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

    /// Restores `text` up to the point where a token might still be growing, unless `last`.
    /// Returns the restored output and how many input bytes it covers.
    fn restore_prefix(&self, text: &str, escaping: Escaping, last: bool) -> (String, usize) {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let t = text.as_bytes();
        if let Some(finder) = &self.finder {
            for m in finder.find_iter(text) {
                if m.end() == text.len() && !last {
                    // A complete token at the very end may still gain a digit.
                    out.push_str(&text[copied..m.start()]);
                    return (out, m.start());
                }
                if t.get(m.end()).is_some_and(u8::is_ascii_digit) {
                    continue;
                }
                out.push_str(&text[copied..m.start()]);
                let originals = match escaping {
                    Escaping::Raw => &self.raw,
                    Escaping::JsonString => &self.json,
                };
                out.push_str(&originals[m.pattern().as_usize()]);
                copied = m.end();
            }
        }
        let keep = if last {
            text.len()
        } else {
            copied + self.safe_len(&text[copied..])
        };
        out.push_str(&text[copied..keep]);
        (out, keep)
    }

    /// Length of the part of `tail` that cannot be the start of any token.
    fn safe_len(&self, tail: &str) -> usize {
        let longest = self.sorted.iter().map(String::len).max().unwrap_or(0);
        let from = tail.len().saturating_sub(longest);
        (from..tail.len())
            .filter(|&p| tail.is_char_boundary(p))
            .find(|&p| {
                let suffix = &tail[p..];
                let at = self.sorted.partition_point(|t| t.as_str() < suffix);
                self.sorted.get(at).is_some_and(|t| t.starts_with(suffix))
            })
            .unwrap_or(tail.len())
    }
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
    fn finish_flushes_a_trailing_token() {
        let r = restorer(&[("VPC", "vpc-12345678")]);
        let mut pending = PendingText::default();
        assert_eq!(pending.push(&r, "in VPC_001", Escaping::Raw), "in ");
        assert_eq!(pending.finish(&r, Escaping::Raw), "vpc-12345678");
    }
}
