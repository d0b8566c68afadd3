//! The client's options, with the defaults the README documents.

use std::time::Duration;

/// Everything the core needs to know up front. Every number is an option so tests and apps can
/// tune it; [`Config::new`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The WebSocket URL of the job server, e.g. `wss://jobs.example.com/ws`.
    pub url: String,
    /// How long a socket may take to open before the attempt counts as failed. [10 s]
    pub connect_timeout: Duration,
    /// Frames longer than this many bytes are dropped with a `frame_too_large` error instead of
    /// being decoded. [1 MiB]
    pub max_frame_bytes: usize,
}

impl Config {
    /// A configuration for `url` with every other option at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            url: url.into(),
            connect_timeout: Duration::from_secs(10),
            max_frame_bytes: 1024 * 1024,
        }
    }
}

/// The WebSocket URL for `url`. `http(s)://` URLs are accepted and turned into `ws(s)://`, so an
/// app can pass its API origin as it already knows it.
pub fn websocket_url(url: &str) -> Result<String, String> {
    // A byte search, not `str::find`: the substring searcher alone weighs 1.5 KB of wasm.
    let scheme_end = url
        .as_bytes()
        .windows(3)
        .position(|window| window == b"://")
        .unwrap_or(0);
    let (scheme, rest) = (
        url.get(..scheme_end).unwrap_or_default(),
        url.get(scheme_end..).unwrap_or_default(),
    );
    match scheme.to_ascii_lowercase().as_str() {
        "ws" | "wss" => Ok(url.to_owned()),
        "http" => Ok(format!("ws{rest}")),
        "https" => Ok(format!("wss{rest}")),
        _ => Err(format!(
            "url must start with ws://, wss://, http:// or https://, got \"{url}\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::websocket_url;

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(websocket_url("http://a:1/ws").as_deref(), Ok("ws://a:1/ws"));
        assert_eq!(websocket_url("HTTPS://a/ws").as_deref(), Ok("wss://a/ws"));
        assert_eq!(websocket_url("wss://a/ws").as_deref(), Ok("wss://a/ws"));
    }

    #[test]
    fn other_urls_are_refused_with_the_reason() {
        for url in ["", "a/ws", "ftp://a/ws", "://x"] {
            let error = websocket_url(url).expect_err(url);
            assert!(error.contains("must start with"), "{error}");
        }
    }
}
