//! Reconnection delays: exponential backoff with full jitter.
//!
//! The n-th failure in a row waits up to `initial × 2^(n-1)`, capped at `max`; with jitter the
//! wait is drawn uniformly from zero to that step ("full jitter"), which spreads a crowd of
//! clients dropped by one server restart instead of bringing them back in waves.

use std::time::Duration;

use super::rng::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: bool,
    rng: Rng,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, jitter: bool, rng: Rng) -> Self {
        Backoff {
            initial,
            max,
            jitter,
            rng,
        }
    }

    /// How long to wait after the `failures`-th failure in a row.
    pub fn delay(&mut self, failures: u32) -> Duration {
        self.delay_up_to(failures, self.max)
    }

    /// [`Backoff::delay`] with another cap (the slower probing while polling).
    pub fn delay_up_to(&mut self, failures: u32, max: Duration) -> Duration {
        // Past 2^31 (or any product too large for a Duration) the step is the cap: a long
        // outage must keep waiting the longest, never wrap around to short waits.
        let step = 2u32
            .checked_pow(failures.saturating_sub(1))
            .and_then(|factor| self.initial.checked_mul(factor))
            .map_or(max, |step| step.min(max));
        if !self.jitter {
            return step;
        }
        let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.rng.up_to(millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(jitter: bool) -> Backoff {
        Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(16),
            jitter,
            Rng::new(7),
        )
    }

    #[test]
    fn the_wait_stays_at_the_cap_however_many_failures_in_a_row() {
        let mut backoff = backoff(false);
        for failures in [5, 6, 31, 32, 33, 34, 64, 1_000, u32::MAX] {
            assert_eq!(
                backoff.delay(failures),
                Duration::from_secs(16),
                "{failures}"
            );
        }
    }

    #[test]
    fn jittered_waits_after_a_long_outage_still_spread_up_to_the_cap() {
        let mut backoff = backoff(true);
        let waits: Vec<Duration> = (33..1_033)
            .map(|failures| backoff.delay(failures))
            .collect();
        assert!(waits.iter().all(|wait| *wait <= Duration::from_secs(16)));
        let long = waits
            .iter()
            .filter(|wait| **wait > Duration::from_secs(8))
            .count();
        // Full jitter over [0, 16 s]: about half the waits are over 8 s, not ~0 as with a
        // wrapped step of 1 s.
        assert!(long > 400, "{long} of 1000 waits over 8 s");
    }
}
