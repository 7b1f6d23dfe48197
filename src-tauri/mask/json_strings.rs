//! The string literals of a JSON body that serde_json has already validated: where each one
//! stands, which part of the request it belongs to, and its decoded text, in one pass; then
//! the text the engine scans — the maskable strings in walk order, each followed by a NUL, so
//! that one scan and one sweep cover the whole request.
//!
//! Each escape leaves a mark (decoded offset, raw offset) after it, so a span of decoded text
//! maps back to the raw bytes it came from by one binary search.

use std::ops::Range;

use super::byte_sets::QUOTE_OR_BACKSLASH;
use super::engine::STRING_END;

/// Top-level facts of a request body that the journal shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyFacts {
    /// The `model` member, if it is a string without escapes.
    pub model: Option<String>,
    /// The `stream` member is `true`.
    pub stream: bool,
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

/// One string literal (key or value) of the body.
#[derive(Debug)]
struct Literal {
    /// Its content between the quotes, in the body.
    raw: Range<usize>,
    /// Its decoded text in `JsonStrings::decoded`, when it holds escapes.
    decoded: Option<Range<usize>>,
    /// Its marks in `JsonStrings::marks`.
    marks: Range<usize>,
    section: Section,
    /// Inside a thinking / redacted_thinking block: signed, never changed.
    signed: bool,
}

/// The string literals of one body, in document order.
pub struct JsonStrings<'b> {
    body: &'b str,
    literals: Vec<Literal>,
    pub facts: BodyFacts,
    /// The decoded text of the literals that hold escapes.
    decoded: String,
    /// After each escape: (decoded, raw) offsets within its literal.
    marks: Vec<(usize, usize)>,
}

/// The maskable strings of a body, decoded, in walk order, each followed by [`STRING_END`].
pub struct WalkText<'s> {
    pub text: String,
    /// Per string: where it starts in `text` (ascending).
    pub starts: Vec<usize>,
    /// Per string: the literal it was decoded from.
    literals: Vec<&'s Literal>,
    strings: &'s JsonStrings<'s>,
}

struct Frame {
    object: Option<usize>,
    expecting_key: bool,
    key_is_type: bool,
}

