//! The client's options, with the defaults the README documents.

use std::time::Duration;

use super::dialect::DialectConfig;

/// Everything the core needs to know up front. Every number is an option so tests and apps can
/// tune it; [`Config::new`] gives the documented defaults (in brackets).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The WebSocket URL of the job server, e.g. `wss://jobs.example.com/ws`.
    pub url: String,
    /// Whether a token must be fetched (through [`crate::core::Transmit::FetchToken`]) before
    /// every connection attempt and sent as the `token` query parameter. [false]
    pub auth: bool,
    /// Protocol v1 only: send the token as the socket's first frame (`auth`) instead of in the
    /// URL's query, which proxies and load balancers write to their logs. The server must
    /// accept it there (the reference server does). [false]
    pub token_in_first_frame: bool,
    /// How long a socket (and its token) may take to open before the attempt counts as
    /// failed. [10 s]
    pub connect_timeout: Duration,
    /// The first delay of the reconnection backoff; each failure in a row doubles it. [1 s]
    pub reconnect_initial_delay: Duration,
    /// The longest delay between two attempts. [16 s]
    pub reconnect_max_delay: Duration,
    /// Full jitter: each delay is drawn uniformly between zero and the backoff step, so
    /// clients dropped together by a restarting server do not return together. [true]
    pub jitter: bool,
    /// Seed of the jitter generator: the core has no randomness of its own, so a test with a
    /// fixed seed is exactly repeatable. The browser driver seeds it from
    /// `crypto.getRandomValues`.
    pub rng_seed: u64,
    /// Secret key of the message and request ids (see `core::ids`): a message id is the
    /// server's idempotency key, so nobody else may predict it. The browser driver fills it
    /// from `crypto.getRandomValues`; the default is for tests.
    pub id_key: [u8; 16],
    /// A connection must stay open this long before the failure streak resets; a server that
    /// accepts and drops at once cannot make the client hammer it. [5 s]
    pub min_uptime: Duration,
    /// After this many failed attempts in a row the client reports `reconnect_failing`. [5]
    pub failures_before_report: u32,
    /// How often to ping an open connection. [30 s]
    pub ping_interval: Duration,
    /// With no frame from the server this long after a ping, the link is dead. [10 s]
    pub pong_timeout: Duration,
    /// With no subscription for this long, the connection is closed and the client goes
    /// idle; `None` keeps it open. [5 min]
    pub idle_timeout: Option<Duration>,
    /// Frames longer than this many bytes are dropped with a `frame_too_large` error instead of
    /// being decoded, and status endpoint bodies fail the poll. [1 MiB]
    pub max_frame_bytes: usize,
    /// Progress events of one job are delivered at most this often per second, the latest
    /// value winning; other events are never held back. 0 delivers every one. [10]
    pub max_progress_per_second: u32,
    /// Whether the client may use a WebSocket. [true]
    pub use_websocket: bool,
    /// Whether the client may fall back to polling the REST status endpoints. [true]
    pub use_polling: bool,
    /// After this many failed attempts in a row, poll while probing the socket. [5]
    pub polling_after_failures: u32,
    /// After this many connections in a row die before `min_uptime`, poll (a proxy that
    /// kills sockets right after the upgrade). [3]
    pub flapping_limit: u32,
    /// How often each watched job's status endpoint is fetched while polling. [5 s]
    pub poll_interval: Duration,
    /// A failed poll is retried this many times, with backoff, before it is reported. [3]
    pub poll_max_retries: u32,
    /// The longest wait between two socket probes while polling. [30 s]
    pub probe_max_delay: Duration,
    /// The status endpoint of a generation; `{id}` is replaced by the job id, and a path is
    /// taken relative to the server's origin. [`/api/v1/generations/{id}`]
    pub generation_url: String,
    /// The status endpoint of a composition. [`/api/v1/compositions/{id}`]
    pub composition_url: String,
    /// At most this many messages wait in the outbox; the oldest makes room. [100]
    pub outbox_max_messages: usize,
    /// A message not acked within this time is dropped as expired. [1 h]
    pub outbox_ttl: Duration,
    /// A message goes out again on at most this many new sockets (or HTTP attempts) without
    /// an ack. [3]
    pub outbox_max_retries: u32,
    /// Where the outbox `POST`s its messages while the client polls (a network that blocks
    /// WebSockets would otherwise hold them until they expire); a path is taken relative to
    /// the server's origin. `None` keeps messages for the socket. [`/api/v1/messages` for
    /// protocol v1; `None` for another dialect unless the app names one]
    pub messages_url: Option<String>,
    /// The dialect the server speaks. [protocol v1]
    pub protocol: DialectConfig,
    /// Whether tabs of one origin with the same URL and storage key share one connection,
    /// led by the tab holding their Web Lock (see [`crate::core::tabs`]); the browser driver
    /// turns it off where Web Locks or BroadcastChannel are missing. [true]
    pub share_across_tabs: bool,
    /// How often the leading tab tells the others it is alive (and a follower says what it
    /// watches). [1 s]
    pub tab_heartbeat: Duration,
    /// A leader silent this long (frozen, or hung) is replaced: a follower takes its lock
    /// over. [5 s]
    pub tab_timeout: Duration,
    /// Close codes by which the server refuses the token: the first gets a fresh token, the
    /// second in a row stops the client (`unauthorized`). A `ws` server that closes with 1008
    /// (policy violation) on a bad token lists it here. [4001, 4003]
    pub unauthorized_close_codes: Vec<u16>,
}

