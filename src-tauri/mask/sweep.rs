//! The sweep: an original found by its context (an account inside an ARN, a bucket after
//! `--bucket`) is masked at every other whole-word occurrence in the request, before or
//! after the place it was found, even where a longer finding covered it. A resource name
//! spreads only when it is distinctive (`catalog::names::is_distinctive`).

use std::ops::Range;

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, MatchKind, Span};
use rustc_hash::{FxHashMap, FxHashSet};

use super::byte_sets::words;
use super::engine::{Engine, Finding};
use super::scan::{boundary_after, boundary_before, run_len};
use super::word_filter::WordFilter;

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
    let mut seen = FxHashSet::default();
    for f in findings.iter().filter(|f| !f.token_text).chain(hidden) {
        let original = &text[f.span.clone()];
        if engine.rules()[f.rule].spread.reaches(original) && seen.insert(original) {
            originals.push((original, f.rule));
        }
    }
    if originals.is_empty() {
        return findings;
    }
    let t = text.as_bytes();
    let occurrences = Occurrences::new(&originals).find(text);
    let mut added = Vec::new();
    let mut taken_to = 0;
    // Findings are sorted and do not overlap: only the first finding that ends after an
    // occurrence starts can cover it.
    let mut next = 0;
    for (span, pattern) in occurrences {
        if span.start < taken_to || !boundary_before(t, span.start) || !boundary_after(t, span.end)
        {
            continue;
        }
        while findings.get(next).is_some_and(|f| f.span.end <= span.start) {
            next += 1;
        }
        if findings.get(next).is_some_and(|f| f.span.start < span.end) {
            continue;
        }
        taken_to = span.end;
        added.push(Finding {
            span,
            rule: originals[pattern].1,
            token_text: false,
        });
    }
    if !added.is_empty() {
        findings.extend(added);
        findings.sort_unstable_by_key(|f| f.span.start);
    }
    findings
}

/// The search for the originals. One that begins and ends with a letter or digit (nearly
/// every one) can only stand as a whole word from the start of a word of the text to the end
/// of one: it is looked up at each word start by that first word, then whole, at each of
/// the lengths that originals beginning with the word have. The rest, a few at most, are
/// left to a packed searcher or a small automaton, and so are the originals of a first word
/// with more than [`MAX_LENGTHS`] lengths, so that no word start costs more than that many
/// checks. A request carries thousands of originals: building an automaton of them all
/// cost more than the search it served.
struct Occurrences<'a> {
    /// Each original looked up by its first word, and its index.
    whole: FxHashMap<&'a [u8], usize>,
    /// The lengths of the originals looked up by each first word, longest first.
    lengths_by_first_word: FxHashMap<&'a [u8], Vec<usize>>,
    /// Holds the first words of `lengths_by_first_word`.
    filter: WordFilter,
    others: Option<Sweep>,
    /// Index into the originals of each pattern of `others`.
    other_patterns: Vec<usize>,
}

const MAX_LENGTHS: usize = 16;

