//! The user's own lists. **Always mask**: values masked wherever they stand, whatever they
//! look like — literals and simple globs (`acme-*`, `*.corp.example.com`), ASCII
//! case-insensitive, whole words, never regexes (a `.` or `(` in an entry is that
//! character). Entries are searched once per scan over the lower-cased text the engine's
//! word anchors already use, nearly all by a word of theirs looked up at each word of the
//! text (`AlwaysSearch`), so thousands of entries cost one pass. **Never mask**: values that
//! must stay readable (a public bucket, AWS's documentation examples); applied after every
//! other rule, so the list always wins where the value stands on its own.

use std::collections::HashSet;
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::byte_sets::words;
use super::engine::Finding;
use super::scan::{boundary_after, boundary_before};
use super::word_filter::WordFilter;

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
    #[error("always-mask entry {0:?}: control characters (tabs, line breaks, NUL) cannot be part of a value")]
    Control(String),
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
    // A value is one word or name of one string: a control byte would let it run across the
    // ends of the strings the scan reads (a NUL or 0x01 each).
    if literal.bytes().any(|b| b.is_ascii_control()) {
        return Err(ListError::Control(value.to_owned()));
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

/// The always-mask entries of one engine, compiled. Nearly every literal holds a word (a run
/// of letters and digits) that must stand as a whole word of the text wherever the entry
/// matches: `acme` in `acme-*`, `ledger` in `*.ledger.corp.example.com`. Such a literal is
/// found by that word, its *anchor*, looked up at each word of the text; the rest (`*ledger*`,
/// `acme*`: every word of theirs may run on into the text's) are one automaton's. A lookup per
/// word costs a fraction of an automaton's walk over every byte, which with a thousand
/// literals has no prefilter left to skip with.
#[derive(Default)]
pub(super) struct AlwaysSearch {
    /// Each distinct literal, lower-cased, with each entry that has it, as (shape, rule).
    literals: Vec<(String, Vec<(Shape, usize)>)>,
    /// By anchor word: each literal found by it, with the anchor's offset in the literal.
    by_anchor: FxHashMap<Box<[u8]>, Vec<(usize, usize)>>,
    /// Holds the anchor words.
    filter: WordFilter,
    /// The literals without an anchor, and the index of each of its patterns.
    unanchored: Option<(AhoCorasick, Vec<usize>)>,
}

impl AlwaysSearch {
    /// Compiles `entries`, each given with the index of the rule its tokens belong to.
    pub(super) fn new(entries: &[(String, Shape, usize)]) -> AlwaysSearch {
        let mut literals: Vec<(String, Vec<(Shape, usize)>)> = Vec::new();
        let mut index = FxHashMap::default();
        for (literal, shape, rule) in entries {
            let at = *index.entry(literal.as_str()).or_insert_with(|| {
                literals.push((literal.clone(), Vec::new()));
                literals.len() - 1
            });
            literals[at].1.push((*shape, *rule));
        }
        if literals.is_empty() {
            return AlwaysSearch::default();
        }
        // A literal's possible anchors: its words that stand whole in every match of every
        // entry with it. The one fewest literals share is taken, so that no word of the text
        // has many literals to try.
        let anchors: Vec<Vec<Range<usize>>> = literals
            .iter()
            .map(|(literal, entries)| whole_words(literal.as_bytes(), entries))
            .collect();
        let mut sharing: FxHashMap<&[u8], usize> = FxHashMap::default();
        for (words, (literal, _)) in anchors.iter().zip(&literals) {
            for word in words {
                *sharing
                    .entry(&literal.as_bytes()[word.clone()])
                    .or_default() += 1;
            }
        }
        let mut by_anchor: FxHashMap<Box<[u8]>, Vec<(usize, usize)>> = FxHashMap::default();
        let mut filter = WordFilter::default();
        let mut unanchored = Vec::new();
        for (at, (words, (literal, _))) in anchors.iter().zip(&literals).enumerate() {
            let literal = literal.as_bytes();
            let anchor = words
                .iter()
                .min_by_key(|w| (sharing[&literal[(*w).clone()]], std::cmp::Reverse(w.len())));
            match anchor {
                Some(word) => {
                    let anchor = &literal[word.clone()];
                    filter.insert(anchor);
                    by_anchor
                        .entry(anchor.into())
                        .or_default()
                        .push((at, word.start));
                }
                None => unanchored.push(at),
            }
        }
        // Every match, overlapping ones included: `acme` and `acme-*` may both apply, and the
        // engine's overlap rule (earliest, then longest) settles which is kept. A DFA, since
        // the automaton is built once per settings change and searched on every request.
        let unanchored = (!unanchored.is_empty()).then(|| {
            let automaton = AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::Standard)
                .build(unanchored.iter().map(|&at| &literals[at].0))
                .expect("always-mask literals build an automaton");
            (automaton, unanchored)
        });
        AlwaysSearch {
            literals,
            by_anchor,
            filter,
            unanchored,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.literals.is_empty()
    }

    /// The findings of every entry in `text[part]`, whose lower-cased copy is `lowered`.
    pub(super) fn find(
        &self,
        text: &[u8],
        lowered: &[u8],
        part: Range<usize>,
        findings: &mut Vec<Finding>,
    ) {
        let mut found = |literal: usize, at: usize| {
            let hit = part.start + at..part.start + at + self.literals[literal].0.len();
            for &(shape, rule) in &self.literals[literal].1 {
                if let Some(span) = grow(text, hit.clone(), shape) {
                    findings.push(Finding {
                        span,
                        rule,
                        token_text: false,
                    });
                }
            }
        };
        if !self.by_anchor.is_empty() {
            for word in words(lowered) {
                let w = &lowered[word.clone()];
                if !self.filter.may_hold(w) {
                    continue;
                }
                let Some(literals) = self.by_anchor.get(w) else {
                    continue;
                };
                for &(literal, offset) in literals {
                    let Some(at) = word.start.checked_sub(offset) else {
                        continue;
                    };
                    if lowered[at..].starts_with(self.literals[literal].0.as_bytes()) {
                        found(literal, at);
                    }
                }
            }
        }
        if let Some((automaton, patterns)) = &self.unanchored {
            for m in automaton.find_overlapping_iter(lowered) {
                found(patterns[m.pattern().as_usize()], m.start());
            }
        }
    }
}

/// The words of `literal` (runs of letters and digits) that stand whole in the text wherever
/// one of `entries` matches: inside the literal, a word is bounded by other bytes; at the
/// literal's start, by the boundary an entry without a leading `*` asks for; at its end, by
/// the one an entry without a trailing `*` asks for.
fn whole_words(literal: &[u8], entries: &[(Shape, usize)]) -> Vec<Range<usize>> {
    let grows_before = entries.iter().any(|(shape, _)| shape.grows_before);
    let grows_after = entries.iter().any(|(shape, _)| shape.grows_after);
    words(literal)
        .filter(|w| (w.start > 0 || !grows_before) && (w.end < literal.len() || !grows_after))
        .collect()
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
        found(entries, text)
            .into_iter()
            .map(|span| text[span].to_owned())
            .collect()
    }

    fn found(entries: &[&str], text: &str) -> Vec<Range<usize>> {
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
        findings.into_iter().map(|f| f.span).collect()
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

    /// Every entry's findings as one overlapping automaton of all the literals finds them:
    /// the search the anchors replace.
    fn spans_by_automaton(entries: &[&str], text: &str) -> Vec<Range<usize>> {
        let parsed: Vec<_> = entries
            .iter()
            .map(|e| parse_entry(e).expect("valid"))
            .collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(parsed.iter().map(|(literal, _)| literal))
            .expect("builds");
        let lowered = text.to_ascii_lowercase();
        let mut found = Vec::new();
        for m in automaton.find_overlapping_iter(&lowered) {
            let literal = &parsed[m.pattern().as_usize()].0;
            // Each entry with this literal (the automaton reports one pattern per literal).
            for (other, shape) in parsed.iter().filter(|(l, _)| l == literal) {
                let hit = m.start()..m.start() + other.len();
                if let Some(span) = grow(text.as_bytes(), hit, *shape) {
                    found.push(span);
                }
            }
        }
        found.sort_by_key(|s| (s.start, s.end));
        found.dedup();
        found
    }

    proptest::proptest! {
        #[test]
        fn anchors_find_what_an_automaton_of_every_literal_finds(
            entries in proptest::collection::vec("[*]?(ab|ba|a|b|-|[.]|7){3,6}[*]?", 1..12),
            text in "(ab|ba|a|b|-|[.]|7| |x|B){0,60}",
        ) {
            let entries: Vec<&str> = entries
                .iter()
                .map(String::as_str)
                .filter(|e| parse_entry(e).is_ok())
                .collect();
            let mut anchored = found(&entries, &text);
            anchored.sort_by_key(|s| (s.start, s.end));
            anchored.dedup();
            proptest::prop_assert_eq!(anchored, spans_by_automaton(&entries, &text));
        }
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
        for bad in ["acme\0corp", "acme\u{1}corp", "acme\tcorp"] {
            assert_eq!(parse_entry(bad), Err(ListError::Control(bad.into())));
        }
    }
}
