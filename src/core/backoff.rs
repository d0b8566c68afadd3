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
        let doublings = failures.saturating_sub(1).min(32);
        let step = self
            .initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(max)
            .min(max);
        if !self.jitter {
            return step;
        }
        let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.rng.up_to(millis))
    }

    /// The generator, shared with request ids.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}