impl<'a> Occurrences<'a> {
    fn new(originals: &[(&'a str, usize)]) -> Self {
        let mut by_first_word: FxHashMap<&[u8], Vec<usize>> = FxHashMap::default();
        let mut other_patterns = Vec::new();
        for (i, (original, _)) in originals.iter().enumerate() {
            let o = original.as_bytes();
            if o.first().is_some_and(u8::is_ascii_alphanumeric)
                && o.last().is_some_and(u8::is_ascii_alphanumeric)
            {
                let first_word = &o[..run_len(o, 0, |b| b.is_ascii_alphanumeric())];
                by_first_word.entry(first_word).or_default().push(i);
            } else {
                other_patterns.push(i);
            }
        }
        let mut whole = FxHashMap::default();
        let mut lengths_by_first_word = FxHashMap::default();
        let mut filter = WordFilter::default();
        for (first_word, members) in by_first_word {
            let mut lengths: Vec<usize> = members.iter().map(|&i| originals[i].0.len()).collect();
            lengths.sort_unstable_by(|a, b| b.cmp(a));
            lengths.dedup();
            if lengths.len() > MAX_LENGTHS {
                other_patterns.extend(members);
                continue;
            }
            filter.insert(first_word);
            lengths_by_first_word.insert(first_word, lengths);
            whole.extend(members.into_iter().map(|i| (originals[i].0.as_bytes(), i)));
        }
        let others = (!other_patterns.is_empty())
            .then(|| Sweep::new(other_patterns.iter().map(|&i| originals[i].0)));
        Occurrences {
            whole,
            lengths_by_first_word,
            filter,
            others,
            other_patterns,
        }
    }

    /// Where the originals stand in `text`, with their index, in order (and possibly
    /// overlapping): at each word start the longest original looked up by its first word that
    /// stands there as a whole word, and the other search's leftmost-longest matches (whose
    /// edges the caller checks).
    fn find(&self, text: &str) -> Vec<(Range<usize>, usize)> {
        let t = text.as_bytes();
        let mut found = Vec::new();
        for word in words(t) {
            let w = &t[word.clone()];
            if !self.filter.may_hold(w) {
                continue;
            }
            let Some(lengths) = self.lengths_by_first_word.get(w) else {
                continue;
            };
            let start = word.start;
            let standing = lengths.iter().find_map(|&length| {
                let end = start + length;
                let ends_a_word =
                    end <= t.len() && t[end - 1].is_ascii_alphanumeric() && boundary_after(t, end);
                if !ends_a_word {
                    return None;
                }
                self.whole.get(&t[start..end]).map(|&i| (start..end, i))
            });
            found.extend(standing);
        }
        if let Some(others) = &self.others {
            let by_words = found.len();
            others.each_match(text, |span, pattern| {
                found.push((span, self.other_patterns[pattern]));
            });
            // Each search gives its matches in order; together they may overlap.
            if by_words > 0 && found.len() > by_words {
                found.sort_unstable_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
            }
        }
        found
    }
}

/// The search for the originals the word lookup leaves (an edge that is not a letter or
/// digit, or too many lengths for one first word): a few patterns, searched once, so quick to
/// build matters as much as quick to run. Up to a few dozen patterns a packed (Teddy)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::mask::engine::Engine;
    use crate::mask::request::mask_text;

    /// Where each original is found by its context.
    const SOURCES: &str = "arn:aws:iam::123456789012:role/x --function-name billing-export \
                           SecretAccessKey=/K7MDENG/bPxRfiCYEXAMPLEKEYz \
                           --function-name billing-export-v2 ";
    const ORIGINALS: [&str; 4] = [
        "123456789012",
        "billing-export",
        "billing-export-v2",
        "/K7MDENG/bPxRfiCYEXAMPLEKEYz",
    ];
    /// Mentions of the originals in every kind of surrounding, and words alike in part.
    const FRAGMENTS: [&str; 16] = [
        "123456789012",
        "billing-export",
        "billing-export-v2",
        "billing-export-v3",
        "/K7MDENG/bPxRfiCYEXAMPLEKEYz",
        "x",
        "7",
        " ",
        "-",
        "/",
        ".",
        "\n",
        "billing",
        "1234567890123",
        "bill",
        "K7MDENG",
    ];

    /// True when `original` stands somewhere in `text` with no letter or digit beside it.
    fn stands_alone(text: &str, original: &str) -> bool {
        let t = text.as_bytes();
        text.match_indices(original).any(|(at, _)| {
            let end = at + original.len();
            (at == 0 || !t[at - 1].is_ascii_alphanumeric())
                && t.get(end).is_none_or(|b| !b.is_ascii_alphanumeric())
        })
    }

    #[test]
    fn originals_of_one_first_word_in_many_lengths_are_all_found() {
        let names: Vec<String> = (1..=super::MAX_LENGTHS + 4)
            .map(|n| format!("billing-{}", "x".repeat(n)))
            .collect();
        let labelled: String = names
            .iter()
            .map(|n| format!("--function-name {n}\n"))
            .collect();
        let bare = names.join(", ");
        let masked = mask_text(&Engine::with_all_builtins(), &format!("{bare}\n{labelled}"));
        for name in &names {
            assert!(
                !stands_alone(&masked.output, name),
                "{name} in {}",
                masked.output
            );
        }
    }

    proptest! {
        #[test]
        fn no_original_found_by_context_stands_alone_anywhere(
            before in proptest::collection::vec(0..FRAGMENTS.len(), 0..40),
            after in proptest::collection::vec(0..FRAGMENTS.len(), 0..40),
        ) {
            let join = |picks: &[usize]| picks.iter().map(|&i| FRAGMENTS[i]).collect::<String>();
            let text = format!("{} {SOURCES} {}", join(&before), join(&after));
            let masked = mask_text(&Engine::with_all_builtins(), &text);
            for original in ORIGINALS {
                prop_assert!(!stands_alone(&masked.output, original), "{original} in {}", masked.output);
            }
        }
    }
}
