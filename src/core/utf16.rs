//! Byte offsets of a UTF-8 text as UTF-16 offsets, which is how JavaScript's `slice` counts.
//!
//! The driver hands a job event's payload to the app as a slice of the browser's own string;
//! the core knows where the payload lies in bytes. For ASCII text (nearly every frame) the two
//! agree. Otherwise this counts, resuming from the last conversion, because a batch asks for
//! its payloads in text order and counting from the start each time would be quadratic.

use std::cell::Cell;
use std::ops::Range;

/// Converts byte ranges of one text to UTF-16 ranges.
#[derive(Debug)]
pub struct Utf16Index {
    ascii: bool,
    /// The last (byte, UTF-16) offset pair converted.
    cursor: Cell<(usize, usize)>,
}

impl Utf16Index {
    /// Scans `text` once to learn whether it is ASCII.
    pub fn new(text: &str) -> Self {
        Utf16Index {
            ascii: text.is_ascii(),
            cursor: Cell::new((0, 0)),
        }
    }

    /// The byte range `span` of `text` (the text this index was made for) in UTF-16 code
    /// units; `None` if the range does not fall on character boundaries or exceeds `u32`.
    pub fn range(&self, text: &str, span: &Range<usize>) -> Option<(u32, u32)> {
        let inside = text.get(span.clone())?;
        let (start, len) = if self.ascii {
            (span.start, inside.len())
        } else {
            (
                self.offset(text, span.start)?,
                inside.encode_utf16().count(),
            )
        };
        Some((u32::try_from(start).ok()?, u32::try_from(start + len).ok()?))
    }

    fn offset(&self, text: &str, byte: usize) -> Option<usize> {
        let (mut from_byte, mut from_utf16) = self.cursor.get();
        if byte < from_byte {
            (from_byte, from_utf16) = (0, 0);
        }
        let offset = from_utf16 + text.get(from_byte..byte)?.encode_utf16().count();
        self.cursor.set((byte, offset));
        Some(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::Utf16Index;

    fn slice_utf16(text: &str, (start, end): (u32, u32)) -> String {
        let units: Vec<u16> = text.encode_utf16().collect();
        String::from_utf16(&units[start as usize..end as usize]).unwrap()
    }

    #[test]
    fn ascii_offsets_are_byte_offsets() {
        let text = r#"{"data":{"a":1}}"#;
        let index = Utf16Index::new(text);
        assert_eq!(index.range(text, &(8..15)), Some((8, 15)));
    }

    #[test]
    fn non_ascii_ranges_slice_the_same_text_in_any_order() {
        let text = r#"[{"data":{"s":"é"}},{"data":{"s":"𝄞 ok"}},{"data":{"s":"x"}}]"#;
        let index = Utf16Index::new(text);
        let spans: Vec<_> = ["{\"s\":\"é\"}", "{\"s\":\"𝄞 ok\"}", "{\"s\":\"x\"}"]
            .iter()
            .map(|part| {
                let start = text.find(part).unwrap();
                (start..start + part.len(), *part)
            })
            .collect();
        for order in [[0, 1, 2], [2, 0, 1]] {
            for &which in &order {
                let (span, part) = &spans[which];
                let range = index.range(text, span).unwrap();
                assert_eq!(slice_utf16(text, range), *part);
            }
        }
    }

    #[test]
    fn a_range_inside_a_character_is_refused() {
        let text = "é";
        assert_eq!(Utf16Index::new(text).range(text, &(1..2)), None);
    }
}
