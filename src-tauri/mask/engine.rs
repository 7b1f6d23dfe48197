//! String → spans. Every anchor literal of every enabled kind is found, overlapping ones
//! included, and each hit runs only the matchers of the kinds that own that anchor. Anchors
//! holding a `-`, `.`, `:` or `_` (`i-`, `arn:`, `.amazonaws.com`) are reached from that byte
//! (see `byte_sets`); the rest (`account`, `AKIA` …) by a literal search. Custom patterns (user
//! regexes, which may have no literal to anchor on) run as their own regex searches.
//!
//! Overlapping candidates resolve as: earliest start, then longest, then rule order. The same
//! pass also finds text already shaped like one of the enabled rules' tokens
//! (`EC2_INSTANCE_001` typed by a user): it is masked like an identifier, so every token the
//! upstream sees was minted for this request and restoring is never ambiguous.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::byte_sets::TRIGGERS;
use super::catalog::{Hit, Kind, Spread, CATALOG};
use super::lists::{parse_entry, AlwaysSearch, ListError, Lists, NeverMask, EXACT};
use super::walk_text::{ends_string, KEY_END, STRING_END};

/// A user-defined pattern that behaves like a built-in kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomPattern {
    /// Shown in the UI and used as the rule id (`custom:<name>`).
    pub name: String,
    /// A regex (Rust `regex` syntax); the whole match is masked.
    pub regex: String,
    /// Tokens are `{token_prefix}_{n:03}`; upper-case letters, digits and `_`.
    pub token_prefix: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("custom pattern {name:?}: the regex does not compile: {source}")]
    BadRegex {
        name: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error(
        "custom pattern {name:?}: the regex matches the empty string, which would mask nothing"
    )]
    EmptyMatch { name: String },
    #[error("custom pattern {name:?}: the token prefix {prefix:?} must be upper-case letters, digits and _, starting with a letter")]
    BadPrefix { name: String, prefix: String },
    #[error("custom pattern {name:?}: the token prefix {prefix:?} is already used by {owner}")]
    PrefixTaken {
        name: String,
        prefix: String,
        owner: String,
    },
    #[error("custom pattern needs a name")]
    EmptyName,
    #[error(transparent)]
    List(#[from] ListError),
    #[error("always-mask entry {value:?}: the token prefix {prefix:?} must be upper-case letters, digits and _, starting with a letter")]
    BadListPrefix { value: String, prefix: String },
    #[error("always-mask entry {value:?}: the token prefix {prefix:?} is already used by {owner}")]
    ListPrefixTaken {
        value: String,
        prefix: String,
        owner: String,
    },
}

/// Where a rule's candidates come from.
enum Source {
    Builtin(&'static Kind),
    Custom(Regex),
    /// The always-mask entries with this rule's token prefix.
    Listed,
}

/// An enabled kind or custom pattern, as the engine runs it.
pub struct Rule {
    /// `ec2_instance`, or `custom:<name>`.
    pub id: String,
    pub label: String,
    pub token_prefix: String,
    /// See [`Kind::spread`].
    pub spread: Spread,
    source: Source,
}

/// What an anchor literal triggers.
#[derive(Clone, Copy)]
enum Target {
    /// The matcher of this rule.
    Rule(usize),
    /// `PREFIX_` of this rule's tokens: text already shaped like one of them.
    TokenShape(usize),
}

/// One identifier found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub span: Range<usize>,
    /// Index into [`Engine::rules`].
    pub rule: usize,
    /// The span is literal token-shaped text, not an identifier.
    pub token_text: bool,
}

/// The kind recorded for literal token-shaped text.
pub const TOKEN_TEXT_KIND: &str = "token_text";

/// The compiled set of enabled rules. Built once per settings change; shared read-only by
/// every request.
pub struct Engine {
    rules: Vec<Rule>,
    anchors: Anchors,
    custom_rules: Vec<usize>,
    always: AlwaysSearch,
    never: NeverMask,
}

impl Engine {
    /// Every built-in kind on, no custom patterns.
    pub fn with_all_builtins() -> Engine {
        Engine::new(|_| true, &[]).expect("built-in rules always compile")
    }

