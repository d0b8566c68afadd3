//! Message and request ids that another party cannot predict.
//!
//! A message id is the server's idempotency key: a server handles a second message with an id
//! it has seen only once. An id that another client could predict would let it send first and
//! have the real message dropped as a duplicate. So ids are SipHash-2-4, a keyed
//! pseudo-random function, of a counter: with a secret 128-bit key, seeing any number of ids
//! tells nothing about the next one (SplitMix64, used for jitter, gives its whole state away
//! with one output). The core has no randomness of its own: the key is an input
//! ([`crate::core::Config::id_key`]), which the browser driver fills from
//! `crypto.getRandomValues`, and a test with a fixed key repeats exactly.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

/// Issues ids of 128 bits as 32 lowercase hex digits.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    key: [u8; 16],
    issued: u64,
}

impl IdGenerator {
    pub fn new(key: [u8; 16]) -> Self {
        IdGenerator { key, issued: 0 }
    }

    /// The next id: never repeated by this generator, unpredictable without its key.
    pub fn next_id(&mut self) -> String {
        let counter = self.issued;
        self.issued = self.issued.wrapping_add(1);
        let mut id = String::with_capacity(32);
        // Two halves, told apart by a domain byte, make 128 bits.
        for half in 0u8..2 {
            let mut hasher = SipHasher24::new_with_key(&self.key);
            hasher.write_u64(counter);
            hasher.write_u8(half);
            push_hex(&mut id, hasher.finish());
        }
        id
    }
}

fn push_hex(out: &mut String, value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(char::from(HEX[((value >> (shift * 4)) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::IdGenerator;

    #[test]
    fn ids_are_32_hex_digits_and_never_repeat() {
        let mut ids = IdGenerator::new([7; 16]);
        let issued: std::collections::HashSet<String> =
            (0..10_000).map(|_| ids.next_id()).collect();
        assert_eq!(issued.len(), 10_000);
        assert!(
            issued
                .iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn the_same_key_repeats_and_another_key_shares_nothing() {
        let first: Vec<String> = {
            let mut ids = IdGenerator::new([1; 16]);
            (0..100).map(|_| ids.next_id()).collect()
        };
        let again: Vec<String> = {
            let mut ids = IdGenerator::new([1; 16]);
            (0..100).map(|_| ids.next_id()).collect()
        };
        let other: Vec<String> = {
            let mut ids = IdGenerator::new([2; 16]);
            (0..100).map(|_| ids.next_id()).collect()
        };
        assert_eq!(first, again);
        assert!(first.iter().all(|id| !other.contains(id)));
    }
}