impl Config {
    /// A configuration for `url` with every other option at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            url: url.into(),
            auth: false,
            token_in_first_frame: false,
            connect_timeout: Duration::from_secs(10),
            reconnect_initial_delay: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(16),
            jitter: true,
            rng_seed: 0x6a6f_6273_6f63_6b74,
            id_key: *b"jobsocket-test-k",
            min_uptime: Duration::from_secs(5),
            failures_before_report: 5,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(300)),
            max_frame_bytes: 1024 * 1024,
            max_progress_per_second: 10,
            use_websocket: true,
            use_polling: true,
            polling_after_failures: 5,
            flapping_limit: 3,
            poll_interval: Duration::from_secs(5),
            poll_max_retries: 3,
            probe_max_delay: Duration::from_secs(30),
            generation_url: "/api/v1/generations/{id}".to_owned(),
            composition_url: "/api/v1/compositions/{id}".to_owned(),
            outbox_max_messages: 100,
            outbox_ttl: Duration::from_secs(3600),
            outbox_max_retries: 3,
            messages_url: Some("/api/v1/messages".to_owned()),
            protocol: DialectConfig::V1,
            share_across_tabs: true,
            tab_heartbeat: Duration::from_secs(1),
            tab_timeout: Duration::from_secs(5),
            unauthorized_close_codes: vec![4001, 4003],
        }
    }
}

impl Config {
    /// Speaks `protocol`. The polling fallback reads jobsocket's snapshots from the status
    /// endpoints; another dialect's server has none at the default paths, so for it polling
    /// stays on only when the app named its endpoints or its transports (`endpoints_named`).
    /// Nor has it a message endpoint: its messages wait for the socket unless the app names
    /// one (`messages_url`, set after this).
    pub fn set_protocol(&mut self, protocol: DialectConfig, endpoints_named: bool) {
        if protocol != DialectConfig::V1 {
            self.messages_url = None;
            if !endpoints_named {
                self.use_polling = false;
            }
        }
        self.protocol = protocol;
    }
}

/// The WebSocket URL for `url`, its scheme in lower case. `http(s)://` URLs are accepted and
/// turned into `ws(s)://`, so an app can pass its API origin as it already knows it.
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
    if url.contains('#') {
        // The token and the request id are appended to the query: after a fragment they would
        // be part of it, and the browser refuses the URL in an error message that quotes it.
        return Err(format!(
            "url must not have a #fragment, got \"{}\"",
            super::url::hide_url_queries(url)
        ));
    }
    // Schemes are case-insensitive; the rest of the client (the polling URL, the mixed-content
    // check) reads them in lower case.
    match scheme.to_ascii_lowercase().as_str() {
        "ws" => Ok(format!("ws{rest}")),
        "wss" => Ok(format!("wss{rest}")),
        "http" => Ok(format!("ws{rest}")),
        "https" => Ok(format!("wss{rest}")),
        _ => Err(format!(
            "url must start with ws://, wss://, http:// or https://, got \"{}\"",
            super::url::hide_url_queries(url)
        )),
    }
}

/// The HTTP origin of a WebSocket URL: `wss://a:1/ws?x` → `https://a:1`.
pub fn http_origin(url: &str) -> String {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        ("https://", rest)
    } else if let Some(rest) = url.strip_prefix("ws://") {
        ("http://", rest)
    } else {
        ("", url)
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let mut origin = String::from(scheme);
    origin.push_str(host);
    origin
}

#[cfg(test)]
mod tests {
    use super::{Config, DialectConfig, http_origin, websocket_url};

    #[test]
    fn another_dialect_polls_only_when_the_app_named_its_status_endpoints() {
        let socket_io = || DialectConfig::parse(r#"{"dialect":"socket.io"}"#).expect("valid");
        let mut unnamed = Config::new("ws://a");
        unnamed.set_protocol(socket_io(), false);
        assert!(!unnamed.use_polling);
        let mut named = Config::new("ws://a");
        named.set_protocol(socket_io(), true);
        assert!(named.use_polling);
        let mut v1 = Config::new("ws://a");
        v1.set_protocol(DialectConfig::V1, false);
        assert!(
            v1.use_polling,
            "protocol v1's server serves the default endpoints"
        );
    }

    #[test]
    fn the_http_origin_of_a_websocket_url_drops_path_and_query() {
        assert_eq!(http_origin("wss://a.b:8443/ws?token=x"), "https://a.b:8443");
        assert_eq!(http_origin("ws://127.0.0.1:9/ws"), "http://127.0.0.1:9");
    }

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
