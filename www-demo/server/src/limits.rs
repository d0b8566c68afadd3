//! The server's limits, so that no client, slow or hostile, can take all of it: connections,
//! silent sockets, slow readers, jobs that run for days. Every one is a flag (see
//! [`crate::args`]); tests set them small.

/// How much one server gives, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's headers (its first request's, or a
    /// later one's once kept alive) before it is closed: a client cannot hold connections
    /// open without saying anything, before any other limit applies.
    pub header_timeout_ms: u64,
    /// Open WebSockets, whether authenticated yet or not; an upgrade past it answers 503.
    pub max_connections: usize,
    /// A socket that sends no frame at all for this long is closed with
    /// [`crate::ws::IDLE`]: a live client pings every heartbeat.
    pub idle_timeout_ms: u64,
    /// A frame the client does not take within this long (its TCP window stays shut) closes
    /// the socket with [`crate::ws::SLOW_CONSUMER`], rather than queueing for it without end.
    pub send_timeout_ms: u64,
    /// How long a socket without a token in its URL may take to send its `auth` frame.
    pub auth_timeout_ms: u64,
    /// Jobs the store keeps; past it the oldest finished one is forgotten, or a new job is
    /// refused with 503 while all are running.
    pub max_jobs: usize,
    /// The longest a new job may run (its steps times its step): a job slot is busy for at
    /// most this long, so running jobs cannot hold every slot for days.
    pub max_job_ms: u64,
}

/// Largest frame a client may send over `/ws`, and largest body of `POST /api/v1/messages`:
/// the same message may come either way, so it is held to the same size. Protocol frames are
/// a few hundred bytes; the client's `maxFrameBytes` defaults to the same 1 MiB.
pub const MAX_CLIENT_FRAME_BYTES: usize = 1 << 20;

/// Heartbeats a socket may stay silent for, by default, before it is closed as idle.
pub const IDLE_HEARTBEATS: u64 = 3;

/// The shortest default idle timeout: jobsocket's client pings every 30 s unless told
/// otherwise, whatever `heartbeatMs` the server announces, so three of its pings must fit.
pub const MIN_DEFAULT_IDLE_MS: u64 = 90_000;

/// The idle timeout of a server whose clients should ping every `heartbeat_ms`, unless
/// `--idle-timeout-ms` says otherwise.
pub fn default_idle_timeout_ms(heartbeat_ms: u64) -> u64 {
    (IDLE_HEARTBEATS * heartbeat_ms).max(MIN_DEFAULT_IDLE_MS)
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout_ms: 10_000,
            max_connections: 10_000,
            idle_timeout_ms: default_idle_timeout_ms(crate::DEFAULT_HEARTBEAT_MS),
            send_timeout_ms: 10_000,
            auth_timeout_ms: 5_000,
            max_jobs: 1_000,
            max_job_ms: 3_600_000,
        }
    }
}