    /// Compiles the built-in kinds for which `enabled(id)` holds, plus `custom` patterns.
    pub fn new(
        enabled: impl Fn(&str) -> bool,
        custom: &[CustomPattern],
    ) -> Result<Engine, EngineError> {
        Engine::with_lists(enabled, custom, &Lists::default())
    }

    /// [`Engine::new`], plus the user's always-mask and never-mask `lists`. Always-mask
    /// entries with one token prefix form one rule, `list:<PREFIX>`.
    pub fn with_lists(
        enabled: impl Fn(&str) -> bool,
        custom: &[CustomPattern],
        lists: &Lists,
    ) -> Result<Engine, EngineError> {
        let mut rules: Vec<Rule> = CATALOG
            .iter()
            .filter(|k| enabled(k.id))
            .map(|k| Rule {
                id: k.id.to_owned(),
                label: k.label.to_owned(),
                token_prefix: k.token_prefix.to_owned(),
                spread: k.spread,
                source: Source::Builtin(k),
            })
            .collect();
        let mut custom_rules = Vec::new();
        for pattern in custom {
            let regex = validate_custom(pattern, custom)?;
            custom_rules.push(rules.len());
            rules.push(Rule {
                id: format!("custom:{}", pattern.name),
                label: pattern.name.clone(),
                token_prefix: pattern.token_prefix.clone(),
                spread: Spread::Never,
                source: Source::Custom(regex),
            });
        }

        let mut listed = Vec::new();
        for entry in &lists.always {
            let (literal, shape) = parse_entry(&entry.value)?;
            let prefix = &entry.token_prefix;
            if !enabled(&format!("list:{prefix}")) {
                continue;
            }
            let rule = match rules.iter().position(|r| r.token_prefix == *prefix) {
                Some(at) if matches!(rules[at].source, Source::Listed) => at,
                Some(at) => {
                    return Err(EngineError::ListPrefixTaken {
                        value: entry.value.clone(),
                        prefix: prefix.clone(),
                        owner: rules[at].label.clone(),
                    })
                }
                None => {
                    if !is_token_prefix(prefix) {
                        return Err(EngineError::BadListPrefix {
                            value: entry.value.clone(),
                            prefix: prefix.clone(),
                        });
                    }
                    if let Some(kind) = CATALOG.iter().find(|k| k.token_prefix == prefix) {
                        return Err(EngineError::ListPrefixTaken {
                            value: entry.value.clone(),
                            prefix: prefix.clone(),
                            owner: kind.label.to_owned(),
                        });
                    }
                    rules.push(Rule {
                        id: format!("list:{prefix}"),
                        label: format!("Always mask ({prefix})"),
                        token_prefix: prefix.clone(),
                        spread: Spread::Never,
                        source: Source::Listed,
                    });
                    rules.len() - 1
                }
            };
            listed.push((literal, shape, rule));
        }
        // A known value is masked as its category, while that category is switched on.
        for known in &lists.known {
            let rule = rules.iter().position(|r| r.id == known.kind);
            if let Some(rule) = rule.filter(|_| known.value.is_ascii()) {
                listed.push((known.value.to_ascii_lowercase(), EXACT, rule));
            }
        }

        let mut literals: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<Target>> = Vec::new();
        let mut add = |literal: &str, target: Target| {
            let at = literals
                .iter()
                .position(|l| l == literal)
                .unwrap_or_else(|| {
                    literals.push(literal.to_owned());
                    targets.push(Vec::new());
                    literals.len() - 1
                });
            targets[at].push(target);
        };
        for (index, rule) in rules.iter().enumerate() {
            if let Source::Builtin(kind) = rule.source {
                for anchor in kind.anchors {
                    add(anchor, Target::Rule(index));
                }
            }
            add(
                &format!("{}_", rule.token_prefix),
                Target::TokenShape(index),
            );
        }
        let mut anchors = Anchors::default();
        for (literal, targets) in literals.into_iter().zip(targets) {
            let may_follow = |b: u8| {
                targets.iter().any(|target| match *target {
                    Target::Rule(rule) => match &rules[rule].source {
                        Source::Builtin(kind) => (kind.after_anchor)(b),
                        Source::Custom(_) | Source::Listed => true,
                    },
                    Target::TokenShape(_) => b.is_ascii_digit(),
                })
            };
            let follows: Vec<u8> = (0..=255u8)
                .filter(|&b| may_follow(b))
                .map(|b| b.to_ascii_lowercase())
                .collect();
            anchors.add(literal.into_bytes(), targets, &follows);
        }
        anchors.build_words();
        Ok(Engine {
            rules,
            anchors,
            custom_rules,
            always: AlwaysSearch::new(&listed),
            never: NeverMask::new(lists.never.iter().map(String::as_str)),
        })
    }

