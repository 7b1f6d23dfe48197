//! Masks whole inputs: an Anthropic request body (JSON) or plain text.
//!
//! The JSON body is not rebuilt from a parsed tree. One pass (`json_strings`) checks it as
//! serde_json would, locates its string literals and decodes them; only the bytes of masked
//! spans change, so every other byte (key order, numbers, whitespace) reaches the
//! upstream exactly as the client sent it. Strings are walked in prompt-cache order — `tools`, then `system`, then `messages`,
//! then the rest — which makes token numbers depend only on the conversation's prefix.
//! An original found once is also masked wherever it stands later in that order.
//! Strings inside `thinking` / `redacted_thinking` blocks are signed and left untouched.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, Input, MatchKind, Span};

use super::engine::{ends_string, Engine, Finding, Scratch, SharedScan, TOKEN_TEXT_KIND};
pub use super::json_strings::BodyFacts;
use super::json_strings::{self, JsonStrings, WalkText};
use super::scan::{boundary_after, boundary_before};
use super::tokens::TokenTable;

/// A masked input with its token table and per-kind counts.
#[derive(Debug)]
pub struct Masked<T> {
    pub output: T,
    pub table: TokenTable,
    /// Occurrences masked, per rule id.
    pub counts: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaskError {
    #[error("the request body is not valid UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("the request body is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// A finding reached across the end of a string, so its span cannot be mapped back to
    /// the body. No matcher does this; if one ever did, the request is refused, not guessed at.
    #[error("an identifier was found across two strings of the body; refusing rather than masking the wrong bytes")]
    SpansTwoStrings,
}

/// Masks plain text.
pub fn mask_text(engine: &Engine, text: &str) -> Masked<String> {
    let mut findings = Vec::new();
    engine.scan(text, &mut Scratch::default(), &mut findings);
    let findings = sweep(engine, text, &[0], findings);
    let mut minter = Minter::new(engine);
    let mut output = String::with_capacity(text.len());
    let mut copied = 0;
    for f in &findings {
        output.push_str(&text[copied..f.span.start]);
        let entry = minter.mint(f, text);
        output.push_str(&minter.table.entries()[entry].token);
        copied = f.span.end;
    }
    output.push_str(&text[copied..]);
    minter.finish(output)
}

/// Masks every string of a JSON request body; refuses anything that is not valid JSON. A
/// large body is scanned on several cores (see [`mask_json_with_threads`]).
pub fn mask_json(engine: &Engine, body: &[u8]) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    mask_json_into(engine, body, Vec::new())
}

/// [`mask_json`], writing into `output` (cleared first): memory an earlier body already paged
/// in is quicker to write than fresh memory.
pub fn mask_json_into(
    engine: &Engine,
    body: &[u8],
    output: Vec<u8>,
) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    BUFFERS.with_borrow_mut(|buffers| mask_with(engine, body, *THREADS, output, buffers))
}

/// The cores a body's scan may use, asked once: on Linux the answer reads the cgroup quota
/// files, which a request should not pay for.
static THREADS: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS)
});

/// At most this many threads scan one body: a request waits for the slowest part, and
/// other requests need cores too.
const MAX_THREADS: usize = 4;

/// No thread scans less than this: below it, starting one costs more than it saves.
const MIN_PART: usize = 128 * 1024;

/// [`mask_json`] on at most `threads` threads. The result does not depend on `threads`.
pub fn mask_json_with_threads(
    engine: &Engine,
    body: &[u8],
    threads: usize,
) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    BUFFERS.with_borrow_mut(|buffers| mask_with(engine, body, threads, Vec::new(), buffers))
}

