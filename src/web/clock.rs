//! The driver's clock: `performance.now()`, which is monotonic and exists in windows and
//! workers alike. The core never reads it itself (see `core::time`).

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::Instant;

/// Reads the page's monotonic clock.
pub struct Clock {
    performance: Option<web_sys::Performance>,
}

impl Clock {
    pub fn new() -> Self {
        let performance = Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
            .ok()
            .and_then(|value| value.dyn_into::<web_sys::Performance>().ok());
        Clock { performance }
    }

    /// Now, in whole milliseconds since the Unix epoch, as `performance.timeOrigin +
    /// performance.now()`: monotonic within the page (unlike `Date.now()`, which jumps with
    /// the system clock), yet comparable across page loads, which the outbox's time to live
    /// needs. Falls back to `Date.now()` in the rare runtime without `performance`.
    pub fn now(&self) -> Instant {
        let millis = match &self.performance {
            Some(performance) => performance.time_origin() + performance.now(),
            None => js_sys::Date::now(),
        };
        // `as` saturates: a negative or NaN reading becomes 0 instead of trapping.
        Instant::from_millis(millis as u64)
    }

    /// `instant` as milliseconds since the Unix epoch: instants already are.
    pub fn epoch_millis(&self, instant: Instant) -> f64 {
        instant.as_millis() as f64
    }
}
