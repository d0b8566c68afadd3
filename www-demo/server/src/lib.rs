//! The reference job server of jobsocket: simulated generation and composition jobs whose
//! events stream over a WebSocket (`/ws`) and whose snapshots answer over HTTP (`/api/v1/`).
//!
//! It speaks the wire protocol of the `jobsocket` crate (`jobsocket::core::protocol`), with the
//! very types the client uses, so the two cannot drift apart. The demo page, the browser tests
//! and the end-to-end tests all run against it. It is a library as well as a binary so tests
//! can start it in-process on a free port:
//!
//! ```no_run
//! # async fn start() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! jobsocket_server::serve(listener, jobsocket_server::Config::default()).await
//! # }
//! ```
//!
//! With `admin` on, the [`admin`] routes let tests break the server on purpose: drop every
//! socket, stop answering pings, refuse upgrades, fail the snapshot endpoints or the message
//! endpoint; each within the [`scope`] a request names, so tests on one server do not disturb
//! each other.

pub mod admin;
pub mod args;
pub mod auth;
pub mod channels;
pub mod connections;
pub mod hosts;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod messages;
pub mod origin;
pub mod query;
pub mod redis;
pub mod scope;
pub mod secret;
pub mod state;
pub mod ws;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

use crate::limits::MAX_CLIENT_FRAME_BYTES;

pub use crate::hosts::HostName;
pub use crate::limits::Limits;
pub use crate::origin::{OriginPattern, Origins};
pub use crate::state::AppState;

/// How often clients should ping unless `--heartbeat-ms` says otherwise.
pub const DEFAULT_HEARTBEAT_MS: u64 = 30_000;

/// How long a stopping server waits for its sockets to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How the server behaves, whatever address it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Default time between two events of a job, when the job's request does not say.
    pub step_ms: u64,
    /// How often clients should ping, announced in every `connected` frame.
    pub heartbeat_ms: u64,
    /// Served at `/` (the demo page), if set.
    pub static_dir: Option<PathBuf>,
    /// Served at `/pkg/` (the built npm package), if set.
    pub pkg_dir: Option<PathBuf>,
    /// When set, a socket must give this token, in its URL's `?token=` or as its first frame
    /// (`auth`), or it is closed with code 4001 (see [`ws`]); the API routes answer 401
    /// without it (see [`auth`]).
    pub token: Option<String>,
    /// Serves the [`admin`] API under `/admin/`; without it those paths answer 404.
    pub admin: bool,
    /// The key the admin API wants in `x-admin-key`; without one, the server makes a random
    /// key at start ([`AppState::admin_key`]).
    pub admin_key: Option<String>,
    /// The pages of other origins that may use the server from a browser (see [`origin`]).
    pub origins: Origins,
    /// Names the server answers to besides the loopback names, IP addresses and the hosts of
    /// `origins` (see [`hosts`]).
    pub allowed_hosts: Vec<HostName>,
    /// What one client may take of the server.
    pub limits: Limits,
    /// Events each job keeps for replay; a `subscribe` from further back replays these only.
    /// The snapshots are not affected.
    pub max_log_events: usize,
    /// The instance's name, in every client id it gives (`NAME.c_1`), so a client can tell
    /// which of several instances it reached.
    pub instance: Option<String>,
    /// Run on Redis with the other instances of the same Redis (see [`redis`]); in memory
    /// without.
    pub redis: Option<redis::RedisConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            step_ms: 300,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            static_dir: None,
            pkg_dir: None,
            token: None,
            admin: false,
            admin_key: None,
            origins: Origins::default(),
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            max_log_events: jobs::MAX_LOG_EVENTS,
            instance: None,
            redis: None,
        }
    }
}