impl<'b> JsonStrings<'b> {
    /// Reads the strings of a body that serde_json has validated. Fails only where serde
    /// would fail to decode a string (a lone UTF-16 surrogate in a `\u` escape), with serde's
    /// own error.
    pub fn read(body: &'b str) -> Result<JsonStrings<'b>, serde_json::Error> {
        let mut strings = JsonStrings {
            body,
            literals: Vec::new(),
            facts: BodyFacts::default(),
            // Decoding only shortens: this never grows (pages are touched only when written).
            decoded: String::with_capacity(body.len()),
            marks: Vec::new(),
        };
        let b = body.as_bytes();
        // Objects: parent index and whether they are thinking blocks. Literals remember their
        // innermost object; the thinking flag is settled once the whole body is read, since a
        // block's "type" may come after its text.
        let mut objects: Vec<(Option<usize>, bool)> = Vec::new();
        let mut owners: Vec<Option<usize>> = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut section = Section::Other;
        let mut top_key: &[u8] = b"";
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
                }
                b'[' => stack.push(Frame {
                    object: None,
                    expecting_key: false,
                    key_is_type: false,
                }),
                b'}' | b']' => {
                    stack.pop();
                }
                b',' => {
                    if let Some(top) = stack.last_mut() {
                        top.expecting_key = top.object.is_some();
                    }
                }
                b':' => {
                    if let Some(top) = stack.last_mut() {
                        top.expecting_key = false;
                    }
                }
                b'"' => {
                    let literal = strings.read_literal(i + 1)?;
                    let content = &b[literal.raw.clone()];
                    let depth = stack.len();
                    if let Some(top) = stack.last_mut() {
                        if top.object.is_some() && top.expecting_key {
                            top.key_is_type = content == b"type";
                            if depth == 1 {
                                section = Section::of_key(content);
                                top_key = content;
                            }
                        } else if depth == 1 && top_key == b"model" && literal.decoded.is_none() {
                            strings.facts.model =
                                std::str::from_utf8(content).ok().map(str::to_owned);
                        } else if top.key_is_type
                            && (content == b"thinking" || content == b"redacted_thinking")
                        {
                            if let Some(object) = top.object {
                                objects[object].1 = true;
                            }
                        }
                    }
                    i = literal.raw.end;
                    owners.push(stack.iter().rev().find_map(|f| f.object));
                    strings.literals.push(Literal { section, ..literal });
                }
                b't' if stack.len() == 1 && top_key == b"stream" => {
                    strings.facts.stream = b[i..].starts_with(b"true");
                }
                _ => {}
            }
            i += 1;
        }
        for (literal, owner) in strings.literals.iter_mut().zip(owners) {
            let mut object = owner;
            while let Some(o) = object {
                if objects[o].1 {
                    literal.signed = true;
                    break;
                }
                object = objects[o].0;
            }
        }
        Ok(strings)
    }

    /// Reads the literal whose content starts at `start`, decoding it if it holds escapes.
    fn read_literal(&mut self, start: usize) -> Result<Literal, serde_json::Error> {
        let b = self.body.as_bytes();
        let marks_start = self.marks.len();
        let decoded_start = self.decoded.len();
        let mut copied = start;
        let mut at = start; // past the escapes decoded so far
        let mut end = b.len();
        for p in QUOTE_OR_BACKSLASH.positions(b, start) {
            if p < at {
                continue; // the `"` or `\\` of an escape just decoded
            }
            if b[p] == b'"' {
                end = p;
                break;
            }
            self.decoded.push_str(&self.body[copied..p]);
            let (c, len) =
                decode_escape(&self.body[p..]).ok_or_else(|| literal_error(self.body, start))?;
            self.decoded.push(c);
            at = p + len;
            copied = at;
            self.marks
                .push((self.decoded.len() - decoded_start, at - start));
        }
        let decoded = (self.marks.len() > marks_start).then(|| {
            self.decoded.push_str(&self.body[copied..end]);
            decoded_start..self.decoded.len()
        });
        Ok(Literal {
            raw: start..end,
            decoded,
            marks: marks_start..self.marks.len(),
            section: Section::Other,
            signed: false,
        })
    }

    /// The decoded text of `literal`.
    fn text(&self, literal: &Literal) -> &str {
        match &literal.decoded {
            Some(range) => &self.decoded[range.clone()],
            None => &self.body[literal.raw.clone()],
        }
    }

    /// The maskable strings (none from a thinking block) in walk order: `tools`, `system`,
    /// `messages`, then the rest. Copying the decoded strings once more here is cheaper than
    /// a second pass over the escapes to decode them straight into walk order.
    pub fn walk_text(&self) -> WalkText<'_> {
        let mut literals: Vec<&Literal> = self.literals.iter().filter(|l| !l.signed).collect();
        literals.sort_by_key(|l| l.section);
        let length: usize = literals.iter().map(|l| self.text(l).len() + 1).sum();
        let mut text = String::with_capacity(length);
        let mut starts = Vec::with_capacity(literals.len());
        for literal in &literals {
            starts.push(text.len());
            text.push_str(self.text(literal));
            text.push(STRING_END);
        }
        WalkText {
            text,
            starts,
            literals,
            strings: self,
        }
    }
}

impl WalkText<'_> {
    /// The string that holds offset `at` of the text.
    pub fn string_at(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s <= at) - 1
    }

    /// The bytes of the body that `span` (within string `string`) came from. Escapes decode
    /// to whole characters, so a span never starts or ends inside one.
    pub fn raw_span(&self, string: usize, span: Range<usize>) -> Range<usize> {
        let literal = self.literals[string];
        let marks = &self.strings.marks[literal.marks.clone()];
        let start = self.starts[string];
        let raw_start = literal.raw.start;
        let raw_of = |at: usize| {
            let decoded = at - start;
            let (mark_decoded, mark_raw) = match marks.partition_point(|&(d, _)| d <= decoded) {
                0 => (0, 0),
                n => marks[n - 1],
            };
            raw_start + mark_raw + (decoded - mark_decoded)
        };
        raw_of(span.start)..raw_of(span.end)
    }
}

