/// Exact powers of ten that an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A validated JSON number as an unsigned integer, if it is one exactly: digits only (no
/// sign, fraction or exponent) and within `u64`. The same answers as `str::parse::<u64>` for
/// every JSON number (which never starts with `+`), without its generic radix code, which
/// showed in the hot path of every event's `seq` and counters.
pub(super) fn number_to_u64(text: &str) -> Option<u64> {
    let mut value: u64 = 0;
    for &byte in text.as_bytes() {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    (!text.is_empty()).then_some(value)
}

/// Converts a validated JSON number to `f64` without the standard library's float parser,
/// whose tables and big-number fallback weigh about 15 KB of wasm.
///
/// Exact (correctly rounded) when the digits fit in 2^53 and the decimal exponent is within
/// ±22 (Clinger's fast path): every number this protocol carries, such as `41.7` or
/// `1723456789.123`. Otherwise within a few units in the last place. The app never sees these
/// values for frames (it gets the server's own JSON, parsed by the engine); they shape the
/// client's own decisions and the rare payload rebuilt from a snapshot.
pub(super) fn number_to_f64(text: &str) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn integers_read_as_the_standard_parser_reads_them() {
        for text in [
            "0",
            "7",
            "42",
            "9007199254740991",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "-1",
            "-0",
            "1.0",
            "1e2",
            "1E2",
            "3.5",
            "",
        ] {
            assert_eq!(number_to_u64(text), text.parse::<u64>().ok(), "{text:?}");
        }
    }
}
