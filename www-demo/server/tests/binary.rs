//! The built binary, as the Makefile and the test scripts run it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_jobsocket-server");
const PATIENCE: Duration = Duration::from_secs(10);

/// Kills the child if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on a free port and returns it with the first line of its stdout.
fn start() -> (Running, String) {
    start_with(&[], Stdio::null())
}

/// Starts the binary on a free port with `extra` arguments.
fn start_with(extra: &[&str], stderr: Stdio) -> (Running, String) {
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--step-ms", "5"])
        .args(extra)
        .env("JOBSOCKET_ADMIN_KEY", ADMIN_KEY)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    // Read on a thread, so a server that never prints fails the test instead of hanging it.
    let (lines, line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = lines.send(first);
    });
    let first = line.recv_timeout(PATIENCE).expect("a first line in time");
    (running, first)
}

/// The admin key the binary gets from its environment.
const ADMIN_KEY: &str = "test-admin-key";

fn get(address: &str, path: &str) -> String {
    get_with(address, path, "")
}

/// A GET with `headers`, each line ending in CRLF.
fn get_with(address: &str, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// The `host:port` of a first stdout line.
fn address(first: &str) -> String {
    first
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned()
}

/// A WebSocket handshake by hand; returns the response's status line and the server's first
/// frame, raw (the server's frames are small and unmasked: a 2-byte header, then the payload).
fn upgrade(address: &str, query: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        stream,
        "GET /ws?{query} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("send");
    let mut received = Vec::new();
    let mut buffer = [0; 1024];
    loop {
        let head_end = received
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map(|end| end + 4);
        if let Some(end) = head_end {
            let frame = &received[end..];
            if frame.len() >= 2 && frame.len() >= 2 + usize::from(frame[1] & 0x7f) {
                let head = String::from_utf8_lossy(&received[..end]).into_owned();
                let status = head.lines().next().unwrap_or_default().to_owned();
                return (status, frame.to_vec());
            }
        }
        let n = stream.read(&mut buffer).expect("a response in time");
        assert!(n > 0, "the connection ended early: {received:?}");
        received.extend_from_slice(&buffer[..n]);
    }
}

#[cfg(unix)]
#[test]
fn a_refused_token_is_the_only_thing_logged_and_names_its_request_id() {
    let (mut server, first) = start_with(&["--token", "s3cret", "--admin"], Stdio::piped());
    let address = address(&first);

    let (status, frames) = upgrade(&address, "requestId=req-42&token=nope");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    // One unmasked close frame: FIN + close opcode, 2 + 12 bytes of code 4001 and reason.
    let mut close = vec![0x88, 14];
    close.extend_from_slice(&4001_u16.to_be_bytes());
    close.extend_from_slice(b"unauthorized");
    assert_eq!(frames, close);
    let (status, frames) = upgrade(&address, "requestId=req-43&token=s3cret");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    assert!(
        String::from_utf8_lossy(&frames).contains("\"connected\""),
        "{frames:?}"
    );
    assert!(get(&address, "/admin/stats").starts_with("HTTP/1.1 401"));
    let keyed = format!("x-admin-key: {ADMIN_KEY}\r\n");
    assert!(get_with(&address, "/admin/stats", &keyed).starts_with("HTTP/1.1 200"));

    assert!(terminate(&mut server).success());
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].contains("4001"), "{stderr}");
    assert!(lines[0].contains("\"req-42\""), "{stderr}");
    assert_eq!(lines[1], "stopped", "{stderr}");
}

#[test]
fn the_binary_announces_its_address_first_and_serves_healthz() {
    let (_server, first) = start();

    let address = first
        .strip_suffix('\n')
        .and_then(|line| line.strip_prefix("listening on http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let port: u16 = address.parse().expect("a port number");
    assert_ne!(port, 0);

    let response = get(&format!("127.0.0.1:{port}"), "/healthz");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");
}

#[test]
fn with_admin_the_key_and_the_demo_address_come_after_the_first_line() {
    let static_dir = std::env::temp_dir().to_string_lossy().into_owned();
    let child = Command::new(BINARY)
        .args(["--port", "0", "--admin", "--static", &static_dir])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("piped stdout");
    let (lines, line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        for _ in 0..3 {
            let mut text = String::new();
            let _ = reader.read_line(&mut text);
            let _ = lines.send(text);
        }
    });
    let next = || line.recv_timeout(PATIENCE).expect("a line in time");
    let address = address(&next());
    let key_line = next();
    let key = key_line
        .strip_prefix("admin key: ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected second line {key_line:?}"));
    assert_eq!(key.len(), 32, "a random key: {key_line}");
    assert_eq!(
        next().trim_end(),
        format!("demo: http://{address}/#adminKey={key}")
    );
    let keyed = format!("x-admin-key: {key}\r\n");
    assert!(get_with(&address, "/admin/stats", &keyed).starts_with("HTTP/1.1 200"));
}

/// Sends SIGTERM and waits for the server to exit.
#[cfg(unix)]
fn terminate(server: &mut Running) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());

    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(exit) = server.0.try_wait().expect("wait") {
            return exit;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(unix)]
#[test]
fn the_binary_stops_cleanly_on_sigterm() {
    let (mut server, _) = start();

    let exit = terminate(&mut server);

    assert!(exit.success(), "{exit}");
}

#[test]
fn bad_arguments_exit_with_2_and_print_the_usage() {
    let output = Command::new(BINARY)
        .args(["--port", "eighty"])
        .output()
        .expect("run the binary");

    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value \"eighty\" for --port"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: jobsocket-server"), "{stderr}");
}
