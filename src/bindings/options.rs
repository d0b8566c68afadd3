//! `JobSocketOptions` from JS into the core's `Config`, with errors that say what to fix.

use std::time::Duration;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::core::{Config, websocket_url};

const KNOWN: [&str; 3] = ["url", "connectTimeoutMs", "maxFrameBytes"];

fn invalid(reason: &str) -> JsError {
    JsError::new(&format!("invalid JobSocket options: {reason}"))
}

/// A non-negative whole number option, if present.
fn whole_number(options: &JsValue, name: &str) -> Result<Option<u32>, JsError> {
    let value = Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(number) if number >= 0.0 && number <= f64::from(u32::MAX) && number.fract() == 0.0 => {
            Ok(Some(number as u32))
        }
        _ => Err(invalid(&format!(
            "{name} must be a whole number of at least 0"
        ))),
    }
}

/// Reads the options object. Unknown option names are refused, so a typo does not pass
/// silently.
pub fn parse(options: JsValue) -> Result<Config, JsError> {
    let Some(object) = options.dyn_ref::<Object>().filter(|_| options.is_object()) else {
        return Err(invalid("expected an object such as { url: \"wss://…\" }"));
    };
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !KNOWN.contains(&key.as_str()) {
            return Err(invalid(&format!(
                "unknown option \"{key}\" (known: url, connectTimeoutMs, maxFrameBytes)"
            )));
        }
    }
    let url = Reflect::get(&options, &JsValue::from_str("url"))
        .ok()
        .and_then(|url| url.as_string())
        .ok_or_else(|| invalid("url is required and must be a string"))?;
    let mut config = Config::new(websocket_url(&url).map_err(|reason| invalid(&reason))?);
    if let Some(ms) = whole_number(&options, "connectTimeoutMs")? {
        config.connect_timeout = Duration::from_millis(u64::from(ms));
    }
    if let Some(bytes) = whole_number(&options, "maxFrameBytes")? {
        config.max_frame_bytes = bytes as usize;
    }
    Ok(config)
}
