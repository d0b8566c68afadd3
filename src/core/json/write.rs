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
    use crate::core::json::{Kind, parse};

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
