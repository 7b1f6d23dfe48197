//! One pass over a JSON body: it checks the body as serde_json would (the grammar, string
//! escapes, nesting depth; a property test holds the two in step, and a refusal carries
//! serde_json's own error, computed only then), and finds the string literals: where each one
//! stands, which part of the request it belongs to, whether it is in a signed thinking block,
//! and its decoded text. `walk_text` lays the maskable ones out for the engine.
//!
//! Each escape leaves a mark (decoded offset, raw offset) after it, so a span of decoded text
//! maps back to the raw bytes it came from by one binary search.

use std::ops::Range;

use super::byte_sets::QUOTE_OR_BACKSLASH;

/// Top-level facts of a request body that the journal shows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyFacts {
    /// The `model` member, if it is a string without escapes.
    pub model: Option<String>,
    /// The `stream` member is `true`.
    pub stream: bool,
    /// Base64 sources that are not plain text (images, PDFs): what they show or print cannot
    /// be read, so it cannot be masked.
    pub attachments: usize,
}

/// Where a top-level member sits in prompt-cache order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Section {
    Tools,
    System,
    Messages,
    Other,
}

impl Section {
    /// Prompt-cache order: what comes first in a request comes first in the walk.
    pub(super) const WALK_ORDER: [Section; 4] = [
        Section::Tools,
        Section::System,
        Section::Messages,
        Section::Other,
    ];

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
    /// An object's key, not a value.
    key: bool,
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

/// The vectors that reading a body fills, kept by the caller from one body to the next:
/// a megabyte of fresh memory costs the kernel 256 page faults, which on a virtual machine
/// take longer than reading the body. What a previous body left in them is never read:
/// each is emptied when it is kept.
#[derive(Default)]
pub struct Buffers {
    literals: Vec<Literal>,
    decoded: String,
    marks: Vec<(usize, usize)>,
    objects: Vec<ObjectFacts>,
    owners: Vec<Option<(usize, Member)>>,
}

/// A buffer that grew beyond this goes back to the allocator rather than to [`Buffers`]:
/// one huge body should not hold its memory for the life of the thread.
const KEEP_AT_MOST: usize = 4 << 20;

/// Keeps `v`, emptied, in `slot` for the next body, unless it is too large to keep.
pub(super) fn keep<T>(slot: &mut Vec<T>, mut v: Vec<T>) {
    if v.capacity() * size_of::<T>() <= KEEP_AT_MOST {
        v.clear();
        *slot = v;
    }
}

/// [`keep`] for a `String`.
pub(super) fn keep_string(slot: &mut String, mut s: String) {
    if s.capacity() <= KEEP_AT_MOST {
        s.clear();
        *slot = s;
    }
}

/// An open object or array.
struct Frame {
    /// The object's index in `objects`; `None` for an array.
    object: Option<usize>,
    place: Place,
    /// The member whose value comes next (or is being read) in this object.
    member: Member,
}

/// Where an object or array stands in the Messages API's shape, as far as thinking blocks
/// care: only a content block of an assistant message can be one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The body itself.
    Body,
    /// The body's `messages` array.
    Messages,
    /// One message of it.
    Message,
    /// A message's `content` array.
    Content,
    /// One content block of it.
    Block,
    Elsewhere,
}

/// The member names that decide whether a block is a signed thinking block. Compared as
/// they stand in the body: a name spelled with escapes is `Other`, which can only cause masking.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Member {
    Messages,
    Role,
    Content,
    Type,
    Thinking,
    Signature,
    Data,
    MediaType,
    Other,
}

impl Member {
    fn of_key(raw: &[u8]) -> Member {
        match raw {
            b"messages" => Member::Messages,
            b"role" => Member::Role,
            b"content" => Member::Content,
            b"type" => Member::Type,
            b"thinking" => Member::Thinking,
            b"signature" => Member::Signature,
            b"data" => Member::Data,
            b"media_type" => Member::MediaType,
            _ => Member::Other,
        }
    }
}

