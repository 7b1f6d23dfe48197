//! Masks whole inputs: an Anthropic request body (JSON) or plain text.
//!
//! The JSON body is not rebuilt from a parsed tree. One pass (`json_strings`) checks it as
//! serde_json would, locates its string literals and decodes them; `walk_text` lays them out
//! in prompt-cache order; the engine scans that (on several threads for a large body:
//! `parallel`), `percent` and `base64_text` add what percent-encoding and base64 hid, `sweep` what context revealed; then
//! tokens are minted in walk order and spliced into the raw body, so every other byte (key
//! order, numbers, whitespace) reaches the upstream exactly as the client sent it.

use std::collections::BTreeMap;
use std::ops::Range;

use super::engine::{Engine, Finding, Scratch, TOKEN_TEXT_KIND};
pub use super::json_strings::BodyFacts;
use super::json_strings::JsonStrings;
use super::sweep::sweep;
use super::tokens::TokenTable;
use super::walk_text::{ends_string, StringCursor, WalkText};
use super::working::{self, Buffers};
use super::{base64_text, parallel, percent};

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
    let mut scratch = Scratch::default();
    engine.scan(text, &mut scratch, &mut findings);
    let hidden = std::mem::take(&mut scratch.hidden);
    let findings = with_encoded(engine, text, findings, &mut scratch);
    let findings = settle(engine, text, findings, &hidden);
    let mut minter = Minter::new(engine, findings.len());
    let mut output = String::with_capacity(text.len());
    let mut copied = 0;
    for f in &findings {
        output.push_str(&text[copied..f.span.start]);
        let entry = minter.mint(f, text);
        output.push_str(minter.table.token(entry));
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
    working::with_buffers(|buffers| mask_with(engine, body, *parallel::THREADS, output, buffers))
}

/// [`mask_json`] on at most `threads` threads. The result does not depend on `threads`.
pub fn mask_json_with_threads(
    engine: &Engine,
    body: &[u8],
    threads: usize,
) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    working::with_buffers(|buffers| mask_with(engine, body, threads, Vec::new(), buffers))
}

fn mask_with(
    engine: &Engine,
    body: &[u8],
    threads: usize,
    mut output: Vec<u8>,
    buffers: &mut Buffers,
) -> Result<(Masked<Vec<u8>>, BodyFacts), MaskError> {
    let text = std::str::from_utf8(body).map_err(|e| MaskError::NotUtf8(e.valid_up_to()))?;
    let (walk, findings, hidden) = if threads > 1 && body.len() >= 2 * parallel::MIN_PART {
        parallel::read_and_scan(engine, text, threads, buffers)?
    } else {
        let strings = JsonStrings::read(text, &mut buffers.json)?;
        let walk = WalkText::lay_out(strings, &mut buffers.walk);
        let mut findings = Vec::new();
        engine.scan(&walk.text, &mut buffers.scan, &mut findings);
        let hidden = std::mem::take(&mut buffers.scan.hidden);
        (walk, findings, hidden)
    };
    let findings = with_encoded(engine, &walk.text, findings, &mut buffers.scan);
    let findings = settle(engine, &walk.text, findings, &hidden);

    // Number tokens in walk order, then splice replacements in byte order. Tokens need no
    // escaping, so each span is replaced in the raw JSON text it was decoded from.
    let mut minter = Minter::new(engine, findings.len());
    let mut edits: Vec<(Range<usize>, usize)> = Vec::with_capacity(findings.len());
    // Findings come in text order: the string that holds one is found by walking forward.
    let mut strings = StringCursor::default();
    for f in &findings {
        if walk.text[f.span.clone()].contains(ends_string) {
            return Err(MaskError::SpansTwoStrings);
        }
        let string = strings.string_at(&walk, f.span.start);
        let entry = minter.mint(f, &walk.text);
        edits.push((walk.raw_span(string, f.span.clone()), entry));
    }
    edits.sort_unstable_by_key(|(range, _)| range.start);
    let table = &minter.table;
    let removed: usize = edits.iter().map(|(range, _)| range.len()).sum();
    let inserted: usize = edits.iter().map(|&(_, e)| table.token(e).len()).sum();
    output.clear();
    output.reserve(body.len() - removed + inserted);
    let mut copied = 0;
    for (range, entry) in &edits {
        output.extend_from_slice(&body[copied..range.start]);
        output.extend_from_slice(table.token(*entry).as_bytes());
        copied = range.end;
    }
    output.extend_from_slice(&body[copied..]);
    let facts = walk.recycle(&mut buffers.walk, &mut buffers.json);
    Ok((minter.finish(output), facts))
}

