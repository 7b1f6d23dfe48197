//! The user's own lists. **Always mask**: values masked wherever they stand, whatever they
//! look like — literals and simple globs (`acme-*`, `*.corp.example.com`), ASCII
//! case-insensitive, whole words, never regexes (a `.` or `(` in an entry is that
//! character). Every entry is compiled into one automaton, searched once per scan over the
//! lower-cased text the engine's word anchors already use, so thousands of entries cost one
//! pass. **Never mask**: values that must stay readable (a public bucket, AWS's documentation
//! examples); applied after every other rule, so the list always wins where the value stands
//! on its own.

use std::collections::HashSet;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

use super::engine::Finding;
use super::scan::{boundary_after, boundary_before};

/// The user's own lists, as the engine takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    pub always: Vec<AlwaysMask>,
    pub never: Vec<String>,
    /// Values known to be the user's (from their AWS configuration), each masked exactly,
    /// wherever it stands, as its category.
    pub known: Vec<KnownValue>,
}

/// A value known to be an identifier of one category (a catalog kind id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownValue {
    pub value: String,
    pub kind: &'static str,
}

/// One always-mask entry, as `config.toml` and the dashboard hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlwaysMask {
    /// A literal, or a glob with one `*` at its start, its end or both.
    pub value: String,
    /// Tokens are `{token_prefix}_{n:03}`.
    #[serde(default = "default_prefix")]
    pub token_prefix: String,
}

/// The token prefix of an always-mask entry that names none.
pub const DEFAULT_PREFIX: &str = "LISTED";

fn default_prefix() -> String {
    DEFAULT_PREFIX.to_owned()
}

/// The shortest literal part an entry may have: `a*` would mask every word starting with a.
pub const LITERAL_AT_LEAST: usize = 3;

/// Why an always-mask entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("always-mask entry {0:?}: a `*` may stand only at the start or the end")]
    InnerStar(String),
    #[error("always-mask entry {0:?}: needs at least {LITERAL_AT_LEAST} characters besides `*`")]
    TooShort(String),
    #[error("always-mask entry {0:?}: only ASCII text is supported")]
    NotAscii(String),
}

/// Where an entry's `*`s stand: the match grows over name characters on those sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    grows_before: bool,
    grows_after: bool,
}

/// A known value: its exact text, a whole word.
pub(super) const EXACT: Shape = Shape {
    grows_before: false,
    grows_after: false,
};

/// An entry's literal part and its shape, checked.
pub(super) fn parse_entry(value: &str) -> Result<(String, Shape), ListError> {
    let value = value.trim();
    let grows_before = value.starts_with('*');
    let grows_after = value.len() > 1 && value.ends_with('*');
    let literal = value.trim_start_matches('*').trim_end_matches('*');
    if literal.contains('*') {
        return Err(ListError::InnerStar(value.to_owned()));
    }
    if !literal.is_ascii() {
        return Err(ListError::NotAscii(value.to_owned()));
    }
    if literal.len() < LITERAL_AT_LEAST {
        return Err(ListError::TooShort(value.to_owned()));
    }
    Ok((
        literal.to_ascii_lowercase(),
        Shape {
            grows_before,
            grows_after,
        },
    ))
}

/// A byte a glob's `*` may stand for: a name's letters, digits and inner punctuation.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// The always-mask entries of one engine, compiled.
#[derive(Default)]
pub(super) struct AlwaysSearch {
    automaton: Option<AhoCorasick>,
    /// Per automaton pattern: each entry with that literal, as (shape, rule index).
    entries: Vec<Vec<(Shape, usize)>>,
}

