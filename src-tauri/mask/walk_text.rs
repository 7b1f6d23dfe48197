//! The walk text: what the engine scans for a whole request body. Its maskable strings,
//! decoded, laid end to end in walk order (tools → system → messages → the rest, so that
//! token numbers depend only on the conversation's prefix), each ended by a mark —
//! [`STRING_END`] after a value, [`KEY_END`] after a key. One scan and one sweep cover the
//! whole request; context reaches across the marks (a key names the value that follows it),
//! no identifier holds one. A span of the walk text maps back to the raw bytes of the body it
//! was decoded from, so only masked spans of the body change.

use std::ops::Range;

use super::json_strings::{self, BodyFacts, JsonStrings, Section};

/// Ends each string value of a walk text. No identifier holds it, but context reaches
/// across it.
pub const STRING_END: char = '\0';

/// Ends each JSON key of a walk text, so that a label knows it is a key and names the value
/// in the next string (`{"OwnerId": "…"}`), unlike a text that merely ends with the word.
pub const KEY_END: char = '\u{1}';

/// Whether `c` ends a string of a walk text.
pub fn ends_string(c: char) -> bool {
    c == STRING_END || c == KEY_END
}

/// The maskable strings of a body, decoded, in walk order, each followed by its mark.
pub struct WalkText<'b> {
    pub text: String,
    /// Per string: where it starts in `text` (ascending).
    pub starts: Vec<usize>,
    /// Per string: the index of the literal it was decoded from.
    order: Vec<usize>,
    strings: JsonStrings<'b>,
}

/// The walk text's own vectors, kept from one body to the next (see [`json_strings::Buffers`]).
#[derive(Default)]
pub struct Buffers {
    text: String,
    starts: Vec<usize>,
    order: Vec<usize>,
}

impl<'b> WalkText<'b> {
    /// Lays out the maskable strings of `strings` (none from a signed thinking block) in
    /// walk order. Copying the decoded strings once more here is cheaper than a second pass
    /// over the escapes to decode them straight into walk order.
    pub fn lay_out(strings: JsonStrings<'b>, buffers: &mut Buffers) -> WalkText<'b> {
        // By section, and within one in document order: one pass per section, no sort.
        let mut order = std::mem::take(&mut buffers.order);
        let mut length = 0;
        for section in Section::WALK_ORDER {
            for i in 0..strings.len() {
                if strings.maskable_in(i, section) {
                    order.push(i);
                    length += strings.text_of(i).len() + 1;
                }
            }
        }
        let mut text = std::mem::take(&mut buffers.text);
        text.reserve(length);
        let mut starts = std::mem::take(&mut buffers.starts);
        starts.reserve(order.len());
        for &i in &order {
            starts.push(text.len());
            text.push_str(strings.text_of(i));
            text.push(if strings.is_key(i) {
                KEY_END
            } else {
                STRING_END
            });
        }
        WalkText {
            text,
            starts,
            order,
            strings,
        }
    }

    /// Gives the vectors back for the next body; the body's top-level facts are what is left.
    pub fn recycle(
        self,
        buffers: &mut Buffers,
        json_buffers: &mut json_strings::Buffers,
    ) -> BodyFacts {
        json_strings::keep_string(&mut buffers.text, self.text);
        json_strings::keep(&mut buffers.starts, self.starts);
        json_strings::keep(&mut buffers.order, self.order);
        self.strings.recycle(json_buffers)
    }

    /// The bytes of the body that `span` (within string `string`) came from. Escapes decode
    /// to whole characters, so a span never starts or ends inside one.
    pub fn raw_span(&self, string: usize, span: Range<usize>) -> Range<usize> {
        let (raw_start, marks) = self.strings.raw_map(self.order[string]);
        let start = self.starts[string];
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

/// Finds the string that holds each of a series of ascending positions, walking forward.
#[derive(Default)]
pub struct StringCursor(usize);

impl StringCursor {
    /// The string of `walk` that holds `at`; `at` must not be before the last one asked.
    pub fn string_at(&mut self, walk: &WalkText, at: usize) -> usize {
        while walk.starts.get(self.0 + 1).is_some_and(|&s| s <= at) {
            self.0 += 1;
        }
        self.0
    }
}