/// What the members of one object said, for thinking blocks: settled once the whole body is
/// read, since members may come in any order. Every value a duplicated member took counts.
#[derive(Default, Clone, Copy)]
struct ObjectFacts {
    place: Option<Place>,
    /// For a content block: its message's index in `objects`.
    message: Option<usize>,
    role_assistant: bool,
    role_other: bool,
    type_thinking: bool,
    type_redacted: bool,
    type_other: bool,
    has_signature: bool,
    has_data: bool,
    /// A `"type": "base64"` source, and whether its `media_type` is exactly `text/plain`
    /// (base64 text is decoded and scanned; anything else, however it is spelled, is not).
    type_base64: bool,
    media_text: bool,
}

impl ObjectFacts {
    /// A signed block as the Messages API puts one: in the content of an assistant message,
    /// `thinking` with its `signature`, or `redacted_thinking` with its `data`.
    fn is_signed_block(&self, objects: &[ObjectFacts]) -> bool {
        let in_assistant_message = self.place == Some(Place::Block)
            && self.message.is_some_and(|m| {
                let message = &objects[m];
                message.role_assistant && !message.role_other
            });
        let one_type = [self.type_thinking, self.type_redacted, self.type_other]
            .iter()
            .filter(|&&t| t)
            .count()
            == 1;
        in_assistant_message
            && one_type
            && ((self.type_thinking && self.has_signature) || (self.type_redacted && self.has_data))
    }

    /// Whether a member of a signed block passes byte for byte: its name, `type`, and the
    /// signed text (`thinking` and `signature`, or `data`). Anything else in it is masked.
    fn signs(&self, member: Member) -> bool {
        match member {
            Member::Type => true,
            Member::Thinking | Member::Signature => self.type_thinking,
            Member::Data => self.type_redacted,
            _ => false,
        }
    }
}

/// What the grammar allows next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (the body, an array element, a member's value).
    Value,
    /// A value or `]` (just after `[`).
    ValueOrClose,
    /// A key or `}` (just after `{`).
    KeyOrClose,
    /// A key (after `,` in an object).
    Key,
    /// The `:` after a key.
    Colon,
    /// `,` or the end of the open object or array.
    CommaOrClose,
    /// Nothing but whitespace (the body's value is complete).
    End,
}

/// Objects and arrays nest at most this deep, as serde_json parses them.
const MAX_DEPTH: usize = 127;