/// Tokens for the findings of one input, and how many of each kind were masked.
struct Minter<'e> {
    engine: &'e Engine,
    table: TokenTable,
    /// Per rule, then one more for literal token-shaped text.
    counts: Vec<usize>,
}

impl<'e> Minter<'e> {
    /// A minter for `findings` findings (the table has room for as many entries).
    fn new(engine: &'e Engine, findings: usize) -> Minter<'e> {
        Minter {
            engine,
            table: TokenTable::with_capacity(findings),
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

/// The plain scan's `findings` with what it could not see: identifiers behind percent-escapes
/// and inside base64 words.
fn with_encoded(
    engine: &Engine,
    text: &str,
    findings: Vec<Finding>,
    scratch: &mut Scratch,
) -> Vec<Finding> {
    let findings = merge(findings, percent::findings(engine, text, scratch));
    merge(findings, base64_text::findings(engine, text, scratch))
}

/// The spans that become tokens: the scan's `findings` with every other occurrence of what
/// context revealed (`sweep`), less what the never-mask list keeps readable, each clear of
/// the digits after it.
fn settle(engine: &Engine, text: &str, findings: Vec<Finding>, hidden: &[Finding]) -> Vec<Finding> {
    clear_of_digits(
        text,
        engine.drop_never_masked(text, sweep(engine, text, findings, hidden)),
    )
}

/// `findings` (in order, not overlapping) with each one that a digit follows extended over
/// the digits, and over any finding those digits run into. A token ends in its number, so
/// a token followed by a digit would read as another, longer number (`ARN_001` + `2` is
/// `ARN_0012`) and never be restored. A finding ends before a digit where a length cap
/// stopped it (an ARN's 2,048 characters) and where a user's pattern or list entry ends
/// so. The digits become part of the original: more is masked, never less.
fn clear_of_digits(text: &str, mut findings: Vec<Finding>) -> Vec<Finding> {
    let t = text.as_bytes();
    let followed_by_digit = |f: &Finding| t.get(f.span.end).is_some_and(u8::is_ascii_digit);
    if !findings.iter().any(followed_by_digit) {
        return findings;
    }
    let mut cleared: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings.drain(..) {
        match cleared.last_mut() {
            Some(last) if f.span.start < last.span.end => {
                last.span.end = last.span.end.max(f.span.end)
            }
            _ => cleared.push(f),
        }
        let last = cleared.last_mut().expect("just pushed or extended");
        while t.get(last.span.end).is_some_and(u8::is_ascii_digit) {
            last.span.end += 1;
        }
    }
    cleared
}

/// The plain scan's `findings` and those of a decoded form of its text together, in order.
/// Where two overlap, one finding covers both (with the earlier one's rule), so nothing
/// either scan found is left unmasked.
fn merge(mut findings: Vec<Finding>, decoded: Vec<Finding>) -> Vec<Finding> {
    if decoded.is_empty() {
        return findings;
    }
    findings.extend(decoded);
    findings.sort_unstable_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    let mut merged: Vec<Finding> = Vec::with_capacity(findings.len());
    for f in findings {
        match merged.last_mut() {
            Some(last) if f.span.start < last.span.end => {
                last.span.end = last.span.end.max(f.span.end);
            }
            _ => merged.push(f),
        }
    }
    merged
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
        assert_eq!(table.entries().original(0), "vpc-cccccccc");
        assert_eq!(table.entries().original(1), "vpc-aaaaaaaa");
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
    fn only_an_assistant_content_block_with_its_signature_is_a_thinking_block() {
        let id = "i-0123456789abcdef0";
        let think = format!(r#"{{"type":"thinking","thinking":"{id}","signature":"sig"}}"#);
        let leaks = [
            // A thinking-shaped member anywhere else switches nothing off.
            format!(
                r#"{{"type":"thinking","thinking":"{id}","signature":"s","messages":[{{"role":"user","content":"{id}"}}]}}"#
            ),
            format!(r#"{{"messages":[{{"role":"user","content":[{think}]}}]}}"#),
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"type":"tool_use","id":"t","name":"Bash","input":{think}}}]}}]}}"#
            ),
            format!(r#"{{"tools":[{{"name":"x","input_schema":{think}}}],"messages":[]}}"#),
            format!(r#"{{"system":[{think}],"messages":[]}}"#),
            // In an assistant message, but not signed, or not only thinking.
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"type":"thinking","thinking":"{id}"}}]}}]}}"#
            ),
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"type":"thinking","type":"text","thinking":"{id}","signature":"s"}}]}}]}}"#
            ),
            format!(r#"{{"messages":[{{"role":"assistant","role":"user","content":[{think}]}}]}}"#),
            format!(r#"{{"messages":[{{"role":["assistant"],"content":[{think}]}}]}}"#),
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"type":"redacted_thinking","thinking":"{id}","signature":"s"}}]}}]}}"#
            ),
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"type":"thinking","thinking":"x","signature":"s","text":"{id}","extra":{{"a":"{id}"}}}}]}}]}}"#
            ),
            format!(
                r#"{{"messages":[{{"role":"assistant","content":[{{"ty\u0070e":"thinking","thinking":"{id}","signature":"s"}}]}}]}}"#
            ),
            format!(r#"{{"messages":[{{"role":"assistant","content":{{"x":[{think}]}}}}]}}"#),
        ];
        for body in &leaks {
            let (out, _) = mask(body);
            assert!(!out.contains(id), "{body}\n→ {out}");
        }
        // Where the API puts them, with the role after the content, they pass byte for byte.
        let signed = format!(
            r#"{{"messages":[{{"content":[{think},{{"type":"text","text":"{id}"}}],"role":"assistant"}}]}}"#
        );
        let (out, table) = mask(&signed);
        assert!(out.contains(&think), "{out}");
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn labels_work_in_json_held_in_a_string_at_any_depth() {
        // CloudTrail events as `aws logs filter-log-events` prints them: JSON in a JSON string,
        // itself in a tool result (one more level of escaping in the body).
        let event =
            serde_json::json!({"accountId": "123456789012", "recipientAccountId": "210987654321"})
                .to_string();
        let printed = serde_json::json!({"events": [{"message": event}]}).to_string();
        let deeper = serde_json::json!({"outer": printed}).to_string();
        for text in [&printed, &deeper] {
            let body = serde_json::json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": text}]}]}).to_string();
            let (out, _) = mask(&body);
            assert!(
                !out.contains("123456789012") && !out.contains("210987654321"),
                "{out}"
            );
        }
    }

    #[test]
    fn an_original_found_by_context_is_masked_before_and_after_where_it_was_found() {
        let body = r#"{"system":"billed to 123456789012","messages":[{"role":"user","content":"role arn:aws:iam::123456789012:role/x"},{"role":"user","content":"again 123456789012"}]}"#;
        let (out, table) = mask(body);
        assert!(!out.contains("123456789012"), "{out}");
        // Numbered by first occurrence: the bare mention in the system prompt comes first.
        assert_eq!(table.entries().original(0), "123456789012");
        assert!(
            out.contains(r#""system":"billed to AWS_ACCOUNT_001""#),
            "{out}"
        );
    }

    #[test]
    fn percent_encoded_identifiers_are_masked_in_place() {
        let link = "https://console.aws.amazon.com/iam/home#/roles/details?arn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy";
        let presigned = "https://s3.amazonaws.com/x?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130721%2Fus-east-1%2Fs3%2Faws4_request";
        let twice =
            "next=%2Fconsole%3Farn%3Darn%253Aaws%253Aiam%253A%253A210987654321%253Arole%252FAdmin";
        let body = serde_json::json!({"messages": [{"role": "user", "content": format!("{link}\n{presigned}\n{twice}")}]}).to_string();
        let (out, table) = mask(&body);
        for leaked in [
            "123456789012",
            "AKIAIOSFODNN7EXAMPLE",
            "210987654321",
            "Deploy",
            "Admin",
        ] {
            assert!(!out.contains(leaked), "{leaked}: {out}");
        }
        let originals: Vec<&str> = table.entries().iter().map(|e| e.original).collect();
        assert!(
            originals.contains(&"arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy"),
            "{originals:?}"
        );
        let text = "open arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FDeploy now";
        let masked = mask_text(&Engine::with_all_builtins(), text);
        assert_eq!(masked.output, "open ARN_001 now");
    }

    #[test]
    fn base64_text_is_masked_whole_and_restores_to_its_encoding() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let secret = b64("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9a8b7c6d");
        let kubectl =
            format!("apiVersion: v1\ndata:\n  AWS_SECRET_ACCESS_KEY: {secret}\nkind: Secret\n");
        let document = b64("The bill for account 123456789012 is due.");
        let body = serde_json::json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": kubectl},
            {"type": "document", "source": {"type": "base64", "media_type": "text/plain", "data": document}},
        ]}]})
        .to_string();
        let (out, table) = mask(&body);
        for leaked in [&secret, &document] {
            assert!(!out.contains(leaked.as_str()), "{out}");
        }
        let kinds: Vec<(&str, &str)> = table
            .entries()
            .iter()
            .map(|e| (e.kind, e.original))
            .collect();
        assert!(
            kinds.contains(&("secret_access_key", secret.as_str())),
            "{kinds:?}"
        );
        assert!(kinds.iter().any(|(_, o)| *o == document), "{kinds:?}");
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
    fn base64_sources_but_plain_text_count_as_attachments_wherever_they_stand() {
        let engine = Engine::with_all_builtins();
        let source = |media: &str| {
            format!(
                r#"{{"type":"image","source":{{"type":"base64","media_type":{media},"data":"iVBORw0KGgo="}}}}"#
            )
        };
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":[{},{},{{"type":"tool_result","content":[{}]}},{},{}]}}]}}"#,
            source(r#""image/png""#),
            source(r#""application/pdf""#),
            source(r#""image\/webp""#),
            source(r#""text/plain""#),
            source(r#""image/x-unknown""#),
        );
        let (_, facts) = mask_json(&engine, body.as_bytes()).expect("valid JSON");
        assert_eq!(facts.attachments, 4, "all but the text/plain source");
        let url = r#"{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}"#;
        let (_, facts) = mask_json(&engine, url.as_bytes()).expect("valid JSON");
        assert_eq!(facts.attachments, 0, "a URL source is text, and scanned");
        let escaped = r#"{"type":"image","source":{"type":"ba\u0073e64","media_type":"image/png","data":"iVBORw0KGgo="}}"#;
        let (_, facts) = mask_json(&engine, escaped.as_bytes()).expect("valid JSON");
        assert_eq!(
            facts.attachments, 1,
            "a type spelled with escapes still counts"
        );
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
                stream: true,
                attachments: 0,
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
        let kinds: Vec<&str> = table.entries().iter().map(|e| e.kind).collect();
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
        use crate::mask::parallel::MIN_PART;
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

    /// Found by the fuzzer: an ARN stopped by its 2,048-character cap, with a digit after it.
    #[test]
    fn no_token_runs_into_the_digits_after_it() {
        let long_arn = format!("arn:aws:iam::123456789012:role/{}", "a1/".repeat(700));
        let cut = long_arn[..2048].to_owned();
        let custom = [
            CustomPattern {
                name: "build".into(),
                regex: "build-[a-z]+".into(),
                token_prefix: "BUILD".into(),
            },
            CustomPattern {
                name: "rack".into(),
                regex: "[0-9]{2}x".into(),
                token_prefix: "RACK".into(),
            },
        ];
        let engine = Engine::new(|_| true, &custom).expect("compiles");
        for (content, original) in [
            (format!("{cut}2 and 7"), format!("{cut}2")),
            // The digits run into another finding (`34x`): one token covers both.
            ("build-abc1234x ok".to_owned(), "build-abc1234x".to_owned()),
            (
                "build-abc2024 and build-abc".to_owned(),
                "build-abc2024".to_owned(),
            ),
        ] {
            let body =
                serde_json::json!({"messages": [{"role": "user", "content": content}]}).to_string();
            let (masked, _) = mask_json(&engine, body.as_bytes()).expect("valid");
            let out = String::from_utf8(masked.output).expect("utf8");
            let first = masked.table.entries().first().expect("one entry");
            assert_eq!(first.original, original, "{out}");
            assert!(out.contains(&format!("\"{} ", first.token)), "{out}");
            // Every token stands clear of digits, so each one reads back as itself.
            let mut back = out.clone();
            for entry in masked.table.entries() {
                assert_eq!(out.matches(&entry.token).count(), 1, "{out}");
                let after = out.find(entry.token).expect("counted") + entry.token.len();
                assert!(!out.as_bytes()[after].is_ascii_digit(), "{out}");
                back = back.replace(entry.token, entry.original);
            }
            assert_eq!(back, body);
            let plain = mask_text(&engine, &content);
            assert_eq!(plain.table.entries().original(0), original);
        }
    }

    #[test]
    fn a_broad_custom_pattern_never_touches_a_json_key() {
        let custom = [CustomPattern {
            name: "codename".into(),
            regex: "(?i)mode\\w*|project-x".into(),
            token_prefix: "CODENAME".into(),
        }];
        let engine = Engine::new(|_| true, &custom).expect("compiles");
        let body = br#"{"model":"m","messages":[{"role":"user","content":"model of project-x"}]}"#;
        let (masked, _) = mask_json(&engine, body).expect("valid");
        let out = String::from_utf8(masked.output).expect("utf8");
        assert_eq!(
            out,
            r#"{"model":"m","messages":[{"role":"user","content":"CODENAME_001 of CODENAME_002"}]}"#
        );
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
