//! Masks whole inputs: an Anthropic request body (JSON) or plain text.
//!
//! The JSON body is not rebuilt from a parsed tree. It is validated once with serde_json, then
//! its string literals are located in place; only the bytes of masked spans change, so every
//! other byte (key order, numbers, whitespace) reaches the upstream exactly as the client sent
//! it. Strings are walked in prompt-cache order — `tools`, then `system`, then `messages`,
//! then the rest — which makes token numbers depend only on the conversation's prefix.
//! An original found once is also masked wherever it stands later in that order.
//! Strings inside `thinking` / `redacted_thinking` blocks are signed and left untouched.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::de::IgnoredAny;

use super::engine::{Engine, Finding, Scratch, TOKEN_TEXT_KIND};
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

/// Top-level facts of a request body that the journal shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyFacts {
    /// The `model` member, if it is a string without escapes.
    pub model: Option<String>,
    /// The `stream` member is `true`.
    pub stream: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaskError {
    #[error("the request body is not valid UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("the request body is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
}

/// Masks plain text.
pub fn mask_text(engine: &Engine, text: &str) -> Masked<String> {
    let findings = find_all(engine, &[text]);
    let mut table = TokenTable::default();
    let mut counts = BTreeMap::new();
    let output = replace_spans(engine, text, &findings[0], &mut table, &mut counts);
    Masked {
        output,
        table,
        counts,
    }
}

