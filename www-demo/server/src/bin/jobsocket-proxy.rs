//! `jobsocket-proxy`: a small TCP proxy that spreads connections over several instances of the
//! reference server, as a load balancer in front of them would in production.
//!
//! The end-to-end tests of several instances (`tests/e2e/instances.test.mjs`) give the client
//! one `url`, the proxy's, and break instances behind it: a client whose instance dies
//! reconnects to the same address and lands on one that is up. The proxy knows nothing of
//! HTTP or WebSockets; it pipes bytes.
//!
//! - It listens on 127.0.0.1 only, on `--port` (0: any free port), and prints
//!   `listening on 127.0.0.1:PORT` as its first stdout line, flushed, for the scripts that
//!   start it on port 0.
//! - Each accepted connection goes to the next `--upstream` in round-robin order; an upstream
//!   that refuses, or does not accept within [`CONNECT_TIMEOUT`], is skipped for the one after
//!   it. With none up, the client's connection is closed at once: it sees the same thing as a
//!   dead server, and retries.
//! - Bytes flow both ways until both sides have closed (`copy_bidirectional`, half-closes
//!   passed on); an upstream that dies or drops the connection closes the client's with it.
//! - SIGTERM or SIGINT stops it: the listener and every open connection end.
//!
//! There is no health check and no memory of failures: each connection tries the upstreams
//! afresh, which is all a test that kills and restarts instances needs.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// How long an upstream may take to accept before the next one is tried: a few round trips on
/// a loopback or a LAN, far less than a client's connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What `--help` and every argument error print.
const USAGE: &str = "\
usage: jobsocket-proxy --upstream IP:PORT [--upstream IP:PORT ...] [--port PORT]

A TCP proxy on 127.0.0.1 that sends each connection to the next upstream in turn, skipping
those that refuse or do not accept within 500 ms; with none up, the connection is closed.

options:
  --port PORT        port to listen on, 0 for any free port (default 0)
  --upstream ADDR    an upstream, as IP:PORT (e.g. 127.0.0.1:8787); repeatable, at least one
  -h, --help         print this help";

/// The parsed command line.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    port: u16,
    upstreams: Vec<SocketAddr>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Run(Args),
    Help,
}

/// Parses the arguments after the program's name. Flags take their value as `--flag value`
/// or `--flag=value`; the error names the flag and what was wrong with it.
fn parse(argv: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut port = 0;
    let mut upstreams = Vec::new();
    let mut argv = argv.into_iter();
    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        if flag != "--port" && flag != "--upstream" {
            return Err(format!("unknown option {flag}"));
        }
        let value = inline
            .or_else(|| argv.next())
            .ok_or_else(|| format!("{flag} needs a value"))?;
        if flag == "--port" {
            port = value
                .parse()
                .map_err(|_| format!("--port: {value:?} is not a port (0 to 65535)"))?;
        } else {
            let upstream = value.parse().map_err(|_| {
                format!("--upstream: {value:?} is not IP:PORT (e.g. 127.0.0.1:8787)")
            })?;
            upstreams.push(upstream);
        }
    }
    if upstreams.is_empty() {
        return Err("at least one --upstream is needed".to_owned());
    }
    Ok(Command::Run(Args { port, upstreams }))
}

/// The upstreams and whose turn it is.
struct Upstreams {
    addresses: Vec<SocketAddr>,
    /// The turn of the next connection; each connection starts one further on, whichever
    /// upstream took the previous one.
    next: AtomicUsize,
}

impl Upstreams {
    /// Connects to the upstream whose turn it is, or to the first after it that accepts within
    /// [`CONNECT_TIMEOUT`]; `None` when none does.
    async fn connect(&self) -> Option<TcpStream> {
        let count = self.addresses.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            let address = self.addresses[(first + offset) % count];
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => return Some(stream),
                Ok(Err(error)) => eprintln!("upstream {address} skipped: {error}"),
                Err(_) => eprintln!(
                    "upstream {address} skipped: no answer within {} ms",
                    CONNECT_TIMEOUT.as_millis()
                ),
            }
        }
        None
    }
}

/// Pipes `client` to an upstream until both ends have closed; drops `client` (closing it) when
/// no upstream is up. Errors end the connection: there is no one to report them to but the
/// client, who sees its connection close.
async fn relay(mut client: TcpStream, upstreams: Arc<Upstreams>) {
    let Some(mut upstream) = upstreams.connect().await else {
        eprintln!("no upstream is up: connection closed");
        return;
    };
    // Small frames (pings, acks) should not wait for Nagle's algorithm on either side.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Binds 127.0.0.1:`port`; the listener and the address it took (the port, when 0 was asked).
async fn listen(port: u16) -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    Ok((listener, address))
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned());
    let args = match parse(argv) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Before the address goes out: whoever reads it may signal the proxy right away.
    let shutdown = jobsocket_server::shutdown_signal();
    let (listener, address) = match listen(args.port).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {address}");
        let _ = stdout.flush();
    }
    let upstreams = Arc::new(Upstreams {
        addresses: args.upstreams,
        next: AtomicUsize::new(0),
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    tokio::spawn(relay(client, Arc::clone(&upstreams)));
                }
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    // Returning drops the runtime, which ends every connection's task and closes its sockets.
    eprintln!("stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn upstreams_are_kept_in_the_order_given_and_the_port_defaults_to_any() {
        assert_eq!(
            args("--upstream 127.0.0.1:1 --upstream=[::1]:2"),
            Ok(Command::Run(Args {
                port: 0,
                upstreams: vec!["127.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()],
            }))
        );
        assert_eq!(
            args("--port=9 --upstream 127.0.0.1:1"),
            Ok(Command::Run(Args {
                port: 9,
                upstreams: vec!["127.0.0.1:1".parse().unwrap()],
            }))
        );
    }

    #[test]
    fn bad_arguments_are_errors_that_name_the_flag() {
        assert_eq!(args(""), Err("at least one --upstream is needed".into()));
        assert_eq!(args("--port"), Err("--port needs a value".into()));
        assert_eq!(
            args("--port 70000 --upstream 127.0.0.1:1"),
            Err("--port: \"70000\" is not a port (0 to 65535)".into())
        );
        assert_eq!(
            args("--upstream localhost:80"),
            Err("--upstream: \"localhost:80\" is not IP:PORT (e.g. 127.0.0.1:8787)".into())
        );
        assert_eq!(args("--verbose"), Err("unknown option --verbose".into()));
        assert_eq!(args("--upstream 127.0.0.1:1 -h"), Ok(Command::Help));
    }
}