impl<'b> JsonStrings<'b> {
    /// Reads a body: checks that it is one JSON value exactly as serde_json would, locates its
    /// strings and decodes them. A body serde_json would refuse is refused, with serde_json's
    /// own error; so is a string serde would not decode (a lone UTF-16 surrogate in a `\u`
    /// escape). Its vectors are taken from `buffers`.
    pub fn read(
        body: &'b str,
        buffers: &mut Buffers,
    ) -> Result<JsonStrings<'b>, serde_json::Error> {
        let mut decoded = std::mem::take(&mut buffers.decoded);
        // Decoding only shortens: this never grows (fresh pages are touched only when written).
        decoded.reserve(body.len());
        let mut strings = JsonStrings {
            body,
            literals: std::mem::take(&mut buffers.literals),
            facts: BodyFacts::default(),
            decoded,
            marks: std::mem::take(&mut buffers.marks),
        };
        let b = body.as_bytes();
        // What each object's members said, and for each literal the object it is a direct
        // member of (with the member): whether a block is a signed thinking block is settled
        // once the whole body is read, since a block's "type" may come after its text.
        let mut objects = std::mem::take(&mut buffers.objects);
        let mut owners = std::mem::take(&mut buffers.owners);
        let mut stack: Vec<Frame> = Vec::new();
        let mut section = Section::Other;
        let mut top_key: &[u8] = b"";
        let mut expect = Expect::Value;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
                continue;
            }
            let is_key = matches!(expect, Expect::Key | Expect::KeyOrClose);
            match (expect, c) {
                (Expect::Value | Expect::ValueOrClose, b'{' | b'[') => {
                    if stack.len() == MAX_DEPTH {
                        return Err(invalid(body));
                    }
                    let place = match (stack.last().map(|f| (f.place, f.member)), c) {
                        (None, b'{') => Place::Body,
                        (Some((Place::Body, Member::Messages)), b'[') => Place::Messages,
                        (Some((Place::Messages, _)), b'{') => Place::Message,
                        (Some((Place::Message, Member::Content)), b'[') => Place::Content,
                        (Some((Place::Content, _)), b'{') => Place::Block,
                        _ => Place::Elsewhere,
                    };
                    if let Some(parent) = stack.last().and_then(|f| Some((f.object?, f.member))) {
                        note_member(&mut objects[parent.0], parent.1, None);
                    }
                    let object = (c == b'{').then(|| {
                        // A block's message is the object two frames up: message → content → block.
                        let message = (place == Place::Block)
                            .then(|| stack[stack.len() - 2].object)
                            .flatten();
                        objects.push(ObjectFacts {
                            place: Some(place),
                            message,
                            ..ObjectFacts::default()
                        });
                        objects.len() - 1
                    });
                    stack.push(Frame {
                        object,
                        place,
                        member: Member::Other,
                    });
                    expect = if c == b'{' {
                        Expect::KeyOrClose
                    } else {
                        Expect::ValueOrClose
                    };
                    i += 1;
                    continue;
                }
                (Expect::KeyOrClose | Expect::CommaOrClose, b'}')
                | (Expect::ValueOrClose | Expect::CommaOrClose, b']') => {
                    let open = stack.pop().ok_or_else(|| invalid(body))?;
                    if open.object.is_some() != (c == b'}') {
                        return Err(invalid(body));
                    }
                }
                (Expect::CommaOrClose, b',') => {
                    let in_object = stack.last().is_some_and(|f| f.object.is_some());
                    expect = if in_object {
                        Expect::Key
                    } else {
                        Expect::Value
                    };
                    i += 1;
                    continue;
                }
                (Expect::Colon, b':') => {
                    expect = Expect::Value;
                    i += 1;
                    continue;
                }
                (Expect::Value | Expect::ValueOrClose | Expect::Key | Expect::KeyOrClose, b'"') => {
                    let literal = strings.read_literal(i + 1)?;
                    let content = &b[literal.raw.clone()];
                    let depth = stack.len();
                    let mut owner = None;
                    if let Some(top) = stack.last_mut() {
                        if is_key {
                            top.member = Member::of_key(content);
                            if depth == 1 {
                                section = Section::of_key(content);
                                top_key = content;
                            }
                        } else if depth == 1 && top_key == b"model" && literal.decoded.is_none() {
                            strings.facts.model =
                                std::str::from_utf8(content).ok().map(str::to_owned);
                        }
                        if let Some(object) = top.object {
                            owner = Some((object, top.member));
                            if !is_key {
                                let object = &mut objects[object];
                                note_member(object, top.member, Some(content));
                                // Raw bytes decide what may pass unmasked; what refuses is
                                // judged by what the value says, escapes and all.
                                let decoded = literal.decoded.clone().map(|r| &strings.decoded[r]);
                                if top.member == Member::Type && decoded == Some("base64") {
                                    object.type_base64 = true;
                                }
                            }
                        }
                    }
                    i = literal.raw.end + 1;
                    owners.push(owner);
                    strings.literals.push(Literal {
                        section,
                        key: is_key,
                        ..literal
                    });
                    if is_key {
                        expect = Expect::Colon;
                        continue;
                    }
                    expect = after_value(&stack);
                    continue;
                }
                (Expect::Value | Expect::ValueOrClose, _) => {
                    let end = scalar_end(b, i).ok_or_else(|| invalid(body))?;
                    if let Some(parent) = stack.last().and_then(|f| Some((f.object?, f.member))) {
                        note_member(&mut objects[parent.0], parent.1, None);
                    }
                    if stack.len() == 1 && top_key == b"stream" {
                        strings.facts.stream = &b[i..end] == b"true";
                    }
                    i = end;
                    expect = after_value(&stack);
                    continue;
                }
                _ => return Err(invalid(body)),
            }
            // A closed object or array is a complete value.
            i += 1;
            expect = after_value(&stack);
        }
        if expect != Expect::End {
            return Err(invalid(body));
        }
        strings.facts.attachments = objects
            .iter()
            .filter(|o| o.type_base64 && !o.media_text)
            .count();
        for (literal, &owner) in strings.literals.iter_mut().zip(&owners) {
            if let Some((object, member)) = owner {
                let block = &objects[object];
                literal.signed = block.is_signed_block(&objects) && block.signs(member);
            }
        }
        keep(&mut buffers.objects, objects);
        keep(&mut buffers.owners, owners);
        Ok(strings)
    }

    /// Reads the literal whose content starts at `start`, decoding it if it holds escapes.
    fn read_literal(&mut self, start: usize) -> Result<Literal, serde_json::Error> {
        let b = self.body.as_bytes();
        let marks_start = self.marks.len();
        let decoded_start = self.decoded.len();
        let mut copied = start;
        let mut at = start; // past the escapes decoded so far
        let mut end = None;
        for p in QUOTE_OR_BACKSLASH.positions(b, start) {
            if p < at {
                continue; // the `"` or `\\` of an escape just decoded
            }
            if b[p] == b'"' {
                end = Some(p);
                break;
            }
            self.decoded.push_str(&self.body[copied..p]);
            let (c, len) = decode_escape(&self.body[p..]).ok_or_else(|| {
                let bad_escape = invalid(self.body);
                match literal_error(self.body, start) {
                    Some(lone_surrogate) => lone_surrogate,
                    None => bad_escape,
                }
            })?;
            self.decoded.push(c);
            at = p + len;
            copied = at;
            self.marks
                .push((self.decoded.len() - decoded_start, at - start));
        }
        let end = end.ok_or_else(|| invalid(self.body))?;
        // Control characters must be escaped in JSON. (A fold, not `any`, so that it vectorises.)
        if b[start..end]
            .iter()
            .fold(false, |seen, &c| seen | (c < 0x20))
        {
            return Err(invalid(self.body));
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
            key: false,
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

    /// How many literals the body has.
    pub(super) fn len(&self) -> usize {
        self.literals.len()
    }

    /// Whether literal `index` (in document order) stands in `section` and may be masked
    /// (is not in a signed thinking block).
    pub(super) fn maskable_in(&self, index: usize, section: Section) -> bool {
        let literal = &self.literals[index];
        literal.section == section && !literal.signed
    }

    /// Whether literal `index` is an object's key.
    pub(super) fn is_key(&self, index: usize) -> bool {
        self.literals[index].key
    }

    /// The decoded text of literal `index`.
    pub(super) fn text_of(&self, index: usize) -> &str {
        self.text(&self.literals[index])
    }

    /// The raw offset of literal `index` in the body, and its escape marks.
    pub(super) fn raw_map(&self, index: usize) -> (usize, &[(usize, usize)]) {
        let literal = &self.literals[index];
        (literal.raw.start, &self.marks[literal.marks.clone()])
    }

    /// Gives the vectors back to `buffers` for the next body; the body's top-level facts
    /// are what is left.
    pub(super) fn recycle(self, buffers: &mut Buffers) -> BodyFacts {
        keep(&mut buffers.literals, self.literals);
        keep_string(&mut buffers.decoded, self.decoded);
        keep(&mut buffers.marks, self.marks);
        self.facts
    }
}

/// Decodes the escape at the start of `raw` (`\n`, `\u00e9`, a surrogate pair …): the
/// character and the escape's length. `None` for a lone surrogate.
fn decode_escape(raw: &str) -> Option<(char, usize)> {
    let unit = |at: usize| {
        raw.get(at..at + 4)
            .filter(|hex| hex.bytes().all(|h| h.is_ascii_hexdigit()))
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

/// The error serde_json gives when it decodes the literal at `start`, if it refuses it.
fn literal_error(body: &str, start: usize) -> Option<serde_json::Error> {
    serde_json::Deserializer::from_str(&body[start - 1..])
        .into_iter::<String>()
        .next()?
        .err()
}

/// The error serde_json gives for a body the grammar refused (read only on that path).
fn invalid(body: &str) -> serde_json::Error {
    match serde_json::from_str::<serde_json::Value>(body) {
        Err(e) => e,
        Ok(_) => serde::de::Error::custom("the body is not one well-formed JSON value"),
    }
}

/// Notes a value of `member` in an object: `Some(raw)` for a string, `None` for any other value.
fn note_member(object: &mut ObjectFacts, member: Member, value: Option<&[u8]>) {
    match (member, value) {
        (Member::Role, Some(b"assistant")) => object.role_assistant = true,
        (Member::Role, _) => object.role_other = true,
        (Member::Type, Some(b"thinking")) => object.type_thinking = true,
        (Member::Type, Some(b"redacted_thinking")) => object.type_redacted = true,
        (Member::Type, Some(b"base64")) => {
            object.type_base64 = true;
            object.type_other = true;
        }
        (Member::Type, _) => object.type_other = true,
        (Member::MediaType, Some(b"text/plain")) => object.media_text = true,
        (Member::Signature, Some(_)) => object.has_signature = true,
        (Member::Data, Some(_)) => object.has_data = true,
        _ => {}
    }
}

/// What the grammar allows after a complete value.
fn after_value(stack: &[Frame]) -> Expect {
    if stack.is_empty() {
        Expect::End
    } else {
        Expect::CommaOrClose
    }
}

/// The end of the literal (`true`, `false`, `null`) or number at `i`; `None` if there is none.
fn scalar_end(b: &[u8], i: usize) -> Option<usize> {
    for word in [&b"true"[..], b"false", b"null"] {
        if b[i..].starts_with(word) {
            return Some(i + word.len());
        }
    }
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut at = i + usize::from(b[i] == b'-');
    match b.get(at)? {
        b'0' => at += 1,
        b'1'..=b'9' => at += digits(at),
        _ => return None,
    }
    if b.get(at) == Some(&b'.') {
        let n = digits(at + 1);
        if n == 0 {
            return None;
        }
        at += 1 + n;
    }
    if matches!(b.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(b.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let n = digits(at);
        if n == 0 {
            return None;
        }
        at += n;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::walk_text::{self, WalkText};

    fn literals(body: &str) -> Vec<String> {
        let strings = JsonStrings::read(body, &mut Buffers::default()).expect("decodable");
        let walk = WalkText::lay_out(strings, &mut walk_text::Buffers::default());
        let mut strings: Vec<String> = walk
            .text
            .split(walk_text::ends_string)
            .map(str::to_owned)
            .collect();
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
            let ours = JsonStrings::read(body, &mut Buffers::default())
                .err()
                .map(message);
            let serdes = serde_json::from_str::<Vec<String>>(body).err().map(message);
            assert!(ours.is_some(), "{body}");
            assert_eq!(ours, serdes, "{body}");
        }
    }

    #[test]
    fn decoded_spans_map_back_to_their_raw_bytes() {
        let body = r#"["first", "x\n\u00e9 ab\tcd\ud83d\ude00ef"]"#;
        let strings = JsonStrings::read(body, &mut Buffers::default()).expect("decodable");
        let walk = WalkText::lay_out(strings, &mut walk_text::Buffers::default());
        for (word, raw) in [
            ("irs", "irs"),
            ("ab", "ab"),
            ("cd", "cd"),
            ("ef", "ef"),
            ("\u{e9} ab", "\\u00e9 ab"),
            ("x\n", "x\\n"),
        ] {
            let at = walk.text.find(word).expect("in the text");
            let string = walk.starts.partition_point(|&s| s <= at) - 1;
            let span = walk.raw_span(string, at..at + word.len());
            assert_eq!(&body[span], raw);
        }
    }

    /// Pieces of JSON, valid and not: bodies made of them are accepted exactly when
    /// serde_json parses them. (serde_json's `Value` also refuses numbers beyond `f64`, which
    /// are valid JSON and pass, as they always did; none is generated here.)
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"a\"",
        "\"type\"",
        "\"thinking\"",
        "\"x\\n\\\"y\"",
        "\"\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\q\"",
        "\"\\u12G4\"",
        "\"\u{1}\"",
        "\"open",
        // Numbers end with a space, so that no two make an exponent beyond f64.
        "1 ",
        "-0.5e3 ",
        "01 ",
        "1. ",
        "-",
        "2E+7 ",
        "true",
        "false",
        "null",
        "nul",
        "truex",
        "\"\\u+123\"",
    ];

    fn accepted_by_serde(body: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(body).is_ok()
    }

    proptest::proptest! {
        #[test]
        fn accepts_exactly_what_serde_json_accepts(
            pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..24)
        ) {
            let body = pieces.concat();
            proptest::prop_assert_eq!(
                JsonStrings::read(&body, &mut Buffers::default()).is_ok(),
                accepted_by_serde(&body),
                "{}", body
            );
        }

        #[test]
        fn valid_bodies_are_accepted_and_decoded_like_serde(value in json_value()) {
            for body in [value.to_string(), serde_json::to_string_pretty(&value).expect("json")] {
                let strings = JsonStrings::read(&body, &mut Buffers::default()).expect("serde_json wrote it");
                let mut expected = Vec::new();
                collect_strings(&value, &mut expected);
                let mut ours: Vec<String> = strings.literals.iter().map(|l| strings.text(l).to_owned()).collect();
                ours.sort();
                expected.sort();
                proptest::prop_assert_eq!(ours, expected);
            }
        }

        #[test]
        fn buffers_left_by_one_body_change_nothing_for_the_next(
            first in json_value(),
            second in json_value(),
            signed in proptest::bool::ANY,
        ) {
            let mut buffers = Buffers::default();
            let mut walk_buffers = walk_text::Buffers::default();
            for value in [&first, &second] {
                let block = if signed { "thinking" } else { "text" };
                let body = serde_json::json!({
                    "messages": [{"type": block, "thinking": value}, value],
                    "system": value,
                })
                .to_string();
                let reused = JsonStrings::read(&body, &mut buffers).expect("json");
                let reused = WalkText::lay_out(reused, &mut walk_buffers);
                let fresh = JsonStrings::read(&body, &mut Buffers::default()).expect("json");
                let fresh = WalkText::lay_out(fresh, &mut walk_text::Buffers::default());
                proptest::prop_assert_eq!(&reused.text, &fresh.text);
                proptest::prop_assert_eq!(&reused.starts, &fresh.starts);
                for string in 0..fresh.starts.len() {
                    let whole = |walk: &WalkText| {
                        let end = walk.starts.get(string + 1).map_or(walk.text.len(), |&e| e) - 1;
                        walk.raw_span(string, walk.starts[string]..end)
                    };
                    proptest::prop_assert_eq!(whole(&reused), whole(&fresh));
                }
                proptest::prop_assert_eq!(
                    reused.recycle(&mut walk_buffers, &mut buffers),
                    fresh.recycle(&mut walk_text::Buffers::default(), &mut Buffers::default())
                );
            }
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e12f64..1e12).prop_map(serde_json::Value::from),
            "[ -~\\n\\t\"\\\\é😀\u{1}]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"\\\\é]{0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
            serde_json::Value::Object(members) => {
                for (key, v) in members {
                    out.push(key.clone());
                    collect_strings(v, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        for depth in [126, 127, 128, 200] {
            let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let ours = JsonStrings::read(&body, &mut Buffers::default())
                .map(|_| ())
                .map_err(|e| e.to_string());
            let serdes = serde_json::from_str::<serde_json::Value>(&body)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(ours, serdes, "depth {depth}");
        }
    }
}
