//! `JobSocketOptions` from JS into the core's `Config` and the token source, with errors that
//! say what to fix. Unknown option names are refused, so a typo does not pass silently.

use std::time::Duration;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsError, JsValue};

use crate::core::{Config, DialectConfig, websocket_url};
use crate::web::TokenSource;

const KNOWN: [&str; 29] = [
    "url",
    "token",
    "tokenTransport",
    "connectTimeoutMs",
    "reconnectInitialDelayMs",
    "reconnectMaxDelayMs",
    "jitter",
    "minUptimeMs",
    "failuresBeforeReport",
    "pingIntervalMs",
    "pongTimeoutMs",
    "idleTimeoutMs",
    "maxFrameBytes",
    "maxProgressPerSecond",
    "storageKey",
    "outboxMaxMessages",
    "outboxTtlMs",
    "outboxMaxRetries",
    "transports",
    "generationUrl",
    "compositionUrl",
    "messagesUrl",
    "pollIntervalMs",
    "probeMaxDelayMs",
    "protocol",
    "unauthorizedCloseCodes",
    "shareAcrossTabs",
    "tabHeartbeatMs",
    "tabTimeoutMs",
];

/// Everything the options say.
pub struct Options {
    pub config: Config,
    pub token: Option<TokenSource>,
    pub storage_key: Option<String>,
}

fn invalid(reason: &str) -> JsError {
    JsError::new(&format!("invalid JobSocket options: {reason}"))
}

