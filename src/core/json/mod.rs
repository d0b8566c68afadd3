//! A small JSON reader, written for the protocol's needs and the package's size budget.
//!
//! serde_json with serde's derives made up about half of the wasm binary (every derived
//! `Deserialize` is a visitor monomorphized per deserializer, and its error messages pull in
//! float formatting), which put the package far over its 30 KB budget. The protocol needs
//! much less: read small flat objects, know where each value lies in the text (so the driver
//! can hand a payload to JS as a slice of the browser's own string), and reject anything odd
//! with a clear reason. This reader does exactly that: it parses RFC 8259 JSON into a borrowed
//! tree whose strings are slices of the input unless they contain escapes, keeps every
//! value's byte span, bounds nesting so hostile input cannot exhaust the stack, and never
//! panics (`tests/protocol.rs` fuzzes it).
//!
//! A server is not trusted to be kind. The reader refuses objects that name a member twice
//! (the engine's `JSON.parse` would read them differently from the client), reserves nothing
//! ahead of what it reads (a frame of `[{},{},…]` once cost a hundred times its size), and
//! [`parse_batch`] bounds how many frames one batch may hold.
//!
//! - `reader`: the text to a [`Value`] tree.
//! - `number`: a number's text to `f64`, without the standard library's float parser.
//! - `write`: strings and integers back to JSON text.

mod number;
mod reader;
mod write;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use number::{number_to_f64, number_to_u64};
use reader::Reader;
pub use reader::{BATCH_TOO_LONG, DUPLICATE_NAME};
pub use write::{write_string, write_string_contents, write_u64};

