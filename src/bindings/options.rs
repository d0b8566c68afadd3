//! `JobSocketOptions` from JS into the core's `Config`, with errors that say what to fix.

use std::time::Duration;

use serde::Deserialize;
use wasm_bindgen::{JsError, JsValue};

use crate::core::{Config, websocket_url};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    url: String,
    #[serde(default)]
    connect_timeout_ms: Option<u32>,
    #[serde(default)]
    max_frame_bytes: Option<u32>,
}

/// Reads the options object.
pub fn parse(options: JsValue) -> Result<Config, JsError> {
    let options: Options = serde_wasm_bindgen::from_value(options)
        .map_err(|error| JsError::new(&format!("invalid JobSocket options: {error}")))?;
    let url = websocket_url(&options.url)
        .map_err(|reason| JsError::new(&format!("invalid JobSocket options: {reason}")))?;
    let mut config = Config::new(url);
    if let Some(ms) = options.connect_timeout_ms {
        config.connect_timeout = Duration::from_millis(u64::from(ms));
    }
    if let Some(bytes) = options.max_frame_bytes {
        config.max_frame_bytes = bytes as usize;
    }
    Ok(config)
}
