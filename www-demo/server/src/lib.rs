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
//! socket, stop answering pings, refuse upgrades, fail the snapshot endpoints; each within the
//! [`scope`] a request names, so tests on one server do not disturb each other.

pub mod admin;
pub mod args;
pub mod channels;
pub mod http;
pub mod jobs;
pub mod messages;
pub mod query;
pub mod scope;
pub mod state;
pub mod ws;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

pub use crate::state::AppState;

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
    /// When set, a WebSocket URL must carry `?token=` with this value; a socket without it is
    /// accepted, then closed with code 4001 (see [`ws`]). The HTTP routes stay open.
    pub token: Option<String>,
    /// Serves the [`admin`] API under `/admin/`; without it those paths answer 404.
    pub admin: bool,
    /// Events each job keeps for replay; a `subscribe` from further back replays these only.
    /// The snapshots are not affected.
    pub max_log_events: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            step_ms: 300,
            heartbeat_ms: 30_000,
            static_dir: None,
            pkg_dir: None,
            token: None,
            admin: false,
            max_log_events: jobs::MAX_LOG_EVENTS,
        }
    }
}

/// Every route of the server. Cross-origin requests are allowed everywhere: the browser tests
/// load their page from another origin than this server's.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/healthz", get(http::healthz))
        .route("/api/v1/generations", post(http::create_generation))
        .route("/api/v1/generations/{id}", get(http::generation))
        .route("/api/v1/compositions", post(http::create_composition))
        .route("/api/v1/compositions/{id}", get(http::composition))
        .route("/thumbnails/{job}/{file}", get(http::thumbnail))
        .route(
            "/api/v1/channels/{channel}/{id}/events",
            post(http::publish_channel_event),
        )
        .route("/ws", get(ws::upgrade));
    app = if state.config().admin {
        app.route("/admin/drop", post(admin::drop_sockets))
            .route("/admin/mute-pongs", post(admin::mute_pongs))
            .route("/admin/refuse-ws", post(admin::refuse_ws))
            .route("/admin/fail-polls", post(admin::fail_polls))
            .route("/admin/stats", get(admin::stats).post(admin::stats))
    } else {
        // Explicit, so the static directory's fallback cannot answer them (with a 405 to a POST).
        app.route("/admin", any(admin::absent))
            .route("/admin/{*path}", any(admin::absent))
    };
    if let Some(pkg) = &state.config().pkg_dir {
        app = app.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(site) = &state.config().static_dir {
        app = app.fallback_service(ServeDir::new(site));
    }
    app.layer(CorsLayer::permissive()).with_state(state)
}

/// Serves on `listener` until SIGINT or SIGTERM.
pub async fn serve(listener: TcpListener, config: Config) -> std::io::Result<()> {
    serve_until(listener, AppState::new(config), shutdown_signal()).await
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
    axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.begin_shutdown();
        })
        .await?;
    // Upgraded sockets are no longer axum's connections: wait for them here.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, state.sockets_closed()).await;
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
