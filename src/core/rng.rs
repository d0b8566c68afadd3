//! A small seeded generator (SplitMix64) for backoff jitter. The core never asks the platform
//! for randomness: the seed is an input, so tests repeat exactly. Ids, which must not be
//! predictable, come from `core::ids` instead: one output of SplitMix64 gives its state away.

/// SplitMix64: tiny, fast, and good enough for spreading retries. Not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..=bound`, near enough to uniform for jitter.
    pub fn up_to(&mut self, bound: u64) -> u64 {
        match bound.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn bounded_numbers_stay_in_bounds() {
        let mut rng = Rng::new(1);
        for bound in [0, 1, 999, u64::MAX] {
            for _ in 0..1000 {
                assert!(rng.up_to(bound) <= bound);
            }
        }
    }
}
