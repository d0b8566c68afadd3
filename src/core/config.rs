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