thread_local! {
    /// The large vectors of the last body masked on this thread, kept for the next one
    /// (see [`Buffers`]).
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// What masking a body reads into and writes, besides its output: kept from one body to
/// the next, since fresh memory costs page faults that take longer than the masking.
#[derive(Default)]
struct Buffers {
    json: json_strings::Buffers,
    scan: Scratch,
    /// One per helper thread of a shared scan.
    helpers: Vec<Scratch>,
}

fn mask_with(
    engine: &Engine,
    body: &[u8],
    threads: usize,
    mut output: Vec<u8>,
    buffers: &mut Buffers,
) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    let text = std::str::from_utf8(body).map_err(|e| MaskError::NotUtf8(e.valid_up_to()))?;
    let (walk, findings) = if threads > 1 && body.len() >= 2 * MIN_PART {
        read_and_scan_shared(engine, text, threads, buffers)?
    } else {
        let walk = JsonStrings::read(text, &mut buffers.json)?.walk_text(&mut buffers.json);
        let mut findings = Vec::new();
        engine.scan(&walk.text, &mut buffers.scan, &mut findings);
        (walk, findings)
    };
    let findings = sweep(engine, &walk.text, &walk.starts, findings);

    // Number tokens in walk order, then splice replacements in byte order. Tokens need no
    // escaping, so each span is replaced in the raw JSON text it was decoded from.
    let mut minter = Minter::new(engine);
    let mut edits: Vec<(Range<usize>, usize)> = Vec::with_capacity(findings.len());
    // Findings come in text order: the string that holds one is found by walking forward.
    let mut string = 0;
    for f in &findings {
        if walk.text[f.span.clone()].contains(ends_string) {
            return Err(MaskError::SpansTwoStrings);
        }
        while walk
            .starts
            .get(string + 1)
            .is_some_and(|&s| s <= f.span.start)
        {
            string += 1;
        }
        let entry = minter.mint(f, &walk.text);
        edits.push((walk.raw_span(string, f.span.clone()), entry));
    }
    edits.sort_unstable_by_key(|(range, _)| range.start);
    let tokens = minter.table.entries();
    let removed: usize = edits.iter().map(|(range, _)| range.len()).sum();
    let inserted: usize = edits.iter().map(|&(_, e)| tokens[e].token.len()).sum();
    output.clear();
    output.reserve(body.len() - removed + inserted);
    let mut copied = 0;
    for (range, entry) in &edits {
        output.extend_from_slice(&body[copied..range.start]);
        output.extend_from_slice(tokens[*entry].token.as_bytes());
        copied = range.end;
    }
    output.extend_from_slice(&body[copied..]);
    let facts = walk.recycle(&mut buffers.json);
    Ok((minter.finish(output), facts))
}

/// Reads `text` as a body and scans its walk text on `threads` threads. The helpers are
/// started before the JSON is read, not once there is text to scan: a core that has been
/// idle can take a millisecond or more to wake (measured on a virtual machine), longer than
/// reading the JSON and laying out the walk text take, so a helper started late finds the
/// parts taken. Until the text is ready they wait by yielding, which keeps their cores awake.
fn read_and_scan_shared<'b>(
    engine: &Engine,
    text: &'b str,
    threads: usize,
    buffers: &mut Buffers,
) -> Result<(WalkText<'b>, Vec<Finding>), MaskError> {
    let walk_slot = OnceLock::new();
    // `None` when the body could not be read: the helpers then stop at once.
    let scan_slot: OnceLock<Option<SharedScan>> = OnceLock::new();
    buffers.helpers.resize_with(threads - 1, Scratch::default);
    let scanned = std::thread::scope(|scope| {
        // Whatever happens below (an unreadable body, a panic), the helpers are let go.
        let release = ReleaseHelpers(&scan_slot);
        let helpers: Vec<_> = (buffers.helpers.iter_mut())
            .map(|scratch| {
                let scan_slot = &scan_slot;
                scope.spawn(move || {
                    let scan = loop {
                        match scan_slot.get() {
                            Some(published) => break published.as_ref(),
                            None => std::thread::yield_now(),
                        }
                    };
                    scan.map(|scan| engine.scan_shared(scan, scratch))
                })
            })
            .collect();
        let read = JsonStrings::read(text, &mut buffers.json);
        let walk = match read {
            Ok(strings) => walk_slot.get_or_init(|| strings.walk_text(&mut buffers.json)),
            Err(e) => return Err(MaskError::from(e)),
        };
        let scan = scan_slot.get_or_init(|| Some(SharedScan::new(&walk.text, threads, MIN_PART)));
        drop(release);
        let scan = scan.as_ref().expect("published just now");
        let mut candidates = engine.scan_shared(scan, &mut buffers.scan);
        for helper in helpers {
            let found = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            candidates.extend(found.into_iter().flatten());
        }
        engine.resolve(&mut candidates);
        Ok(candidates)
    });
    drop(scan_slot);
    let findings = scanned?;
    let walk = walk_slot.into_inner().expect("laid out before the scan");
    Ok((walk, findings))
}