/// Every route of the server.
///
/// The API answers CORS to the allowed origins, the admin routes to the test origins only
/// (see [`origin`]); `/healthz` to anyone, as it says nothing but "ok". Every route but
/// `/healthz` answers 403 to a `Host` the server does not answer to (see [`hosts`]). The API
/// wants the token, the admin routes the admin key (see [`auth`]).
pub fn router(state: AppState) -> Router {
    let config = state.config();
    let api = Router::new()
        .route("/api/v1/generations", post(http::create_generation))
        .route("/api/v1/generations/{id}", get(http::generation))
        .route("/api/v1/compositions", post(http::create_composition))
        .route("/api/v1/compositions/{id}", get(http::composition))
        .route(
            "/api/v1/channels/{channel}/{id}/events",
            post(http::publish_channel_event),
        )
        // A message is held to the size of a socket's frame, whichever way it comes.
        .route(
            "/api/v1/messages",
            post(http::post_message).layer(DefaultBodyLimit::max(MAX_CLIENT_FRAME_BYTES)),
        )
        .route_layer(from_fn_with_state(state.clone(), auth::require_token));
    let mut public = Router::new()
        .merge(api)
        .route("/thumbnails/{job}/{file}", get(http::thumbnail))
        .route("/ws", get(ws::upgrade));
    if let Some(pkg) = &config.pkg_dir {
        public = public.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(site) = &config.static_dir {
        public = public.fallback_service(ServeDir::new(site));
    }
    let public = public.layer(config.origins.api_cors());
    let health = Router::new()
        .route("/healthz", get(http::healthz))
        .layer(CorsLayer::permissive());
    let admin = if config.admin {
        let admin = Router::new()
            .route("/admin/drop", post(admin::drop_sockets))
            .route("/admin/mute-pongs", post(admin::mute_pongs))
            .route("/admin/refuse-ws", post(admin::refuse_ws))
            .route("/admin/fail-polls", post(admin::fail_polls))
            .route("/admin/fail-messages", post(admin::fail_messages))
            .route("/admin/stats", get(admin::stats).post(admin::stats))
            .route_layer(from_fn_with_state(state.clone(), auth::require_admin_key));
        match config.origins.admin_cors() {
            Some(cors) => admin.layer(cors),
            None => admin,
        }
    } else {
        // Explicit, so the static directory's fallback cannot answer them (with a 405 to a POST).
        Router::new()
            .route("/admin", any(admin::absent))
            .route("/admin/{*path}", any(admin::absent))
    };
    let hosts = Arc::new(hosts::AllowedHosts::of(config));
    public
        .merge(admin)
        .layer(from_fn_with_state(hosts, hosts::require_allowed_host))
        .merge(health)
        .with_state(state)
}

/// Serves on `listener` until SIGINT or SIGTERM.
pub async fn serve(listener: TcpListener, config: Config) -> std::io::Result<()> {
    let state = AppState::start(config)
        .await
        .map_err(std::io::Error::other)?;
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves `state` on `listener` until `shutdown` completes, then closes every socket with
/// "going away" (1001) and waits a moment for them to go.
pub async fn serve_until<F>(
    listener: TcpListener,
    state: AppState,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let stopping = state.clone();
    let header_timeout = Duration::from_millis(state.config().limits.header_timeout_ms);
    let shutdown = async move {
        shutdown.await;
        stopping.begin_shutdown();
    };
    connections::serve_http1(listener, router(state.clone()), header_timeout, shutdown).await?;
    // Upgraded sockets are no longer axum's connections: wait for them here.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, state.sockets_closed()).await;
    // The other instances take this one's jobs over at once rather than after their leases.
    if let Some(hub) = state.redis() {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, hub.release_jobs()).await;
    }
    Ok(())
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this function is called, not when the future is first
/// polled: `main` calls it before announcing its address, so a script that sends SIGTERM as
/// soon as it has read the address stops the server cleanly instead of killing it.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).map_err(|error| ("SIGINT", error));
    let terminate = signal(SignalKind::terminate()).map_err(|error| ("SIGTERM", error));
    async move {
        tokio::select! {
            () = received(interrupt) => {}
            () = received(terminate) => {}
        }
    }
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C ({error}); the server cannot be stopped cleanly");
            std::future::pending::<()>().await;
        }
    }
}

/// Completes when the signal arrives; never, if its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Result<tokio::signal::unix::Signal, (&'static str, std::io::Error)>) {
    match signal {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err((name, error)) => {
            eprintln!("cannot listen for {name} ({error}); it will not stop the server cleanly");
            std::future::pending::<()>().await;
        }
    }
}
