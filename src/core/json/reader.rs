//! The reader itself: RFC 8259 text to a borrowed [`Value`] tree, one byte at a time, with
//! the limits that keep hostile input from costing more than its own size (see the module
//! doc of [`super`]).

use std::borrow::Cow;

use super::{Kind, MAX_DEPTH, SyntaxError, Value};

/// The reason of the error for an object that names a member twice.
pub const DUPLICATE_NAME: &str = "duplicate member name in an object";

/// The reason of the error for a top-level array longer than the batch limit.
pub const BATCH_TOO_LONG: &str = "too many elements in a batch";

/// Up to this many members, duplicate names are looked for pairwise (no allocation);
/// beyond it, by sorting the names, so that a hostile object of many members costs
/// n log n comparisons, not n².
const PAIRWISE_NAMES: usize = 16;

pub(super) struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pub(super) at: usize,
    /// The most elements a top-level array may have (a batch of frames).
    max_batch: usize,
    /// Members of the objects being read, innermost last. An object's members are moved out
    /// into a vector of exactly their number when it closes: nothing is reserved ahead, so an
    /// empty object costs no allocation and a frame of many small objects costs what they
    /// hold, not a guess per object.
    members: Vec<(Cow<'a, str>, Value<'a>)>,
    /// Elements of the arrays being read, innermost last, likewise.
    items: Vec<Value<'a>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str, max_batch: usize) -> Self {
        Reader {
            text,
            bytes: text.as_bytes(),
            at: 0,
            max_batch,
            members: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The text between two offsets. Every caller stops at ASCII bytes of valid UTF-8, so the
    /// range always falls on character boundaries; `get` keeps the panicking slice path (and
    /// its formatting code) out of the binary all the same.
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }

    pub(super) fn error(&self, reason: &'static str) -> SyntaxError {
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
    pub(super) fn skip_whitespace(&mut self) {
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

    pub(super) fn value(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
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
        let start = self.members.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Kind::Object(Vec::new()));
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
            self.members.push((name, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    if has_duplicate_names(&self.members[start..]) {
                        return Err(self.error(DUPLICATE_NAME));
                    }
                    self.at += 1;
                    return Ok(Kind::Object(self.members.drain(start..).collect()));
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
        let start = self.items.len();
        // Only the outermost array is a batch of frames; arrays inside are an app's data.
        let limit = if depth == 1 {
            self.max_batch
        } else {
            usize::MAX
        };
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Kind::Array(Vec::new()));
        }
        loop {
            if self.items.len() - start == limit {
                return Err(self.error(BATCH_TOO_LONG));
            }
            let item = self.value(depth)?;
            self.items.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Kind::Array(self.items.drain(start..).collect()));
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

/// Whether two members share a name. `JSON.parse` keeps the last of them and this reader's
/// lookups the first, so the client and the app would read such a frame differently (a
/// `recoverable` that is false for one and true for the other): it is refused instead.
/// Names compare decoded, so `"a"` and `"\u0061"` are the same name, as for `JSON.parse`.
fn has_duplicate_names(members: &[(Cow<'_, str>, Value<'_>)]) -> bool {
    if members.len() <= PAIRWISE_NAMES {
        return members
            .iter()
            .enumerate()
            .any(|(index, (name, _))| members[..index].iter().any(|(other, _)| other == name));
    }
    let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_ref()).collect();
    heapsort(&mut names);
    names.windows(2).any(|pair| pair[0] == pair[1])
}

/// Sorts `names` in place: n log n comparisons at worst whatever the names, and a fraction
/// of the code of the standard library's sort, which would add about 2 KB (gzip) to the wasm
/// binary for this one use.
fn heapsort(names: &mut [&str]) {
    let len = names.len();
    for root in (0..len / 2).rev() {
        sift_down(names, root, len);
    }
    for end in (1..len).rev() {
        names.swap(0, end);
        sift_down(names, 0, end);
    }
}

/// Moves `names[root]` down the max-heap in `names[..end]` to where it belongs.
fn sift_down(names: &mut [&str], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && names[child] < names[child + 1] {
            child += 1;
        }
        if names[root] >= names[child] {
            return;
        }
        names.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heapsort_sorts_like_the_standard_library() {
        let words = "the quick brown fox jumps over the lazy dog and a b c a z y x w v u t s r q";
        for len in 0..=words.split(' ').count() {
            let mut sorted: Vec<&str> = words.split(' ').take(len).collect();
            let mut expected = sorted.clone();
            expected.sort();
            heapsort(&mut sorted);
            assert_eq!(sorted, expected);
        }
    }
}