/// Publishes "no scan" to waiting helpers when dropped before a scan was published.
struct ReleaseHelpers<'s, 't>(&'s OnceLock<Option<SharedScan<'t>>>);

impl Drop for ReleaseHelpers<'_, '_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}

/// Tokens for the findings of one input, and how many of each kind were masked.
struct Minter<'e> {
    engine: &'e Engine,
    table: TokenTable,
    /// Per rule, then one more for literal token-shaped text.
    counts: Vec<usize>,
}

impl<'e> Minter<'e> {
    fn new(engine: &'e Engine) -> Minter<'e> {
        Minter {
            engine,
            table: TokenTable::default(),
            counts: vec![0; engine.rules().len() + 1],
        }
    }

    /// The table entry for `finding`'s span of `text`, minted on first sight.
    fn mint(&mut self, finding: &Finding, text: &str) -> usize {
        let rule = &self.engine.rules()[finding.rule];
        let (kind, counter) = if finding.token_text {
            (TOKEN_TEXT_KIND, self.counts.len() - 1)
        } else {
            (rule.id.as_str(), finding.rule)
        };
        self.counts[counter] += 1;
        self.table
            .entry_for(&rule.token_prefix, kind, &text[finding.span.clone()])
    }

    fn finish<T>(self, output: T) -> Masked<T> {
        let rules = self.engine.rules();
        let kinds = rules.iter().map(|r| r.id.as_str()).chain([TOKEN_TEXT_KIND]);
        let counts = kinds
            .zip(self.counts)
            .filter(|&(_, n)| n > 0)
            .map(|(kind, n)| (kind.to_owned(), n))
            .collect();
        Masked {
            output,
            table: self.table,
            counts,
        }
    }
}

/// The engine's `findings` in `text` (strings in walk order, starting at `starts`), plus
/// every later whole-word occurrence of an original that was found by its context — an
/// account ID seen once inside an ARN is masked where it stands bare further on. (Kinds
/// recognised by their own shape need no sweep: the engine finds them wherever they stand.)
/// The sweep only reaches forward (the string where an original was first found and those
/// after it), so adding turns never changes an earlier string's mask.
fn sweep(
    engine: &Engine,
    text: &str,
    starts: &[usize],
    mut findings: Vec<Finding>,
) -> Vec<Finding> {
    // Each distinct original: the start of the string where it was first found, and its rule.
    let mut originals: Vec<(&str, usize, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let by_context = |f: &&Finding| !f.token_text && engine.rules()[f.rule].found_by_context;
    for f in findings.iter().filter(by_context) {
        let original = &text[f.span.clone()];
        if seen.insert(original) {
            let string_start = starts[starts.partition_point(|&s| s <= f.span.start) - 1];
            originals.push((original, string_start, f.rule));
        }
    }
    let Some(&(_, sweep_from, _)) = originals.first() else {
        return findings;
    };
    let sweep = Sweep::new(originals.iter().map(|(o, _, _)| *o));
    let t = text.as_bytes();
    let mut added = Vec::new();
    // Findings are sorted and do not overlap, and matches come in order: only the first
    // finding that ends after a match starts can cover it.
    let mut next = 0;
    sweep.each_match(text, sweep_from, |span, pattern| {
        let (_, found_from, rule) = originals[pattern];
        let whole_word = boundary_before(t, span.start) && boundary_after(t, span.end);
        while findings.get(next).is_some_and(|f| f.span.end <= span.start) {
            next += 1;
        }
        let covered = findings.get(next).is_some_and(|f| f.span.start < span.end);
        if span.start >= found_from && whole_word && !covered {
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

    /// Calls `found(span, pattern)` for each leftmost-longest, non-overlapping match in
    /// `text` from `from` on.
    fn each_match(&self, text: &str, from: usize, mut found: impl FnMut(Range<usize>, usize)) {
        match self {
            Sweep::Packed(searcher) => {
                let mut at = from;
                while let Some(m) = searcher.find_in(text, Span::from(at..text.len())) {
                    found(m.range(), m.pattern().as_usize());
                    at = m.end();
                }
            }
            Sweep::Automaton(automaton) => {
                for m in automaton.find_iter(Input::new(text).span(from..text.len())) {
                    found(m.range(), m.pattern().as_usize());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::CustomPattern;

    fn mask(body: &str) -> (String, TokenTable) {
        let engine = Engine::with_all_builtins();
        let (masked, _) = mask_json(&engine, body.as_bytes()).expect("valid JSON");
        (
            String::from_utf8(masked.output).expect("utf8"),
            masked.table,
        )
    }

    #[test]
    fn only_masked_spans_change_and_layout_is_kept() {
        let body = "{\"model\": \"m\",  \"n\": 1.50e3, \"messages\":[{\"role\":\"user\",\"content\":\"stop i-0123456789abcdef0 now\"}]}";
        let (out, _) = mask(body);
        assert_eq!(
            out,
            "{\"model\": \"m\",  \"n\": 1.50e3, \"messages\":[{\"role\":\"user\",\"content\":\"stop EC2_INSTANCE_001 now\"}]}"
        );
    }

    #[test]
    fn tools_then_system_then_messages_decide_numbering() {
        let body = r#"{"messages":[{"role":"user","content":"vpc-bbbbbbbb"}],"system":"vpc-aaaaaaaa","tools":[{"name":"t","description":"vpc-cccccccc"}]}"#;
        let (out, table) = mask(body);
        assert_eq!(table.entries()[0].original, "vpc-cccccccc");
        assert_eq!(table.entries()[1].original, "vpc-aaaaaaaa");
        assert!(out.contains(r#""content":"VPC_003""#), "{out}");
    }

    #[test]
    fn thinking_blocks_are_untouched_even_when_type_comes_last() {
        let body = r#"{"messages":[{"role":"assistant","content":[{"thinking":"i-0123456789abcdef0","signature":"sig","type":"thinking"},{"type":"redacted_thinking","data":"i-0123456789abcdef1"},{"type":"text","text":"i-0123456789abcdef2"}]}]}"#;
        let (out, table) = mask(body);
        assert!(out.contains("\"thinking\":\"i-0123456789abcdef0\""));
        assert!(out.contains("\"data\":\"i-0123456789abcdef1\""));
        assert!(out.contains("\"text\":\"EC2_INSTANCE_001\""));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn escaped_strings_are_decoded_masked_and_reencoded() {
        let body = r#"{"messages":[{"role":"user","content":"line\ni-0123456789abcdef0\t\"q\""}]}"#;
        let (out, _) = mask(body);
        assert_eq!(
            out,
            r#"{"messages":[{"role":"user","content":"line\nEC2_INSTANCE_001\t\"q\""}]}"#
        );
    }

    #[test]
    fn spans_in_strings_with_every_kind_of_escape_are_masked_in_place() {
        let body = r#"{"messages":[{"role":"user","content":"\u00e9t\u00e9 \ud83d\ude00 \"i-0123456789abcdef0\"\n\/sg-12345678\t10.0.0.1"}]}"#;
        let (out, table) = mask(body);
        assert_eq!(
            out,
            r#"{"messages":[{"role":"user","content":"\u00e9t\u00e9 \ud83d\ude00 \"EC2_INSTANCE_001\"\n\/SECURITY_GROUP_001\tPRIVATE_IP_001"}]}"#
        );
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn invalid_json_and_invalid_utf8_are_refused() {
        let engine = Engine::with_all_builtins();
        assert!(matches!(
            mask_json(&engine, b"{\"a\": i-0123456789abcdef0"),
            Err(MaskError::NotJson(_))
        ));
        assert!(matches!(
            mask_json(&engine, b"{\"a\":\"\xff\"}"),
            Err(MaskError::NotUtf8(6))
        ));
    }

    #[test]
    fn model_and_stream_are_read_from_the_top_level_only() {
        let engine = Engine::with_all_builtins();
        let body = br#"{"model":"claude-x","messages":[{"role":"user","content":[{"type":"tool_use","input":{"stream":true,"model":"no"}}]}],"stream": true}"#;
        let (_, facts) = mask_json(&engine, body).expect("valid JSON");
        assert_eq!(
            facts,
            BodyFacts {
                model: Some("claude-x".into()),
                stream: true
            }
        );
        let (_, facts) =
            mask_json(&engine, br#"{"stream":false,"model":"m"}"#).expect("valid JSON");
        assert!(!facts.stream);
    }

    #[test]
    fn a_json_key_labels_the_value_that_follows_it() {
        let (out, table) = mask(
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","input":{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","OwnerId":"123456789012","KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}}]}]}"#,
        );
        let kinds: Vec<&str> = table.entries().iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["secret_access_key", "account_id", "kms_key"],
            "{out}"
        );
        assert!(
            out.contains(r#""SecretAccessKey":"SECRET_ACCESS_KEY_001""#),
            "{out}"
        );
    }

    #[test]
    fn a_large_body_is_masked_alike_on_several_threads_and_refused_alike_when_unreadable() {
        let engine = Engine::with_all_builtins();
        let line = "ran in vpc-0a1b2c3d from 10.1.2.3 for arn:aws:iam::123456789012:role/x\n";
        let text = line.repeat(2 * MIN_PART / line.len() + 1);
        let body = serde_json::json!({"messages": [{"role": "user", "content": text}]}).to_string();
        let (one, _) = mask_json_with_threads(&engine, body.as_bytes(), 1).expect("json");
        let (three, _) = mask_json_with_threads(&engine, body.as_bytes(), 3).expect("json");
        assert_eq!(one.output, three.output);
        assert!(!String::from_utf8_lossy(&three.output).contains("vpc-0a1b2c3d"));
        let unreadable = &body.as_bytes()[..body.len() - 1];
        for threads in [1, 3] {
            let refused = mask_json_with_threads(&engine, unreadable, threads);
            assert!(matches!(refused, Err(MaskError::NotJson(_))));
        }
    }

    #[test]
    fn no_custom_pattern_matches_across_two_strings() {
        let custom = [CustomPattern {
            name: "ticket".into(),
            regex: "TICKET[^a]*END".into(),
            token_prefix: "TICKET".into(),
        }];
        let engine = Engine::new(|_| true, &custom).expect("compiles");
        let body = br#"{"messages":[{"role":"user","content":"TICKET 1"},{"role":"user","content":"END TICKET 2 END"}]}"#;
        let (masked, _) = mask_json(&engine, body).expect("valid");
        let out = String::from_utf8(masked.output).expect("utf8");
        assert!(out.contains(r#""content":"TICKET 1""#), "{out}");
        assert!(out.contains(r#""content":"END TICKET_001""#), "{out}");
    }

    #[test]
    fn a_value_that_ends_with_a_label_word_does_not_label_the_next_key() {
        // A tool schema's enum of resource types: "bucket" is a value, and "object" after it
        // is another value, not a bucket name (masking it would reach every "type": "object"
        // after it and break the schemas).
        let body = r#"{"tools":[{"name":"s3","input_schema":{"type":"object","properties":{"kind":{"enum":["bucket","object"]},"name":{"type":"string"}}}}],"messages":[{"role":"user","content":[{"type":"text","text":"Bucket"},{"type":"text","text":"x"}]}]}"#;
        let (out, table) = mask(body);
        assert!(table.is_empty(), "{out}");
        assert_eq!(out, body);
        let (out, _) = mask(
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","input":{"Bucket":"finance","Principal":{"AWS":["111122223333"]}}}]}]}"#,
        );
        assert!(
            out.contains(r#"{"Bucket":"S3_BUCKET_001","Principal":{"AWS":["AWS_ACCOUNT_001"]}}"#),
            "{out}"
        );
    }

    #[test]
    fn keys_are_masked_too() {
        let (out, _) = mask(
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","input":{"sg-12345678":true}}]}]}"#,
        );
        assert!(out.contains(r#""SECURITY_GROUP_001":true"#), "{out}");
    }
}