    /// `findings` of `text` without those the never-mask list keeps readable.
    pub(super) fn drop_never_masked(&self, text: &str, findings: Vec<Finding>) -> Vec<Finding> {
        self.never.apply(text, findings)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Finds the identifiers (and token-shaped text) in `text`, non-overlapping and in order,
    /// into `findings` (cleared first). `text` may hold many strings, each ended by
    /// [`STRING_END`] or [`KEY_END`]: built-in kinds never match across one, though a key
    /// may name the value in the next string.
    ///
    /// A context-found candidate that lost to an overlapping finding (the account inside an
    /// ARN, the bucket inside an S3 ARN) is kept in [`Scratch::hidden`]: masked where it
    /// stands by the finding that covers it, it is still an original to mask elsewhere.
    pub fn scan(&self, text: &str, scratch: &mut Scratch, findings: &mut Vec<Finding>) {
        findings.clear();
        self.candidates(text, 0..text.len(), scratch, findings);
        scratch.hidden.clear();
        self.resolve(findings, &mut scratch.hidden);
    }

    /// The candidates of the parts of `scan` that this thread takes, one after another
    /// until none is left; several threads may share one scan. Overlapping candidates are
    /// kept: [`Engine::resolve`] settles them once every part is scanned.
    pub fn scan_shared(&self, scan: &SharedScan, scratch: &mut Scratch) -> Vec<Finding> {
        let mut candidates = Vec::new();
        loop {
            let at = scan.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(part) = scan.parts.get(at) else {
                return candidates;
            };
            self.candidates(scan.text, part.clone(), scratch, &mut candidates);
        }
    }

    /// The findings among the candidates of all parts of one [`SharedScan`], in any order:
    /// exactly those [`Engine::scan`] finds in the whole text. Each part finds the anchors
    /// that start in it (parts are cut only after a value's end, which an anchor holds only
    /// as its last byte, so none is cut in two), every matcher still sees the whole text, and
    /// the overlaps are resolved here, over all parts together.
    /// The context-found candidates that lost to an overlapping finding go to `hidden`.
    pub fn resolve(&self, candidates: &mut Vec<Finding>, hidden: &mut Vec<Finding>) {
        if candidates.len() < 2 {
            return;
        }
        candidates.sort_unstable_by(|a, b| {
            a.span
                .start
                .cmp(&b.span.start)
                .then(b.span.end.cmp(&a.span.end))
                .then(a.rule.cmp(&b.rule))
        });
        let mut kept_end = 0;
        candidates.retain(|f| {
            let keep = f.span.start >= kept_end;
            if keep {
                kept_end = f.span.end;
            } else if !f.token_text && self.rules[f.rule].spread != Spread::Never {
                hidden.push(f.clone());
            }
            keep
        });
    }

    /// The candidates of every anchor that stands in `part` of `text` (which starts and ends
    /// at the text's edges or just after a value's end), overlapping ones included, into
    /// `findings`.
    fn candidates(
        &self,
        text: &str,
        part: Range<usize>,
        scratch: &mut Scratch,
        findings: &mut Vec<Finding>,
    ) {
        let t = text.as_bytes();
        let mut on_anchor = |hit: Range<usize>, targets: &[Target]| {
            let at = Hit::new(text, hit);
            for target in targets {
                match *target {
                    Target::Rule(rule) => {
                        let Source::Builtin(kind) = self.rules[rule].source else {
                            continue;
                        };
                        scratch.spans.clear();
                        (kind.matcher)(&at, &mut scratch.spans);
                        findings.extend(scratch.spans.drain(..).map(|span| Finding {
                            span,
                            rule,
                            token_text: false,
                        }));
                    }
                    Target::TokenShape(rule) => {
                        if let Some(span) = token_shape(t, at.range.clone()) {
                            findings.push(Finding {
                                span,
                                rule,
                                token_text: true,
                            });
                        }
                    }
                }
            }
        };
        for p in TRIGGERS.positions(t, part.start) {
            if p >= part.end {
                break;
            }
            let table = &self.anchors.by_trigger[trigger_id(t[p])];
            let before = p.checked_sub(1).map_or(0, |i| t[i].to_ascii_lowercase());
            let after = t.get(p + 1).map_or(0, u8::to_ascii_lowercase);
            if !table.may_match(before, after) {
                continue;
            }
            let candidates = table
                .anchors_before(before)
                .iter()
                .chain(table.anchors_after(after));
            for &index in candidates {
                let anchor = &self.anchors.triggered[index];
                let Some(start) = p.checked_sub(anchor.trigger_at) else {
                    continue;
                };
                if anchor.stands_at(t, start) {
                    on_anchor(start..start + anchor.literal.len(), &anchor.targets);
                }
            }
        }
        self.anchors
            .exact_words
            .find(&t[part.clone()], part.start, &mut on_anchor);
        let folded = !self.anchors.folded_words.is_empty();
        if folded || !self.always.is_empty() {
            lower_into(&t[part.clone()], &mut scratch.lowered);
        }
        if folded {
            self.anchors
                .folded_words
                .find(&scratch.lowered, part.start, &mut on_anchor);
        }
        self.always
            .find(t, &scratch.lowered, part.clone(), findings);
        // A user's regex may match anything, NUL included: it runs over each string alone,
        // and never over a JSON key (`"model"`, `"role"`: a broad pattern must not break the
        // request's structure; the built-in kinds, which match only identifiers, do read keys).
        for &rule in &self.custom_rules {
            if let Source::Custom(regex) = &self.rules[rule].source {
                let mut offset = part.start;
                for string in text[part.clone()].split_inclusive(ends_string) {
                    let start = offset;
                    offset += string.len();
                    let (content, is_key) = match string.strip_suffix(KEY_END) {
                        Some(key) => (key, true),
                        None => (string.strip_suffix(STRING_END).unwrap_or(string), false),
                    };
                    if is_key {
                        continue;
                    }
                    findings.extend(regex.find_iter(content).filter(|m| !m.is_empty()).map(|m| {
                        Finding {
                            span: start + m.start()..start + m.end(),
                            rule,
                            token_text: false,
                        }
                    }));
                }
            }
        }
    }
}

/// One text's scan, to be shared by threads ([`Engine::scan_shared`]): the text cut after value
/// ends into parts of at least a given size, a few per thread, which the threads take in
/// turn (identifiers cluster, so equal bytes are not equal work).
pub struct SharedScan<'t> {
    text: &'t str,
    parts: Vec<Range<usize>>,
    next: std::sync::atomic::AtomicUsize,
}