/// Masks every string of a JSON request body; refuses anything that is not valid JSON.
pub fn mask_json(engine: &Engine, body: &[u8]) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    let text = std::str::from_utf8(body).map_err(|e| MaskError::NotUtf8(e.valid_up_to()))?;
    serde_json::from_str::<IgnoredAny>(text)?;
    let (literals, facts) = locate_strings(text.as_bytes());

    // The maskable strings in walk order, decoded where they hold escapes.
    let mut order: Vec<&Literal> = literals.iter().filter(|l| !l.signed).collect();
    order.sort_by_key(|l| l.section);
    let decoded: Vec<Option<String>> = order
        .iter()
        .map(|l| {
            l.escaped
                .then(|| serde_json::from_str::<String>(&text[l.start - 1..l.end + 1]))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    let texts: Vec<&str> = order
        .iter()
        .zip(&decoded)
        .map(|(l, d)| d.as_deref().unwrap_or(&text[l.start..l.end]))
        .collect();
    let findings = find_all(engine, &texts);

    // Number tokens in walk order, then splice replacements in byte order.
    let mut table = TokenTable::default();
    let mut counts = BTreeMap::new();
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for (i, found) in findings.iter().enumerate().filter(|(_, f)| !f.is_empty()) {
        let literal = order[i];
        // Tokens need no escaping, so each span is replaced in the raw JSON text; for strings
        // with escapes, the decoded span is mapped back to the raw bytes it came from.
        let raw = &text[literal.start..literal.end];
        let spans: Vec<std::ops::Range<usize>> = if decoded[i].is_some() {
            raw_spans(raw, found)
        } else {
            found.iter().map(|f| f.span.clone()).collect()
        };
        for (f, span) in found.iter().zip(spans) {
            let token = mint(engine, f, texts[i], &mut table, &mut counts);
            edits.push((literal.start + span.start..literal.start + span.end, token));
        }
    }
    edits.sort_unstable_by_key(|(range, _)| range.start);
    let mut output = Vec::with_capacity(body.len() + edits.len() * 8);
    let mut copied = 0;
    for (range, replacement) in &edits {
        output.extend_from_slice(&body[copied..range.start]);
        output.extend_from_slice(replacement.as_bytes());
        copied = range.end;
    }
    output.extend_from_slice(&body[copied..]);
    let masked = Masked {
        output,
        table,
        counts,
    };
    Ok((masked, facts))
}

/// The findings of each text (given in walk order): the engine's, plus every later whole-word
/// occurrence of an original that was found by its context — an account ID seen once inside
/// an ARN is masked where it stands bare further on. (Kinds recognised by their own shape need
/// no sweep: the engine finds them wherever they stand.) The sweep only reaches forward (the
/// text where an original was first found and those after it), so adding turns never changes
/// an earlier text's mask.
fn find_all(engine: &Engine, texts: &[&str]) -> Vec<Vec<Finding>> {
    let mut findings: Vec<Vec<Finding>> = Vec::with_capacity(texts.len());
    let mut scratch = Scratch::default();
    for text in texts {
        let mut found = Vec::new();
        engine.scan(text, &mut scratch, &mut found);
        findings.push(found);
    }
    // Each distinct original: where it was first found and which rule found it.
    let mut originals: Vec<(&str, usize, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, found) in findings.iter().enumerate() {
        let by_context = |f: &&Finding| !f.token_text && engine.rules()[f.rule].found_by_context;
        for f in found.iter().filter(by_context) {
            let original = &texts[i][f.span.clone()];
            if seen.insert(original) {
                originals.push((original, i, f.rule));
            }
        }
    }
    if originals.is_empty() {
        return findings;
    }
    // Few patterns, searched once: an automaton that is quick to build beats a fast one.
    let sweep = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .match_kind(MatchKind::LeftmostLongest)
        .build(originals.iter().map(|(o, _, _)| o))
        .expect("originals build an automaton");
    let first_text = originals[0].1;
    for (i, text) in texts.iter().enumerate().filter(|(i, _)| *i >= first_text) {
        let t = text.as_bytes();
        let mut added = false;
        for m in sweep.find_iter(text) {
            let (_, found_in, rule) = originals[m.pattern().as_usize()];
            let whole_word = boundary_before(t, m.start()) && boundary_after(t, m.end());
            let covered = findings[i]
                .iter()
                .any(|f| f.span.start < m.end() && m.start() < f.span.end);
            if found_in <= i && whole_word && !covered {
                findings[i].push(Finding {
                    span: m.range(),
                    rule,
                    token_text: false,
                });
                added = true;
            }
        }
        if added {
            findings[i].sort_unstable_by_key(|f| f.span.start);
        }
    }
    findings
}

/// Maps spans of a decoded JSON string back to the raw (escaped) text they came from.
/// Escapes decode to whole characters, so every span boundary falls between two of them.
fn raw_spans(raw: &str, findings: &[Finding]) -> Vec<std::ops::Range<usize>> {
    let bytes = raw.as_bytes();
    let mut wanted = findings
        .iter()
        .flat_map(|f| [f.span.start, f.span.end])
        .peekable();
    let mut offsets = Vec::with_capacity(findings.len() * 2);
    let (mut r, mut d) = (0, 0); // raw and decoded positions
    while let Some(&target) = wanted.peek() {
        if d == target {
            offsets.push(r);
            wanted.next();
            continue;
        }
        // Plain bytes up to the next escape or the target, whichever comes first.
        let plain = memchr::memchr(b'\\', &bytes[r..]).unwrap_or(bytes.len() - r);
        if plain > 0 {
            let step = plain.min(target - d);
            r += step;
            d += step;
            continue;
        }
        let (raw_len, decoded_len) = match bytes[r + 1] {
            b'u' => {
                let unit = u32::from_str_radix(&raw[r + 2..r + 6], 16).unwrap_or(0);
                let paired = (0xD800..0xDC00).contains(&unit) && bytes.get(r + 6) == Some(&b'\\');
                if paired {
                    (12, 4)
                } else {
                    (6, char::from_u32(unit).map_or(3, char::len_utf8))
                }
            }
            _ => (2, 1),
        };
        r += raw_len;
        d += decoded_len;
    }
    offsets.chunks(2).map(|pair| pair[0]..pair[1]).collect()
}

fn mint(
    engine: &Engine,
    finding: &Finding,
    text: &str,
    table: &mut TokenTable,
    counts: &mut BTreeMap<String, usize>,
) -> String {
    let rule = &engine.rules()[finding.rule];
    let kind = if finding.token_text {
        TOKEN_TEXT_KIND
    } else {
        rule.id.as_str()
    };
    *counts.entry(kind.to_owned()).or_insert(0) += 1;
    table
        .token_for(&rule.token_prefix, kind, &text[finding.span.clone()])
        .to_owned()
}

fn replace_spans(
    engine: &Engine,
    text: &str,
    findings: &[Finding],
    table: &mut TokenTable,
    counts: &mut BTreeMap<String, usize>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for f in findings {
        out.push_str(&text[copied..f.span.start]);
        out.push_str(&mint(engine, f, text, table, counts));
        copied = f.span.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where a top-level member sits in prompt-cache order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Tools,
    System,
    Messages,
    Other,
}

impl Section {
    fn of_key(key: &[u8]) -> Section {
        match key {
            b"tools" => Section::Tools,
            b"system" => Section::System,
            b"messages" => Section::Messages,
            _ => Section::Other,
        }
    }
}

/// One string literal of the body: `start..end` is its content between the quotes.
#[derive(Debug)]
struct Literal {
    start: usize,
    end: usize,
    escaped: bool,
    section: Section,
    /// Inside a thinking / redacted_thinking block.
    signed: bool,
}

struct Frame {
    object: Option<usize>,
    expecting_key: bool,
    key_is_type: bool,
}

/// Locates every string literal of a body already known to be valid JSON.
fn locate_strings(b: &[u8]) -> (Vec<Literal>, BodyFacts) {
    // Objects: parent index and whether they are thinking blocks. Literals remember their
    // innermost object; the thinking flag is settled once the whole body is read, since a
    // block's "type" may come after its text.
    let mut objects: Vec<(Option<usize>, bool)> = Vec::new();
    let mut owners: Vec<Option<usize>> = Vec::new();
    let mut literals = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut section = Section::Other;
    let mut top_key: &[u8] = b"";
    let mut facts = BodyFacts::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                let parent = stack.iter().rev().find_map(|f| f.object);
                objects.push((parent, false));
                stack.push(Frame {
                    object: Some(objects.len() - 1),
                    expecting_key: true,
                    key_is_type: false,
                });
                i += 1;
            }
            b'[' => {
                stack.push(Frame {
                    object: None,
                    expecting_key: false,
                    key_is_type: false,
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expecting_key = top.object.is_some();
                }
                i += 1;
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.expecting_key = false;
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                let end = loop {
                    match memchr::memchr2(b'"', b'\\', &b[j..]) {
                        Some(p) if b[j + p] == b'\\' => {
                            escaped = true;
                            j += p + 2;
                        }
                        Some(p) => break j + p,
                        None => break b.len(),
                    }
                };
                let content = &b[start..end];
                let depth = stack.len();
                let innermost = stack.iter().rev().find_map(|f| f.object);
                if let Some(top) = stack.last_mut() {
                    if top.object.is_some() && top.expecting_key {
                        top.key_is_type = content == b"type";
                        if depth == 1 {
                            section = Section::of_key(content);
                            top_key = content;
                        }
                    } else if depth == 1 && top_key == b"model" && !escaped {
                        facts.model = std::str::from_utf8(content).ok().map(str::to_owned);
                    } else if top.key_is_type
                        && (content == b"thinking" || content == b"redacted_thinking")
                    {
                        if let Some(object) = top.object {
                            objects[object].1 = true;
                        }
                    }
                }
                literals.push(Literal {
                    start,
                    end,
                    escaped,
                    section,
                    signed: false,
                });
                owners.push(innermost);
                i = end + 1;
            }
            b't' if stack.len() == 1 && top_key == b"stream" => {
                facts.stream = b[i..].starts_with(b"true");
                i += 1;
            }
            _ => i += 1,
        }
    }
    for (literal, owner) in literals.iter_mut().zip(owners) {
        let mut object = owner;
        while let Some(o) = object {
            if objects[o].1 {
                literal.signed = true;
                break;
            }
            object = objects[o].0;
        }
    }
    (literals, facts)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn keys_are_masked_too() {
        let (out, _) = mask(
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","input":{"sg-12345678":true}}]}]}"#,
        );
        assert!(out.contains(r#""SECURITY_GROUP_001":true"#), "{out}");
    }
}
