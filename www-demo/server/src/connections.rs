//! The accept loop: what `axum::serve` does, plus a deadline for a request's headers.
//!
//! `axum::serve` gives hyper no timer, so hyper's header-read timeout never runs: a client
//! may open TCP connections and send nothing, or half a request line, and each is kept for as
//! long as the client likes, a file descriptor and a task apiece, before any WebSocket limit
//! (`max_connections`, the idle timeout) applies. Here every connection gets hyper's HTTP/1
//! server with a Tokio timer and `header_timeout`: a connection whose request headers are not
//! all in within it, the first request's or a later one's on a kept-alive connection, is
//! closed. An upgraded WebSocket is no longer HTTP and is not affected.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long the loop waits after an accept error that is not one connection's (no file
/// descriptor left, say) before it tries again, as `axum::serve` does: retrying at once would
/// spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets each
/// connection finish its request in flight, and returns once every one has closed.
pub async fn serve_http1<F>(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    // Sent on (dropped) to tell connections to finish; each holds a receiver until it ends,
    // so `closed()` completes when the last one has.
    let (stop, stopped) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) if is_one_connections(&error) => continue,
                Err(_) => {
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let mut stopped = stopped.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = pin!(connection);
            tokio::select! {
                // An error is the client's (a timeout, a reset, a malformed request), and
                // hyper has already answered or closed it: nothing to do.
                _ = connection.as_mut() => return,
                _ = stopped.changed() => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    drop(listener);
    drop(stopped);
    stop.send_replace(());
    stop.closed().await;
    Ok(())
}

/// True for the accept errors that concern the one connection being accepted (it was reset
/// before it was taken, say), after which the next accept may well succeed.
fn is_one_connections(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
