//! The server's limits (`jobsocket_server::Limits`): no client, slow or hostile, takes all of
//! it. Every limit is set small here, so no test waits for a real-world timer.

mod common;

use std::time::Duration;

use common::End;
use jobsocket::core::protocol::{Channel, ClientFrame, ServerFrame};
use jobsocket_server::{Config, Limits};
use tokio_tungstenite::tungstenite::Error as WsError;

async fn start(limits: Limits) -> common::Server {
    common::start_with(Config {
        step_ms: 1,
        limits,
        ..Config::default()
    })
    .await
}

/// The close code and reason a socket ended with; fails the test on anything else.
fn close_of(end: End) -> (u16, String) {
    match end {
        End::Closed(Some(frame)) => (u16::from(frame.code), frame.reason.as_str().to_owned()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn past_the_connection_limit_an_upgrade_answers_503_until_a_socket_closes() {
    let server = start(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;

    let first = server.socket().await;
    let _second = server.socket().await;
    match server.connect("").await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 503),
        Err(other) => panic!("expected an HTTP 503, got {other}"),
        Ok(_) => panic!("a third socket was let in"),
    }

    drop(first);
    // The first socket's task ends a moment after its TCP connection does.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        match server.connect("").await {
            Ok(_) => break,
            Err(WsError::Http(response)) if response.status() == 503 => {}
            Err(other) => panic!("expected an upgrade or a 503, got {other}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_socket_silent_past_the_idle_timeout_is_closed_with_4002() {
    let server = start(Limits {
        idle_timeout_ms: 50,
        ..Limits::default()
    })
    .await;

    let mut socket = server.socket().await;
    let started = tokio::time::Instant::now();
    let (texts, end) = socket.until_end().await;

    assert!(texts.is_empty(), "{texts:?}");
    assert_eq!(close_of(end), (4002, "idle timeout".to_owned()));
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn a_socket_that_pings_stays_open_past_the_idle_timeout() {
    let server = start(Limits {
        idle_timeout_ms: 60,
        ..Limits::default()
    })
    .await;

    let mut socket = server.socket().await;
    for t in 0..10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        socket.send(&ClientFrame::Ping { t }).await;
        assert_eq!(socket.next_frame().await, ServerFrame::Pong { t });
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4008_slow_consumer() {
    let server = common::start_with(Config {
        step_ms: 1,
        admin: true,
        limits: Limits {
            send_timeout_ms: 50,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    // Jobs of thousands of events each, as fast as the server goes: megabytes to send.
    let mut jobs = Vec::new();
    for _ in 0..6 {
        let body = r#"{"clips":50,"steps_per_clip":100,"step_ms":0}"#;
        jobs.push(server.start_job("generations", body).await);
    }

    let mut slow = server.connect_with_small_window("").await;
    for id in &jobs {
        slow.send(&subscribe(id)).await;
    }
    // Reads nothing until the server has given up on a write stalled on the shut TCP window,
    // then reads again: the frames written before the close frame, then the close frame.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while server.stats().await["slow_consumers"] != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no write ever stalled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, end) = slow.until_end().await;

    assert_eq!(close_of(end), (4008, "slow consumer".to_owned()));
}

fn subscribe(id: &str) -> ClientFrame {
    ClientFrame::Subscribe {
        channel: Channel::Generation,
        id: id.to_owned(),
        since: None,
    }
}

#[tokio::test]
async fn a_job_that_would_run_longer_than_the_limit_is_refused_with_400() {
    let server = start(Limits {
        max_job_ms: 1_000,
        ..Limits::default()
    })
    .await;

    // 2 clips of 10 steps, 100 ms apart: over 2 s.
    let body = r#"{"clips":2,"steps_per_clip":10,"step_ms":100}"#;
    let response = server
        .request("POST", "/api/v1/generations", Some(body))
        .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.json()["code"], "bad_request");
    let body = r#"{"total_frames":240,"steps":20,"step_ms":100}"#;
    let response = server
        .request("POST", "/api/v1/compositions", Some(body))
        .await;
    assert_eq!(response.status, 400, "{}", response.body);

    server
        .start_job(
            "generations",
            r#"{"clips":1,"steps_per_clip":2,"step_ms":10}"#,
        )
        .await;
}

#[tokio::test]
async fn past_the_job_limit_with_every_job_running_a_new_job_answers_503() {
    let server = start(Limits {
        max_jobs: 2,
        ..Limits::default()
    })
    .await;

    let slow = r#"{"total_frames":10,"steps":10,"step_ms":60000}"#;
    server.start_job("compositions", slow).await;
    server.start_job("compositions", slow).await;
    let response = server
        .request("POST", "/api/v1/compositions", Some(slow))
        .await;
    assert_eq!(response.status, 503, "{}", response.body);
    assert_eq!(response.json()["code"], "busy");
}

/// Reads `stream` to its end; true if the server closed it within [`common::PATIENCE`].
async fn closed_by_the_server(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(common::PATIENCE, stream.read_to_end(&mut rest)).await;
    // A reset is a close too.
    read.is_ok()
}

#[tokio::test]
async fn a_connection_that_sends_no_request_headers_in_time_is_closed() {
    use tokio::io::AsyncWriteExt;
    let server = start(Limits {
        header_timeout_ms: 50,
        ..Limits::default()
    })
    .await;
    let mut socket = server.socket().await;

    let mut silent = tokio::net::TcpStream::connect(server.address)
        .await
        .expect("connect");
    let mut half = tokio::net::TcpStream::connect(server.address)
        .await
        .expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("send half a request");

    assert!(
        closed_by_the_server(&mut silent).await,
        "a silent connection"
    );
    assert!(closed_by_the_server(&mut half).await, "half a request");
    // An upgraded socket is no longer HTTP: older than the timeout now, it is still open.
    socket.send(&ClientFrame::Ping { t: 7 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 7 });
    // A request whose headers come in time is answered as ever.
    assert_eq!(server.request("GET", "/healthz", None).await.status, 200);
}
