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
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--step-ms", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
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

#[cfg(unix)]
#[test]
fn the_binary_stops_cleanly_on_sigterm() {
    let (mut server, _) = start();

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());

    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = server.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
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
