//! `jobsocket-proxy`, the binary, against real TCP upstreams on free ports of 127.0.0.1: each
//! upstream greets a connection with its name, then echoes what it reads, so a client through
//! the proxy can tell where it landed and that bytes flow both ways.
//!
//! Plain threads and blocking sockets: the proxy is another process, and nothing here needs a
//! runtime.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Longest wait for anything the proxy should do: far more than it takes, so only a broken
/// proxy reaches it.
const PATIENCE: Duration = Duration::from_secs(5);

/// An upstream that writes `name` to each connection, then echoes it until it closes; with
/// `close_after_greeting`, it closes right after its name instead. Runs until the test
/// process ends.
fn upstream(name: u8, close_after_greeting: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an upstream");
    let address = listener.local_addr().expect("the upstream's address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            thread::spawn(move || {
                if stream.write_all(&[name]).is_err() || close_after_greeting {
                    return;
                }
                let mut buffer = [0; 1024];
                while let Ok(read @ 1..) = stream.read(&mut buffer) {
                    if stream.write_all(&buffer[..read]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// An address that refuses connections: a port that was free a moment ago.
fn refusing_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe");
    listener.local_addr().expect("the probe's address")
}

/// A running `jobsocket-proxy`, killed when dropped.
struct Proxy {
    child: Child,
    address: SocketAddr,
}

impl Proxy {
    /// Starts the proxy on port 0 in front of `upstreams`, and reads its address from its first
    /// stdout line.
    fn start(upstreams: &[SocketAddr]) -> Proxy {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobsocket-proxy"));
        command.args(["--port", "0"]);
        for upstream in upstreams {
            command.arg("--upstream").arg(upstream.to_string());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jobsocket-proxy");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("the proxy's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the proxy's first line");
        let address = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .parse()
            .expect("an address after `listening on`");
        Proxy { child, address }
    }

    /// Connects through the proxy and reads the upstream's greeting: its name.
    fn landing(&self) -> (u8, TcpStream) {
        let mut stream = self.connect();
        let mut name = [0];
        stream.read_exact(&mut name).expect("an upstream's name");
        (name[0], stream)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.address).expect("connect to the proxy");
        stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
        stream
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads until the stream ends; the error if it does not end within [`PATIENCE`].
fn read_to_end(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => Ok(rest),
        // A reset is an end too: the proxy may close a connection it never read from.
        Err(error) if error.kind() == ErrorKind::ConnectionReset => Ok(rest),
        Err(error) => Err(error),
    }
}

#[test]
fn connections_go_to_each_upstream_in_turn_and_bytes_flow_both_ways() {
    let proxy = Proxy::start(&[upstream(b'a', false), upstream(b'b', false)]);
    let mut names = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..4 {
        let (name, stream) = proxy.landing();
        names.push(name);
        streams.push(stream);
    }
    assert_eq!(names, b"abab");
    for (n, stream) in streams.iter_mut().enumerate() {
        let message = format!("message {n}");
        stream.write_all(message.as_bytes()).expect("write");
        let mut echoed = vec![0; message.len()];
        stream.read_exact(&mut echoed).expect("the echo");
        assert_eq!(echoed, message.as_bytes());
    }
}

#[test]
fn an_upstream_that_refuses_is_skipped_for_the_next_one() {
    let proxy = Proxy::start(&[refusing_address(), upstream(b'a', false)]);
    let names: Vec<u8> = (0..3).map(|_| proxy.landing().0).collect();
    assert_eq!(names, b"aaa");
}

#[test]
fn an_upstream_that_does_not_accept_is_skipped_after_the_connect_timeout() {
    // A listener that never accepts, its queue filled: the kernel then drops new SYNs, so a
    // connect hangs, as to a host that is down.
    let (_runtime, silent) = listener_with_backlog_of_one();
    let address = silent.local_addr().expect("an address");
    let mut queued = Vec::new();
    while let Some(stream) = connects_within(address, Duration::from_millis(200)) {
        queued.push(stream);
        assert!(queued.len() < 16, "the listener's queue does not fill");
    }
    let proxy = Proxy::start(&[address, upstream(b'a', false)]);
    let started = Instant::now();
    let (name, _stream) = proxy.landing();
    assert_eq!(name, b'a');
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "the silent upstream was given {waited:?}, not about 500 ms"
    );
}

#[test]
fn with_every_upstream_down_the_client_is_closed() {
    let proxy = Proxy::start(&[refusing_address(), refusing_address()]);
    let mut stream = proxy.connect();
    let started = Instant::now();
    assert_eq!(
        read_to_end(&mut stream).expect("an end, not a timeout"),
        b""
    );
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn an_upstream_that_closes_closes_the_client_after_what_it_sent() {
    let proxy = Proxy::start(&[upstream(b'a', true)]);
    let mut stream = proxy.connect();
    assert_eq!(read_to_end(&mut stream).expect("an end"), b"a");
}

#[test]
fn a_client_that_closes_its_side_still_gets_what_the_upstream_sends_after() {
    let proxy = Proxy::start(&[upstream(b'a', false)]);
    let (_, mut stream) = proxy.landing();
    stream.write_all(b"last words").expect("write");
    stream.shutdown(Shutdown::Write).expect("half-close");
    assert_eq!(read_to_end(&mut stream).expect("an end"), b"last words");
}

#[test]
fn sigterm_stops_the_proxy_cleanly() {
    let mut proxy = Proxy::start(&[upstream(b'a', false)]);
    let (_, mut open) = proxy.landing();
    let status = Command::new("kill")
        .args(["-TERM", &proxy.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = wait_with_patience(&mut proxy.child);
    assert!(exit.success(), "exit status {exit}");
    // Its connections went with it.
    assert_eq!(read_to_end(&mut open).expect("an end"), b"");
}

#[test]
fn a_bad_upstream_is_refused_with_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_jobsocket-proxy"))
        .args(["--upstream", "localhost"])
        .output()
        .expect("run jobsocket-proxy");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: --upstream: \"localhost\" is not IP:PORT"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// A listener that accepts nothing and queues as few connections as the kernel allows. std
/// has no backlog parameter, tokio has: its listener wants a runtime, returned to keep it alive.
fn listener_with_backlog_of_one() -> (tokio::runtime::Runtime, tokio::net::TcpListener) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime");
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("bind");
        socket.listen(1).expect("listen")
    });
    (runtime, listener)
}

/// Whether a connection to `address` completes within `limit`; the stream if so.
fn connects_within(address: SocketAddr, limit: Duration) -> Option<TcpStream> {
    TcpStream::connect_timeout(&address, limit).ok()
}

fn wait_with_patience(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the proxy did not stop");
        thread::sleep(Duration::from_millis(20));
    }
}