/// Decodes the escape at the start of `raw` (`\n`, `\u00e9`, a surrogate pair …): the
/// character and the escape's length. `None` for a lone surrogate.
fn decode_escape(raw: &str) -> Option<(char, usize)> {
    let unit = |at: usize| {
        raw.get(at..at + 4)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
    };
    let kind = *raw.as_bytes().get(1)?;
    // Most escapes are `\n`, `\t`, `\"`: a table look-up, not a jump that mispredicts.
    let simple = SIMPLE_ESCAPES[usize::from(kind)];
    if simple != 0 {
        return Some((char::from(simple), 2));
    }
    match kind {
        b'u' => {
            let high = unit(2)?;
            if !(0xD800..0xDC00).contains(&high) {
                return Some((char::from_u32(high)?, 6));
            }
            let low = raw[6..].strip_prefix("\\u").and(unit(8))?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            let c = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?;
            Some((c, 12))
        }
        _ => None,
    }
}

/// What each two-byte escape stands for, by the byte after the backslash; 0 for the others.
const SIMPLE_ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'/' as usize] = b'/';
    table[b'b' as usize] = 0x08;
    table[b'f' as usize] = 0x0c;
    table[b'n' as usize] = b'\n';
    table[b'r' as usize] = b'\r';
    table[b't' as usize] = b'\t';
    table
};

/// The error serde_json gives for the literal at `start` (one it cannot decode).
fn literal_error(body: &str, start: usize) -> serde_json::Error {
    let literal = serde_json::Deserializer::from_str(&body[start - 1..])
        .into_iter::<String>()
        .next();
    match literal {
        Some(Err(e)) => e,
        _ => serde::de::Error::custom("a string escape could not be decoded"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(body: &str) -> Vec<String> {
        let strings = JsonStrings::read(body).expect("decodable");
        let walk = strings.walk_text();
        let mut strings: Vec<String> = walk.text.split(STRING_END).map(str::to_owned).collect();
        assert_eq!(strings.pop().as_deref(), Some(""), "every string ends");
        strings
    }

    #[test]
    fn every_escape_decodes_as_serde_decodes_it() {
        let body =
            r#"["plain", "a\"b\\c\/d\be\ff\ng\rh\ti", "\u00e9\u4e2d\ud83d\ude00x", "\u0041"]"#;
        let expected: Vec<String> = serde_json::from_str(body).expect("valid");
        assert_eq!(literals(body), expected);
    }

    #[test]
    fn lone_surrogates_are_refused_with_serdes_error() {
        for body in [r#"["\ud83d"]"#, r#"["\ude00x"]"#, r#"["\ud83d\u0041"]"#] {
            let message = |e: serde_json::Error| {
                let text = e.to_string();
                text.split(" at line").next().unwrap_or_default().to_owned()
            };
            let ours = JsonStrings::read(body).err().map(message);
            let serdes = serde_json::from_str::<Vec<String>>(body).err().map(message);
            assert!(ours.is_some(), "{body}");
            assert_eq!(ours, serdes, "{body}");
        }
    }

    #[test]
    fn decoded_spans_map_back_to_their_raw_bytes() {
        let body = r#"["first", "x\n\u00e9 ab\tcd\ud83d\ude00ef"]"#;
        let strings = JsonStrings::read(body).expect("decodable");
        let walk = strings.walk_text();
        for (word, raw) in [
            ("irs", "irs"),
            ("ab", "ab"),
            ("cd", "cd"),
            ("ef", "ef"),
            ("\u{e9} ab", "\\u00e9 ab"),
            ("x\n", "x\\n"),
        ] {
            let at = walk.text.find(word).expect("in the text");
            let span = walk.raw_span(walk.string_at(at), at..at + word.len());
            assert_eq!(&body[span], raw);
        }
    }
}
