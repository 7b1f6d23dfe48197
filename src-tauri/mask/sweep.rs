//! The sweep: an original found by its context (an account inside an ARN, a bucket after
//! `--bucket`) is masked at every other whole-word occurrence in the request, before or
//! after the place it was found, even where a longer finding covered it. A resource name
//! spreads only when it is distinctive (`catalog::names::is_distinctive`).

use std::ops::Range;

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, MatchKind, Span};

use super::engine::{Engine, Finding};
use super::scan::{boundary_after, boundary_before};

/// The engine's `findings` in `text`, plus every other whole-word occurrence of an original
/// that was found by its context — an account ID seen once inside an ARN is masked where it
/// stands bare, before the ARN or after it, anywhere in the request. (Kinds recognised by
/// their own shape need no sweep: the engine finds them wherever they stand.) Tokens are
/// still numbered by first occurrence in walk order, so an unchanged prefix masks the same
/// unless a later turn reveals that a bare word in it was an identifier all along.
///
/// `hidden` holds the context-found originals that an overlapping finding covers where they
/// stand (the account inside an ARN): they are swept for like the others.
pub(super) fn sweep(
    engine: &Engine,
    text: &str,
    mut findings: Vec<Finding>,
    hidden: &[Finding],
) -> Vec<Finding> {
    // Each distinct original found by context, and its rule.
    let mut originals: Vec<(&str, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in findings.iter().filter(|f| !f.token_text).chain(hidden) {
        let original = &text[f.span.clone()];
        if engine.rules()[f.rule].spread.reaches(original) && seen.insert(original) {
            originals.push((original, f.rule));
        }
    }
    if originals.is_empty() {
        return findings;
    }
    let sweep = Sweep::new(originals.iter().map(|(o, _)| *o));
    let t = text.as_bytes();
    let mut added = Vec::new();
    // Findings are sorted and do not overlap, and matches come in order: only the first
    // finding that ends after a match starts can cover it.
    let mut next = 0;
    sweep.each_match(text, |span, pattern| {
        let (_, rule) = originals[pattern];
        let whole_word = boundary_before(t, span.start) && boundary_after(t, span.end);
        while findings.get(next).is_some_and(|f| f.span.end <= span.start) {
            next += 1;
        }
        let covered = findings.get(next).is_some_and(|f| f.span.start < span.end);
        if whole_word && !covered {
            added.push(Finding {
                span,
                rule,
                token_text: false,
            });
        }
    });
    if !added.is_empty() {
        findings.extend(added);
        findings.sort_unstable_by_key(|f| f.span.start);
    }
    findings
}

/// The search for the originals found by context: a few patterns, searched once, so quick
/// to build matters as much as quick to run. Up to a few dozen patterns a packed (Teddy)
/// searcher needs no automaton at all; beyond that, a contiguous NFA.
enum Sweep {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Sweep {
    fn new<'a>(originals: impl Iterator<Item = &'a str> + Clone) -> Sweep {
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .builder()
            .extend(originals.clone())
            .build();
        match packed {
            Some(searcher) => Sweep::Packed(searcher),
            None => Sweep::Automaton(
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(originals)
                    .expect("originals build an automaton"),
            ),
        }
    }

    /// Calls `found(span, pattern)` for each leftmost-longest, non-overlapping match in `text`.
    fn each_match(&self, text: &str, mut found: impl FnMut(Range<usize>, usize)) {
        match self {
            Sweep::Packed(searcher) => {
                let mut at = 0;
                while let Some(m) = searcher.find_in(text, Span::from(at..text.len())) {
                    found(m.range(), m.pattern().as_usize());
                    at = m.end();
                }
            }
            Sweep::Automaton(automaton) => {
                for m in automaton.find_iter(text) {
                    found(m.range(), m.pattern().as_usize());
                }
            }
        }
    }
}
