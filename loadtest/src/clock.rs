//! Wall-clock time in milliseconds since the Unix epoch, as a float with µs precision: the
//! unit of the server's `startedAt`, so a delivery's lateness is a subtraction. Both ends read
//! the same machine's clock.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1_000.0)
}