impl AlwaysSearch {
    /// Compiles `entries`, each given with the index of the rule its tokens belong to.
    pub(super) fn new(entries: &[(String, Shape, usize)]) -> AlwaysSearch {
        let mut literals: Vec<&str> = Vec::new();
        let mut by_literal: Vec<Vec<(Shape, usize)>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (literal, shape, rule) in entries {
            let at = *index.entry(literal.as_str()).or_insert_with(|| {
                literals.push(literal);
                by_literal.push(Vec::new());
                literals.len() - 1
            });
            by_literal[at].push((*shape, *rule));
        }
        if literals.is_empty() {
            return AlwaysSearch::default();
        }
        // Every match, overlapping ones included: `acme` and `acme-*` may both apply, and the
        // engine's overlap rule (earliest, then longest) settles which is kept. A DFA, since
        // the automaton is built once per settings change and searched on every request.
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .expect("always-mask literals build an automaton");
        AlwaysSearch {
            automaton: Some(automaton),
            entries: by_literal,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// The findings of every entry in `text[part]`, whose lower-cased copy is `lowered`.
    pub(super) fn find(
        &self,
        text: &[u8],
        lowered: &[u8],
        part: Range<usize>,
        findings: &mut Vec<Finding>,
    ) {
        let Some(automaton) = &self.automaton else {
            return;
        };
        for m in automaton.find_overlapping_iter(lowered) {
            let hit = part.start + m.start()..part.start + m.end();
            for &(shape, rule) in &self.entries[m.pattern().as_usize()] {
                if let Some(span) = grow(text, hit.clone(), shape) {
                    findings.push(Finding {
                        span,
                        rule,
                        token_text: false,
                    });
                }
            }
        }
    }
}

/// The whole word an entry's literal at `hit` stands for, if it stands as one.
fn grow(t: &[u8], hit: Range<usize>, shape: Shape) -> Option<Range<usize>> {
    let mut start = hit.start;
    if shape.grows_before {
        while start > 0 && is_name_byte(t[start - 1]) {
            start -= 1;
        }
        if start == hit.start {
            return None;
        }
    }
    let mut end = hit.end;
    if shape.grows_after {
        while end < t.len() && is_name_byte(t[end]) {
            end += 1;
        }
        // A sentence's full stop is not part of the name.
        while end > hit.end && t[end - 1] == b'.' {
            end -= 1;
        }
        if end == hit.end {
            return None;
        }
    }
    (boundary_before(t, start) && boundary_after(t, end)).then_some(start..end)
}

/// The never-mask values, compared ASCII case-insensitively.
#[derive(Default)]
pub(super) struct NeverMask {
    values: HashSet<String>,
}

impl NeverMask {
    pub(super) fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> NeverMask {
        NeverMask {
            values: values
                .into_iter()
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty())
                .collect(),
        }
    }

    pub(super) fn contains(&self, original: &str) -> bool {
        !self.values.is_empty() && self.values.contains(&original.to_ascii_lowercase())
    }

    /// `findings` of `text` without those whose original is on the list. Token-shaped text
    /// is always kept: every token the upstream sees must be one this request minted.
    pub(super) fn apply(&self, text: &str, mut findings: Vec<Finding>) -> Vec<Finding> {
        if !self.values.is_empty() {
            findings.retain(|f| f.token_text || !self.contains(&text[f.span.clone()]));
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(entries: &[&str], text: &str) -> Vec<String> {
        let compiled: Vec<_> = entries
            .iter()
            .map(|e| {
                let (literal, shape) = parse_entry(e).expect("valid entry");
                (literal, shape, 0)
            })
            .collect();
        let search = AlwaysSearch::new(&compiled);
        let mut findings = Vec::new();
        let lowered = text.to_ascii_lowercase();
        search.find(
            text.as_bytes(),
            lowered.as_bytes(),
            0..text.len(),
            &mut findings,
        );
        findings
            .iter()
            .map(|f| text[f.span.clone()].to_owned())
            .collect()
    }

    #[test]
    fn literals_and_globs_match_whole_words_in_any_case() {
        assert_eq!(
            spans(&["Bluebird"], "project BLUEBIRD, bluebirds, bluebird."),
            ["BLUEBIRD", "bluebird"]
        );
        assert_eq!(
            spans(&["acme-*"], "acme-prod acme- acme-ledger-v2. xacme-prod"),
            ["acme-prod", "acme-ledger-v2"]
        );
        assert_eq!(
            spans(
                &["*.corp.example.com"],
                "https://git.corp.example.com/x and .corp.example.com"
            ),
            ["git.corp.example.com"]
        );
        assert_eq!(
            spans(&["*ledger*"], "the acme-ledger-db and ledger"),
            ["acme-ledger-db"]
        );
    }

    #[test]
    fn regex_metacharacters_are_literals() {
        assert_eq!(spans(&["a.b(c)"], "a.b(c) axb(c)"), ["a.b(c)"]);
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        assert_eq!(
            parse_entry("ac*me"),
            Err(ListError::InnerStar("ac*me".into()))
        );
        assert_eq!(parse_entry("a*"), Err(ListError::TooShort("a*".into())));
        assert_eq!(parse_entry("*"), Err(ListError::TooShort("*".into())));
        assert_eq!(parse_entry("café"), Err(ListError::NotAscii("café".into())));
    }
}