fn get(options: &JsValue, name: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// A non-negative whole number option, if present.
fn whole_number(options: &JsValue, name: &str) -> Result<Option<u32>, JsError> {
    let value = get(options, name);
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

fn millis(options: &JsValue, name: &str, target: &mut Duration) -> Result<(), JsError> {
    if let Some(ms) = whole_number(options, name)? {
        *target = Duration::from_millis(u64::from(ms));
    }
    Ok(())
}

/// `value` as an array, from this realm or another (`Array.isArray`, not `instanceof`).
fn array(value: &JsValue) -> Option<&js_sys::Array> {
    js_sys::Array::is_array(value).then(|| value.unchecked_ref::<js_sys::Array>())
}

/// Reads the options object.
pub fn parse(options: JsValue) -> Result<Options, JsError> {
    // `is_object`, not `instanceof Object`: options made in another realm (an iframe, a
    // WebDriver script) are objects of another `Object`.
    if !options.is_object() {
        return Err(invalid("expected an object such as { url: \"wss://…\" }"));
    }
    let object = options.unchecked_ref::<Object>();
    for key in Object::keys(object).iter() {
        let key = key.as_string().unwrap_or_default();
        if !KNOWN.contains(&key.as_str()) {
            return Err(invalid(&format!(
                "unknown option \"{key}\"; the options are those of JobSocketOptions"
            )));
        }
    }
    let url = get(&options, "url")
        .as_string()
        .ok_or_else(|| invalid("url is required and must be a string"))?;
    let mut config = Config::new(websocket_url(&url).map_err(|reason| invalid(&reason))?);
    millis(&options, "connectTimeoutMs", &mut config.connect_timeout)?;
    millis(
        &options,
        "reconnectInitialDelayMs",
        &mut config.reconnect_initial_delay,
    )?;
    millis(
        &options,
        "reconnectMaxDelayMs",
        &mut config.reconnect_max_delay,
    )?;
    millis(&options, "minUptimeMs", &mut config.min_uptime)?;
    millis(&options, "pingIntervalMs", &mut config.ping_interval)?;
    millis(&options, "pongTimeoutMs", &mut config.pong_timeout)?;
    if let Some(ms) = whole_number(&options, "idleTimeoutMs")? {
        config.idle_timeout = (ms > 0).then(|| Duration::from_millis(u64::from(ms)));
    }
    if let Some(count) = whole_number(&options, "failuresBeforeReport")? {
        config.failures_before_report = count;
    }
    if let Some(bytes) = whole_number(&options, "maxFrameBytes")? {
        config.max_frame_bytes = bytes as usize;
    }
    if let Some(rate) = whole_number(&options, "maxProgressPerSecond")? {
        config.max_progress_per_second = rate;
    }
    if let Some(count) = whole_number(&options, "outboxMaxMessages")? {
        config.outbox_max_messages = (count as usize).max(1);
    }
    millis(&options, "outboxTtlMs", &mut config.outbox_ttl)?;
    if let Some(count) = whole_number(&options, "outboxMaxRetries")? {
        config.outbox_max_retries = count;
    }
    millis(&options, "pollIntervalMs", &mut config.poll_interval)?;
    millis(&options, "probeMaxDelayMs", &mut config.probe_max_delay)?;
    for (name, target) in [
        ("generationUrl", &mut config.generation_url),
        ("compositionUrl", &mut config.composition_url),
    ] {
        let value = get(&options, name);
        if !value.is_undefined() {
            *target = value
                .as_string()
                .ok_or_else(|| invalid(&format!("{name} must be a string")))?;
        }
    }
    let transports = get(&options, "transports");
    if !transports.is_undefined() {
        let list = array(&transports).ok_or_else(|| invalid("transports must be an array"))?;
        let names: Vec<String> = list.iter().filter_map(|name| name.as_string()).collect();
        if names.len() != list.length() as usize
            || names.is_empty()
            || names
                .iter()
                .any(|name| name != "websocket" && name != "polling")
        {
            return Err(invalid(
                "transports must list \"websocket\" and/or \"polling\"",
            ));
        }
        config.use_websocket = names.iter().any(|name| name == "websocket");
        config.use_polling = names.iter().any(|name| name == "polling");
    }
    if config.poll_interval.is_zero() {
        return Err(invalid("pollIntervalMs must be more than 0"));
    }
    let storage_key = get(&options, "storageKey");
    let storage_key = if storage_key.is_undefined() {
        None
    } else {
        Some(
            storage_key
                .as_string()
                .ok_or_else(|| invalid("storageKey must be a string"))?,
        )
    };
    let share = get(&options, "shareAcrossTabs");
    if !share.is_undefined() {
        config.share_across_tabs = share
            .as_bool()
            .ok_or_else(|| invalid("shareAcrossTabs must be true or false"))?;
    }
    millis(&options, "tabHeartbeatMs", &mut config.tab_heartbeat)?;
    millis(&options, "tabTimeoutMs", &mut config.tab_timeout)?;
    if config.tab_heartbeat.is_zero() || config.tab_timeout <= config.tab_heartbeat {
        return Err(invalid(
            "tabHeartbeatMs must be at least 1 and below tabTimeoutMs",
        ));
    }
    let jitter = get(&options, "jitter");
    if !jitter.is_undefined() {
        config.jitter = jitter
            .as_bool()
            .ok_or_else(|| invalid("jitter must be true or false"))?;
    }
    if config.ping_interval.is_zero() {
        return Err(invalid("pingIntervalMs must be more than 0"));
    }
    let codes = get(&options, "unauthorizedCloseCodes");
    if !codes.is_undefined() {
        let list = array(&codes)
            .ok_or_else(|| invalid("unauthorizedCloseCodes must be an array of close codes"))?;
        config.unauthorized_close_codes = list
            .iter()
            .map(|code| {
                code.as_f64()
                    .filter(|code| (1000.0..5000.0).contains(code) && code.fract() == 0.0)
                    .map(|code| code as u16)
            })
            .collect::<Option<Vec<u16>>>()
            .ok_or_else(|| {
                invalid("unauthorizedCloseCodes must list close codes from 1000 to 4999")
            })?;
    }
    let protocol = get(&options, "protocol");
    if !protocol.is_undefined() {
        // The dialect's settings are read by the core from their JSON, where every mistake
        // gets a message naming the setting.
        let text = js_sys::JSON::stringify(&protocol)
            .ok()
            .and_then(|text| text.as_string())
            .ok_or_else(|| invalid("protocol must be built with socketIo() or jsonProtocol()"))?;
        let protocol = DialectConfig::parse(&text).map_err(|reason| invalid(&reason))?;
        let named = ["generationUrl", "compositionUrl", "transports"]
            .iter()
            .any(|name| !get(&options, name).is_undefined());
        config.set_protocol(protocol, named);
    }
    // After the protocol, which clears the default for another dialect's server.
    let messages_url = get(&options, "messagesUrl");
    if !messages_url.is_undefined() {
        config.messages_url = if messages_url.is_null() {
            None
        } else {
            Some(
                messages_url
                    .as_string()
                    .ok_or_else(|| invalid("messagesUrl must be a string or null"))?,
            )
        };
    }
    let token =
        TokenSource::from_option(get(&options, "token")).map_err(|reason| invalid(&reason))?;
    let transport = get(&options, "tokenTransport");
    if !transport.is_undefined() {
        config.token_in_first_frame = match transport.as_string().as_deref() {
            Some("query") => false,
            Some("frame") => true,
            _ => return Err(invalid("tokenTransport must be \"query\" or \"frame\"")),
        };
        if config.token_in_first_frame && config.protocol != DialectConfig::V1 {
            // Anything else would quietly put the token back in the URL.
            return Err(invalid(
                "tokenTransport \"frame\" is for protocol v1: Socket.IO carries the token in its \
                 CONNECT auth, a plain-JSON server in its tokenParam",
            ));
        }
    }
    if token.is_some() && storage_key.as_deref().is_none_or(str::is_empty) {
        // The outbox outlives the page in localStorage: keyed by the URL alone, what one user
        // queued would be restored and sent on the next user's authenticated connection.
        return Err(invalid(
            "storageKey is required with token: name the signed-in user (e.g. storageKey: \
             user.id), so one user's queued messages are never sent as another's",
        ));
    }
    Ok(Options {
        config,
        token,
        storage_key,
    })
}