/// How deeply arrays and objects may nest. The protocol needs four levels (batch, frame,
/// payload, and one more for an app's message data); the rest is headroom.
pub const MAX_DEPTH: usize = 64;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`, 2^53 − 1). The
/// app reads every number of a frame with `JSON.parse`, so a counter beyond it (a `seq`) would
/// be one number for the client and another for the app.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// What a number held to [`MAX_SAFE_INTEGER`] must be, in error messages.
pub const SAFE_INTEGER_RANGE: &str = "an integer from 0 to 9007199254740991";

/// A parsed JSON value and where it lies in the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Value<'a> {
    pub kind: Kind<'a>,
    /// Byte offsets of the value in the text.
    pub span: Range<usize>,
}

/// What a [`Value`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// A number, kept as its validated text so integers stay exact and floats are only
    /// converted when asked for.
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in text order, each name once.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// Why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset where reading stopped.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// Parses a whole text as one JSON value.
pub fn parse(text: &str) -> Result<Value<'_>, SyntaxError> {
    parse_batch(text, usize::MAX)
}

/// [`parse`] for a WebSocket frame, which may be a batch of frames: an outermost array of
/// more than `max_batch` elements is refused with the reason [`BATCH_TOO_LONG`] as soon as
/// its element `max_batch + 1` starts, before anything more of it is read.
pub fn parse_batch(text: &str, max_batch: usize) -> Result<Value<'_>, SyntaxError> {
    let mut reader = Reader::new(text, max_batch);
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.at != text.len() {
        return Err(reader.error("unexpected text after the value"));
    }
    Ok(value)
}

impl<'a> Value<'a> {
    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Value<'a>)]> {
        match &self.kind {
            Kind::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match &self.kind {
            Kind::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The member named `name`, if this is an object that has one.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.as_object()?
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.kind {
            Kind::Number(text) => Some(number_to_f64(text)).filter(|value| value.is_finite()),
            _ => None,
        }
    }

    /// The value as an unsigned integer, if it is one exactly (`3`, not `3.5` or `-3`).
    pub fn as_u64(&self) -> Option<u64> {
        match self.kind {
            Kind::Number(text) => number_to_u64(text),
            _ => None,
        }
    }

    /// [`Value::as_u64`] for an integer a JS number holds exactly (at most
    /// [`MAX_SAFE_INTEGER`]).
    pub fn as_safe_u64(&self) -> Option<u64> {
        self.as_u64().filter(|number| *number <= MAX_SAFE_INTEGER)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(_) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed_and_escapes_are_decoded() {
        let value = parse(r#"{"a":"plain","b":"tab\tquote\" snow\u2603 clef\ud834\udd1e"}"#)
            .expect("valid JSON");
        assert!(matches!(
            value.get("a").unwrap().kind,
            Kind::String(Cow::Borrowed("plain"))
        ));
        assert_eq!(
            value.get("b").unwrap().as_str(),
            Some("tab\tquote\" snow\u{2603} clef\u{1d11e}")
        );
    }

    #[test]
    fn spans_point_at_each_value() {
        let text = r#" {"data" : {"x":[1, 2]} , "n":-1.5e3} "#;
        let value = parse(text).unwrap();
        let data = value.get("data").unwrap();
        assert_eq!(&text[data.span.clone()], r#"{"x":[1, 2]}"#);
        assert_eq!(value.get("n").unwrap().as_f64(), Some(-1500.0));
    }

    #[test]
    fn integers_are_exact_and_fractions_are_not_integers() {
        let value = parse(r#"[18446744073709551615, 3.5, -3, 1e2]"#).unwrap();
        let Kind::Array(items) = value.kind else {
            panic!("an array")
        };
        assert_eq!(items[0].as_u64(), Some(u64::MAX));
        assert_eq!(items[1].as_u64(), None);
        assert_eq!(items[2].as_u64(), None);
        assert_eq!(items[3].as_u64(), None);
        assert_eq!(items[3].as_f64(), Some(100.0));
    }

    #[test]
    fn invalid_texts_are_refused_with_a_reason() {
        for (text, reason) in [
            ("", "unexpected end of text"),
            ("{", "expected a member name"),
            ("[1,]", "expected a value"),
            ("01", "unexpected text after the value"),
            ("1.", "expected a digit after '.'"),
            ("\"a\u{1}\"", "control character in a string"),
            ("\"\\x\"", "invalid escape in a string"),
            ("\"\\ud800\"", "unpaired surrogate in a string"),
            ("{\"a\" 1}", "expected ':' after a member name"),
            ("tru", "expected a value"),
            ("\"abc", "unterminated string"),
            ("1e", "expected a digit in the exponent"),
        ] {
            assert_eq!(parse(text).map_err(|e| e.reason), Err(reason), "{text:?}");
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_exhausting_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).map_err(|e| e.reason), Err("nesting too deep"));
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn an_object_that_names_a_member_twice_is_refused_at_any_depth() {
        let many: Vec<String> = (0..100).map(|n| format!("\"k{n}\":{n}")).collect();
        let many_then_k7 = format!("{{{},\"k7\":0}}", many.join(","));
        for text in [
            r#"{"recoverable":false,"recoverable":true}"#,
            r#"{"data":{"a":1,"b":2,"a":3}}"#,
            r#"[{"x":[{"y":1,"y":1}]}]"#,
            r#"{"a":1,"\u0061":2}"#,
            &many_then_k7,
        ] {
            assert_eq!(
                parse(text).map_err(|e| e.reason),
                Err(DUPLICATE_NAME),
                "{text}"
            );
        }
        assert!(parse(&format!("{{{}}}", many.join(","))).is_ok());
        assert!(parse(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#).is_ok());
    }

    #[test]
    fn objects_reserve_nothing_ahead_and_hold_exactly_their_members() {
        let value = parse(r#"[{},{"a":1,"b":2,"c":3},[]]"#).unwrap();
        let Kind::Array(items) = value.kind else {
            panic!("an array")
        };
        assert_eq!(items.capacity(), 3);
        let capacities: Vec<usize> = items
            .iter()
            .map(|item| match &item.kind {
                Kind::Object(members) => members.capacity(),
                Kind::Array(elements) => elements.capacity(),
                _ => panic!("containers"),
            })
            .collect();
        assert_eq!(capacities, [0, 3, 0]);
    }

    #[test]
    fn an_outermost_array_longer_than_the_batch_limit_is_refused_and_inner_ones_are_not() {
        assert_eq!(
            parse_batch("[1,2,3]", 2).map_err(|e| (e.reason, e.offset)),
            Err((BATCH_TOO_LONG, 5))
        );
        assert!(parse_batch("[1,2]", 2).is_ok());
        assert!(parse_batch("[[1,2,3],{\"a\":[1,2,3]}]", 2).is_ok());
        assert!(parse_batch("{\"a\":[1,2,3]}", 2).is_ok());
        assert!(parse(&format!("[{}0]", "0,".repeat(5000))).is_ok());
    }

    #[test]
    fn safe_integers_stop_at_what_a_js_number_holds_exactly() {
        let value = parse("[9007199254740991, 9007199254740992, 18446744073709551615]").unwrap();
        let Kind::Array(items) = value.kind else {
            panic!("an array")
        };
        let safe: Vec<Option<u64>> = items.iter().map(Value::as_safe_u64).collect();
        assert_eq!(safe, [Some(MAX_SAFE_INTEGER), None, None]);
    }
}
