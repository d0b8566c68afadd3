//! Secrets: making them (job ids, the admin key) and comparing them (tokens, the admin key).

/// 128 random bits from the operating system, as 32 lower-case hex digits: an id or key that
/// nobody can guess or count up to.
///
/// # Panics
/// When the operating system has no random numbers to give, which leaves the server nothing
/// safe to do.
pub fn random_hex() -> String {
    let mut bytes = [0_u8; 16];
    // Broken invariant rather than input: every platform the server runs on has a source.
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares in time that depends on the lengths only, so a wrong secret does not tell how much
/// of it was right.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0, |differ, (a, b)| differ | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secreT", b"secret"));
        assert!(!same(b"secret1", b"secret"));
        assert!(!same(b"", b"secret"));
    }

    #[test]
    fn random_hex_is_32_hex_digits_and_differs_each_time() {
        let first = random_hex();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, random_hex());
    }
}