impl<'t> SharedScan<'t> {
    pub fn new(text: &'t str, threads: usize, min_part: usize) -> SharedScan<'t> {
        let wanted = (threads * PARTS_PER_THREAD).min(text.len() / min_part.max(1));
        SharedScan {
            text,
            parts: split_at_value_ends(text, wanted),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

/// Parts per thread in a [`SharedScan`]: enough that a thread that drew the
/// dense parts does not keep the others waiting, few enough that each part is worth a
/// lower-cased copy and a search of its own.
const PARTS_PER_THREAD: usize = 4;

/// Up to `parts` ranges covering `text`, each but the last ending just after a value's end
/// ([`STRING_END`]), as near to equal lengths as those ends allow. Never after a key's end: an
/// anchor may run on from a key into its value (`key\x01name\x00`, the `Name` tag). A text
/// with no value end where one is wanted stays in fewer parts.
fn split_at_value_ends(text: &str, parts: usize) -> Vec<Range<usize>> {
    let t = text.as_bytes();
    let mut ranges = Vec::with_capacity(parts.max(1));
    let mut start = 0;
    for n in 1..parts {
        let target = (t.len() * n / parts).max(start);
        let Some(end) = memchr::memchr(STRING_END as u8, &t[target..]).map(|at| target + at + 1)
        else {
            break;
        };
        if end >= t.len() {
            break;
        }
        ranges.push(start..end);
        start = end;
    }
    ranges.push(start..t.len());
    ranges
}

/// `t` with ASCII upper-case letters lowered, into `out`; written so that it vectorises.
fn lower_into(t: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(
        t.iter()
            .map(|&b| b | (u8::from(b.wrapping_sub(b'A') < 26) << 5)),
    );
}

/// Reusable buffers for [`Engine::scan`], so that scanning many strings allocates once.
#[derive(Default)]
pub struct Scratch {
    lowered: Vec<u8>,
    spans: Vec<Range<usize>>,
    /// The last scan's context-found candidates that an overlapping finding covers.
    pub hidden: Vec<Finding>,
}

/// An anchor found through its trigger byte.
struct TriggeredAnchor {
    /// Lower-case.
    literal: Vec<u8>,
    /// Offset of the trigger byte in `literal`.
    trigger_at: usize,
    targets: Vec<Target>,
    /// The literal's first eight bytes compared in one step (`FirstEight::holds`).
    first_eight: FirstEight,
}

impl TriggeredAnchor {
    /// True when `t[start..]` begins with the literal, ignoring ASCII case.
    #[inline]
    fn stands_at(&self, t: &[u8], start: usize) -> bool {
        let end = start + self.literal.len();
        let Some(rest) = t.get(start..end) else {
            return false;
        };
        match t.get(start..start + 8) {
            Some(eight) if self.first_eight.holds(eight) => {
                self.literal.len() <= 8 || rest[8..].eq_ignore_ascii_case(&self.literal[8..])
            }
            Some(_) => false,
            None => rest.eq_ignore_ascii_case(&self.literal),
        }
    }
}

/// Up to eight lower-case bytes as one word, to compare with eight bytes of a text in a few
/// instructions: a text byte is folded to lower case (`| 0x20`) only where the literal has a
/// letter, which for a letter is exact (only `A` and `a` give `a`), and compared as it is
/// elsewhere; bytes past the literal's end are masked off.
struct FirstEight {
    value: u64,
    fold: u64,
    mask: u64,
}

impl FirstEight {
    fn new(literal: &[u8]) -> FirstEight {
        let mut bytes = [0u8; 8];
        let mut fold = [0u8; 8];
        let mut mask = [0u8; 8];
        for (i, &b) in literal.iter().take(8).enumerate() {
            bytes[i] = b;
            fold[i] = if b.is_ascii_lowercase() { 0x20 } else { 0 };
            mask[i] = 0xff;
        }
        FirstEight {
            value: u64::from_le_bytes(bytes),
            fold: u64::from_le_bytes(fold),
            mask: u64::from_le_bytes(mask),
        }
    }

    #[inline]
    fn holds(&self, eight: &[u8]) -> bool {
        let eight = u64::from_le_bytes(eight.try_into().expect("eight bytes"));
        (eight | self.fold) & self.mask == self.value
    }
}

fn is_trigger(byte: u8) -> bool {
    TRIGGERS.bytes().contains(&byte)
}

/// Where an anchor is found from: the trigger byte of `literal` with the most neighbours in
/// the literal that are not trigger bytes themselves, the first among equals. `--name` is
/// found from its second `-`, next to the `n`, so a table border's run of `-` meets no
/// anchor at all, where from the first `-` every `--flag` was compared at every dash.
fn trigger_position(literal: &[u8]) -> Option<usize> {
    let plain = |i: Option<usize>| {
        i.and_then(|i| literal.get(i))
            .is_some_and(|&b| !is_trigger(b))
    };
    (0..literal.len())
        .filter(|&i| is_trigger(literal[i]))
        .max_by_key(|&i| {
            let plain_neighbours = u8::from(plain(i.checked_sub(1))) + u8::from(plain(Some(i + 1)));
            (plain_neighbours, std::cmp::Reverse(i))
        })
}

/// Index of a trigger byte in [`TRIGGERS`].
fn trigger_id(byte: u8) -> usize {
    match byte {
        b'-' => 0,
        b'.' => 1,
        b':' => 2,
        _ => 3,
    }
}

/// The anchors that share one trigger byte. A trigger byte in the text first meets a bit set
/// over its two (lower-cased) neighbours, which turns most of them away for the cost of one
/// load; the rest look up the anchors by the byte next to the trigger — the one before it, or
/// the one after it when the anchor starts with the trigger or holds another trigger byte
/// before it — and compare only those.
struct TriggerTable {
    /// Bit `before << 8 | after` is set where some anchor fits those neighbours.
    neighbours: Box<[u64; 1024]>,
    by_byte_before: Box<[Vec<usize>; 256]>,
    by_byte_after: Box<[Vec<usize>; 256]>,
}

impl Default for TriggerTable {
    fn default() -> TriggerTable {
        TriggerTable {
            neighbours: Box::new([0; 1024]),
            by_byte_before: Box::new(std::array::from_fn(|_| Vec::new())),
            by_byte_after: Box::new(std::array::from_fn(|_| Vec::new())),
        }
    }
}

impl TriggerTable {
    /// Records the neighbours `literal` (lower-case) allows around its trigger at `at`; an
    /// anchor that ends with its trigger is followed by one of `follows`.
    fn allow(&mut self, literal: &[u8], at: usize, follows: &[u8]) {
        let any: Vec<u8> = (0..=255).collect();
        let before = match at {
            0 => &any[..],
            n => &literal[n - 1..n],
        };
        let after = literal.get(at + 1..at + 2).unwrap_or(follows);
        for &b in before {
            for &a in after {
                let bit = usize::from(b) << 8 | usize::from(a);
                self.neighbours[bit / 64] |= 1 << (bit % 64);
            }
        }
    }

    fn may_match(&self, before: u8, after: u8) -> bool {
        let bit = usize::from(before) << 8 | usize::from(after);
        self.neighbours[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn anchors_before(&self, byte: u8) -> &[usize] {
        &self.by_byte_before[usize::from(byte)]
    }

    fn anchors_after(&self, byte: u8) -> &[usize] {
        &self.by_byte_after[usize::from(byte)]
    }
}

/// Every enabled anchor, split by how it is found. Anchors holding a trigger byte, and
/// words written in lower case (`account`, `kms`), are matched ASCII case-insensitively, the
/// matchers checking the case they need; words written with an upper-case letter (`AKIA`,
/// `IQoJb3JpZ2luX2Vj`) are found exactly as written.
#[derive(Default)]
struct Anchors {
    triggered: Vec<TriggeredAnchor>,
    /// One per byte of [`TRIGGERS`], in its order.
    by_trigger: [TriggerTable; TRIGGERS.bytes().len()],
    /// Searched in the text itself.
    exact_words: WordSearch,
    /// Searched in a lower-cased copy of the text (a case-sensitive search keeps the fast
    /// vectorised prefilter that a case-insensitive one loses).
    folded_words: WordSearch,
}

impl Anchors {
    /// Adds an anchor; `follows` are the (lower-cased) bytes that can come after it when it
    /// ends with its trigger byte.
    fn add(&mut self, literal: Vec<u8>, targets: Vec<Target>, follows: &[u8]) {
        let Some(trigger_at) = trigger_position(&literal) else {
            if literal.iter().any(u8::is_ascii_uppercase) {
                self.exact_words.add(literal, targets);
            } else {
                self.folded_words.add(literal, targets);
            }
            return;
        };
        let literal = literal.to_ascii_lowercase();
        let table = &mut self.by_trigger[trigger_id(literal[trigger_at])];
        table.allow(&literal, trigger_at, follows);
        // Anchors are at least two bytes long (a trigger byte is never a whole anchor). Each
        // is listed under a neighbour of its own that is not a trigger byte where it has one.
        let before = trigger_at.checked_sub(1).map(|i| literal[i]);
        let slot = match (before, literal.get(trigger_at + 1)) {
            (Some(b), None) => &mut table.by_byte_before[usize::from(b)],
            (Some(b), _) if !is_trigger(b) => &mut table.by_byte_before[usize::from(b)],
            (_, Some(&a)) => &mut table.by_byte_after[usize::from(a)],
            (None, None) => unreachable!("an anchor is longer than its trigger byte"),
        };
        slot.push(self.triggered.len());
        self.triggered.push(TriggeredAnchor {
            first_eight: FirstEight::new(&literal),
            literal,
            trigger_at,
            targets,
        });
    }

    fn build_words(&mut self) {
        self.exact_words.build();
        self.folded_words.build();
    }
}

/// Word anchors found by one literal search.
#[derive(Default)]
struct WordSearch {
    /// Collected by `add`, compiled into `automaton` by `build`.
    literals: Vec<Vec<u8>>,
    targets: Vec<Vec<Target>>,
    automaton: Option<AhoCorasick>,
}

impl WordSearch {
    fn add(&mut self, literal: Vec<u8>, targets: Vec<Target>) {
        self.literals.push(literal);
        self.targets.push(targets);
    }

    fn build(&mut self) {
        let literals = std::mem::take(&mut self.literals);
        if literals.is_empty() {
            return;
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&literals)
            .expect("anchor words build an automaton");
        self.automaton = Some(automaton);
    }

    fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Calls `found(range, targets)` for every word in `t`, a part of a text that starts
    /// at `offset` (the ranges are the text's).
    fn find(&self, t: &[u8], offset: usize, found: &mut impl FnMut(Range<usize>, &[Target])) {
        if let Some(automaton) = &self.automaton {
            for m in automaton.find_iter(t) {
                found(
                    offset + m.start()..offset + m.end(),
                    &self.targets[m.pattern().as_usize()],
                );
            }
        }
    }
}

/// `PREFIX_` followed by digits, matched exactly (the anchor search ignores case).
fn token_shape(t: &[u8], hit: Range<usize>) -> Option<Range<usize>> {
    if t[hit.clone()].iter().any(u8::is_ascii_lowercase) {
        return None;
    }
    let digits = t[hit.end..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits > 0).then(|| hit.start..hit.end + digits)
}

/// Upper-case letters, digits and inner `_`, starting with a letter.
fn is_token_prefix(prefix: &str) -> bool {
    prefix.starts_with(|c: char| c.is_ascii_uppercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !prefix.ends_with('_')
}

fn validate_custom(pattern: &CustomPattern, all: &[CustomPattern]) -> Result<Regex, EngineError> {
    let name = pattern.name.trim();
    if name.is_empty() {
        return Err(EngineError::EmptyName);
    }
    let prefix = &pattern.token_prefix;
    if !is_token_prefix(prefix) {
        return Err(EngineError::BadPrefix {
            name: name.to_owned(),
            prefix: prefix.clone(),
        });
    }
    let owner = CATALOG
        .iter()
        .find(|k| k.token_prefix == prefix)
        .map(|k| k.label.to_owned())
        .or_else(|| {
            all.iter()
                .find(|c| c.token_prefix == *prefix && c.name != pattern.name)
                .map(|c| format!("custom pattern {:?}", c.name))
        });
    if let Some(owner) = owner {
        return Err(EngineError::PrefixTaken {
            name: name.to_owned(),
            prefix: prefix.clone(),
            owner,
        });
    }
    let regex = Regex::new(&pattern.regex).map_err(|e| EngineError::BadRegex {
        name: name.to_owned(),
        source: Box::new(e),
    })?;
    if regex.is_match("") {
        return Err(EngineError::EmptyMatch {
            name: name.to_owned(),
        });
    }
    Ok(regex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_anchor_stands_where_its_literal_does_in_any_case(
            literal in "[a-z0-9:._ -]{1,14}",
            text in proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'A'), Just(b'-'), Just(b'_'), Just(0x7f), Just(b'.'),
                            Just(b'\x0e'), any::<u8>()], 0..24),
            start in 0usize..24,
        ) {
            let anchor = TriggeredAnchor {
                first_eight: FirstEight::new(literal.as_bytes()),
                literal: literal.clone().into_bytes(),
                trigger_at: 0,
                targets: Vec::new(),
            };
            // The text begins with the literal in some case now and then.
            let mut text = text;
            if start % 3 == 0 && start <= text.len() {
                let shown = literal.to_ascii_uppercase();
                text.splice(start..start, shown.bytes());
            }
            let expected = text
                .get(start..start + literal.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(literal.as_bytes()));
            prop_assert_eq!(anchor.stands_at(&text, start), expected);
        }
    }

    fn found(text: &str) -> Vec<(&str, String)> {
        let engine = Engine::with_all_builtins();
        let mut findings = Vec::new();
        engine.scan(text, &mut Scratch::default(), &mut findings);
        findings
            .iter()
            .map(|f| (&text[f.span.clone()], engine.rules()[f.rule].id.clone()))
            .collect()
    }

    #[test]
    fn anchors_are_found_in_any_case_and_inside_one_another() {
        // `ami-` ends with `i-`, `tgw-attach-` starts with `tgw-`, the ECR host holds an
        // account anchor; labels come upper-case and camel-case.
        let text = "ami-0123456789abcdef0 tgw-attach-0a1b2c3d4e5f67890 ACCOUNT_ID=123456789012 \
                    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
                    {\"OwnerId\": \"210987654321\"} 123456789012.dkr.ecr.us-east-1.amazonaws.com/app";
        let expected = [
            ("ami-0123456789abcdef0", "ami"),
            ("tgw-attach-0a1b2c3d4e5f67890", "other_ec2_resource"),
            ("123456789012", "account_id"),
            (
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "secret_access_key",
            ),
            ("210987654321", "account_id"),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "aws_hostname",
            ),
        ];
        let expected: Vec<(&str, String)> = expected
            .iter()
            .map(|(s, k)| (*s, (*k).to_owned()))
            .collect();
        assert_eq!(found(text), expected);
    }

    #[test]
    fn a_bucket_name_that_reads_as_a_label_is_itself_masked() {
        // Found by proptest: the name was taken for a `bucket:` label and only the value
        // after it was masked, so the name leaked where it stood first.
        let expected: Vec<(&str, String)> = vec![
            ("team-data-bucket", "s3_bucket".into()),
            ("i-0a1b2c3d4e5f67890", "ec2_instance".into()),
        ];
        assert_eq!(found("team-data-bucket: i-0a1b2c3d4e5f67890"), expected);
    }

    #[test]
    fn a_name_tag_is_found_wherever_the_text_is_cut_into_parts() {
        // A cut after the key `Key` split the `key\x01name\x00` anchor: its value leaked.
        let text = "Key\u{1}Name\u{0}Value\u{1}web-prod-7\u{0}".repeat(50);
        let engine = Engine::with_all_builtins();
        let mut whole = Vec::new();
        engine.scan(&text, &mut Scratch::default(), &mut whole);
        assert_eq!(whole.len(), 50);
        for threads in 1..8 {
            let shared = SharedScan::new(&text, threads, 1);
            let mut in_parts = engine.scan_shared(&shared, &mut Scratch::default());
            engine.resolve(&mut in_parts, &mut Vec::new());
            assert_eq!(in_parts, whole, "{threads} threads");
        }
    }

    #[test]
    fn no_anchor_holds_a_value_end_but_as_its_last_byte() {
        // What lets a text be cut after any value end (`split_at_value_ends`).
        for kind in CATALOG {
            for anchor in kind.anchors {
                let inner = &anchor[..anchor.len() - 1];
                assert!(!inner.contains(STRING_END), "{}: {anchor:?}", kind.id);
            }
        }
    }

    #[test]
    fn token_shaped_text_is_found_only_in_upper_case_with_digits() {
        let text = "EC2_INSTANCE_004 ec2_instance_004 EC2_INSTANCE_ VPC_12";
        let engine = Engine::with_all_builtins();
        let mut findings = Vec::new();
        engine.scan(text, &mut Scratch::default(), &mut findings);
        let spans: Vec<&str> = findings
            .iter()
            .filter(|f| f.token_text)
            .map(|f| &text[f.span.clone()])
            .collect();
        assert_eq!(spans, ["EC2_INSTANCE_004", "VPC_12"]);
    }
}
