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

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// How deeply arrays and objects may nest. The protocol needs four levels (batch, frame,
/// payload, and one more for an app's message data); the rest is headroom.
pub const MAX_DEPTH: usize = 64;

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
    /// Members in text order. Lookups take the first member of a name.
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
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = reader.value(0)?;
    reader.skip_whitespace();
    if reader.at != reader.bytes.len() {
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

    /// The first member named `name`, if this is an object that has one.
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
            Kind::Number(text) => text.parse().ok(),
            _ => None,
        }
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

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The text between two offsets. Every caller stops at ASCII bytes of valid UTF-8, so the
    /// range always falls on character boundaries; `get` keeps the panicking slice path (and
    /// its formatting code) out of the binary all the same.
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }

    fn error(&self, reason: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.at,
            reason,
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), SyntaxError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.skip_whitespace();
        let start = self.at;
        let kind = match self.peek() {
            Some(b'{') => self.object(depth + 1)?,
            Some(b'[') => self.array(depth + 1)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => Kind::Number(self.number()?),
            Some(_) => return Err(self.error("expected a value")),
            None => return Err(self.error("unexpected end of text")),
        };
        Ok(Value {
            kind,
            span: start..self.at,
        })
    }

    fn literal(&mut self, word: &'static str, kind: Kind<'a>) -> Result<Kind<'a>, SyntaxError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(kind)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Kind<'a>, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.at += 1; // '{'
        // Protocol frames have up to seven members: one allocation, no regrowth.
        let mut members = Vec::with_capacity(8);
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let name = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "expected ':' after a member name")?;
            let value = self.value(depth)?;
            members.push((name, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Kind::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind<'a>, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.at += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Kind::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        Ok(self.slice(start, self.at))
    }

    /// Reads a string starting at its opening quote. Borrowed from the text unless it has
    /// escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        self.at += 1; // '"'
        let start = self.at;
        // The common case, a string without escapes, in one scan for the first byte that
        // needs a look: a quote, a backslash or a control character.
        let stop = self.bytes[start..]
            .iter()
            .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20);
        match stop.map(|offset| (start + offset, self.bytes[start + offset])) {
            Some((end, b'"')) => {
                self.at = end + 1;
                return Ok(Cow::Borrowed(self.slice(start, end)));
            }
            Some((end, b'\\')) => self.at = end,
            Some((end, _)) => {
                self.at = end;
                return Err(self.error("control character in a string"));
            }
            None => {
                self.at = self.bytes.len();
                return Err(self.error("unterminated string"));
            }
        }
        let mut owned = String::from(self.slice(start, self.at));
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            owned.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape in a string")),
                    };
                    self.at += 1;
                    owned.push(escaped);
                }
                Some(0x00..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => {
                    // Copy the run up to the next quote or backslash at once; the text is
                    // valid UTF-8 and both stops are ASCII, so the run ends on a boundary.
                    let run_start = self.at;
                    while let Some(byte) = self.peek() {
                        if byte == b'"' || byte == b'\\' || byte < 0x20 {
                            break;
                        }
                        self.at += 1;
                    }
                    owned.push_str(self.slice(run_start, self.at));
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// Reads the four hex digits after `\u`, and a second escape for a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self.bytes[self.at..].starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate in a string"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("unpaired surrogate in a string"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate in a string"))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|byte| char::from(byte).to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
            code = code * 16 + digit;
            self.at += 1;
        }
        Ok(code)
    }
}

/// Exact powers of ten that an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Converts a validated JSON number to `f64` without the standard library's float parser,
/// whose tables and big-number fallback weigh about 15 KB of wasm.
///
/// Exact (correctly rounded) when the digits fit in 2^53 and the decimal exponent is within
/// ±22 (Clinger's fast path): every number this protocol carries, such as `41.7` or
/// `1723456789.123`. Otherwise within a few units in the last place. The app never sees these
/// values for frames (it gets the server's own JSON, parsed by the engine); they shape the
/// client's own decisions and the rare payload rebuilt from a snapshot.
fn number_to_f64(text: &str) -> f64 {
    let bytes = text.as_bytes();
    let mut at = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        at += 1;
    }
    let mut mantissa: u64 = 0;
    let mut exponent: i32 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'0'..=b'9' => {
                if digits < 19 {
                    mantissa = mantissa * 10 + u64::from(byte - b'0');
                    if mantissa > 0 {
                        digits += 1;
                    }
                    if seen_point {
                        exponent -= 1;
                    }
                } else if !seen_point {
                    exponent += 1;
                }
            }
            b'.' => seen_point = true,
            _ => break,
        }
        at += 1;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1;
        let exponent_negative = bytes.get(at) == Some(&b'-');
        if let Some(b'+' | b'-') = bytes.get(at) {
            at += 1;
        }
        let mut written: i32 = 0;
        while let Some(digit @ b'0'..=b'9') = bytes.get(at).copied() {
            written = written
                .saturating_mul(10)
                .saturating_add(i32::from(digit - b'0'));
            at += 1;
        }
        exponent = exponent.saturating_add(if exponent_negative { -written } else { written });
    }
    let magnitude = if mantissa == 0 {
        0.0
    } else if mantissa < (1 << 53) && exponent.unsigned_abs() < 23 {
        let power = POWERS_OF_TEN[exponent.unsigned_abs() as usize];
        if exponent < 0 {
            mantissa as f64 / power
        } else {
            mantissa as f64 * power
        }
    } else {
        (mantissa as f64) * 10f64.powi(exponent.clamp(-400, 400))
    };
    if negative { -magnitude } else { magnitude }
}

/// Appends `text` to `out` as a JSON string, quotes included.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    write_string_contents(out, text);
    out.push('"');
}

/// Appends `text` to `out` escaped for the inside of a JSON string, without the quotes.
pub fn write_string_contents(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if (control as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = control as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0xf]));
            }
            other => out.push(other),
        }
    }
}

/// Appends an unsigned integer to `out`, without the formatting machinery.
pub fn write_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
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
    fn numbers_convert_exactly_on_the_fast_path_and_closely_beyond_it() {
        for text in [
            "0",
            "-0",
            "41.7",
            "100",
            "-3.25",
            "1e2",
            "1.5E-3",
            "0.1",
            "123456789012345",
            "1723456789.123",
            "9007199254740991",
            "2.5e22",
            "-0.000001",
        ] {
            let expected: f64 = text.parse().unwrap();
            assert_eq!(number_to_f64(text), expected, "{text}");
        }
        for text in [
            "1.5e300",
            "2.5e-300",
            "123456789012345678901234567890",
            "1e-300",
        ] {
            let expected: f64 = text.parse().unwrap();
            let got = number_to_f64(text);
            assert!(
                ((got - expected) / expected).abs() < 1e-12,
                "{text}: {got} vs {expected}"
            );
        }
        assert!(number_to_f64("1e400").is_infinite());
    }

    #[test]
    fn written_strings_and_integers_read_back() {
        let mut out = String::new();
        out.push('[');
        write_string(&mut out, "quote\" back\\ line\n nul\u{0} é");
        out.push(',');
        write_u64(&mut out, 0);
        out.push(',');
        write_u64(&mut out, u64::MAX);
        out.push(']');
        let value = parse(&out).unwrap();
        let Kind::Array(items) = value.kind else {
            panic!("an array")
        };
        assert_eq!(items[0].as_str(), Some("quote\" back\\ line\n nul\u{0} é"));
        assert_eq!(items[1].as_u64(), Some(0));
        assert_eq!(items[2].as_u64(), Some(u64::MAX));
    }
}
