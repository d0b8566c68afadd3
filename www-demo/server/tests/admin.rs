//! The admin API (`--admin`): dropped sockets, muted pongs, refused upgrades, failing
//! snapshots, and the counters.

mod common;

use std::time::Duration;

use common::{End, PATIENCE, seqs};
use jobsocket::core::protocol::{Channel, ClientFrame, RawJson, ServerFrame};
use jobsocket_server::Config;
use serde_json::json;
use tokio_tungstenite::tungstenite;

fn subscribe(id: &str, since: Option<u64>) -> ClientFrame {
    ClientFrame::Subscribe {
        channel: Channel::Generation,
        id: id.to_owned(),
        since,
    }
}

fn message(id: &str) -> ClientFrame {
    ClientFrame::Message {
        id: id.to_owned(),
        event: "note".to_owned(),
        data: RawJson::new("{}").expect("valid JSON"),
    }
}

/// Long enough to be sure a pong is not coming; short enough for a fast test.
const NO_PONG: Duration = Duration::from_millis(300);

/// Polls the stats until `ws_open` is `open`: sockets count down as their tasks end.
async fn wait_for_open_sockets(server: &common::Server, open: u64) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let stats = server.stats().await;
        if stats["ws_open"] == open {
            return stats;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_admin_api_is_absent_without_the_flag() {
    // A static directory too: its fallback must not answer the admin paths either.
    let server = common::start_with(Config {
        static_dir: Some(std::env::temp_dir()),
        ..Config::default()
    })
    .await;

    for (method, path) in [
        ("POST", "/admin/drop"),
        ("POST", "/admin/mute-pongs"),
        ("GET", "/admin/stats"),
        ("GET", "/admin"),
    ] {
        let response = server.request(method, path, Some("{}")).await;
        assert_eq!(response.status, 404, "{method} {path}");
    }
}

#[tokio::test]
async fn drop_ends_open_sockets_without_a_close_frame_and_a_new_socket_resumes_with_since() {
    let server = common::start_admin().await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":3,"steps_per_clip":4,"step_ms":25}"#,
        )
        .await;
    let mut first = server.socket().await;
    first.send(&subscribe(&id, None)).await;
    first.subscribed(&id).await;
    let mut last = 0;
    while last < 4 {
        for frame in first.next_frames().await {
            match frame {
                ServerFrame::Event { seq, .. } if seq == last + 1 => last = seq,
                other => panic!("expected event {}, got {other:?}", last + 1),
            }
        }
    }

    let answer = server.admin("POST", "/admin/drop", None).await;

    assert_eq!(answer, json!({"ok": true}));
    let (texts, end) = first.until_end().await;
    assert!(matches!(end, End::Dropped(_)), "no close frame: {end:?}");
    // Events already on their way before the drop count as received.
    for text in texts {
        for frame in ServerFrame::decode_all(&text) {
            match frame {
                Ok(ServerFrame::Event { seq, .. }) if seq == last + 1 => last = seq,
                other => panic!("expected event {}, got {other:?}", last + 1),
            }
        }
    }
    let mut second = server.socket().await;
    second.send(&subscribe(&id, Some(last))).await;
    second.subscribed(&id).await;
    let events = second.events_until_terminal(&id).await;
    assert_eq!(seqs(&events), (last + 1..=19).collect::<Vec<_>>());
}

#[tokio::test]
async fn muted_pongs_go_unanswered_while_events_still_flow() {
    let server = common::start_admin().await;
    let mut socket = server.socket().await;

    server.switch("mute-pongs", true).await;
    socket.send(&ClientFrame::Ping { t: 1 }).await;
    assert_eq!(socket.next_text_within(NO_PONG).await, None);
    let id = server
        .start_job("generations", r#"{"clips":1,"steps_per_clip":2}"#)
        .await;
    socket.send(&subscribe(&id, None)).await;
    socket.subscribed(&id).await;
    let events = socket.events_until_terminal(&id).await;
    // queued, picked up, 2 progress, clip_completed, status_change, completed
    assert_eq!(seqs(&events), (1..=7).collect::<Vec<_>>());

    server.switch("mute-pongs", false).await;
    socket.send(&ClientFrame::Ping { t: 2 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 2 });
}

#[tokio::test]
async fn refused_upgrades_answer_503_and_leave_open_sockets_alone() {
    let server = common::start_admin().await;
    let mut open = server.socket().await;

    server.switch("refuse-ws", true).await;
    match server.connect("").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        Err(other) => panic!("expected an HTTP 503, got {other:?}"),
        Ok(_) => panic!("the upgrade went through"),
    }
    open.send(&ClientFrame::Ping { t: 3 }).await;
    assert_eq!(open.next_frame().await, ServerFrame::Pong { t: 3 });

    server.switch("refuse-ws", false).await;
    let mut again = server.socket().await;
    again.send(&ClientFrame::Ping { t: 4 }).await;
    assert_eq!(again.next_frame().await, ServerFrame::Pong { t: 4 });
}

#[tokio::test]
async fn failing_polls_answer_503_unavailable_until_switched_off() {
    let server = common::start_admin().await;
    let generation = server.start_job("generations", "").await;
    let composition = server.start_job("compositions", "").await;
    let paths = [
        format!("/api/v1/generations/{generation}"),
        format!("/api/v1/compositions/{composition}"),
    ];

    server.switch("fail-polls", true).await;
    for path in &paths {
        let response = server.request("GET", path, None).await;
        assert_eq!(response.status, 503, "{path}");
        let body = response.json();
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], "unavailable");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Only the snapshots fail: jobs still start.
    server.start_job("generations", "").await;

    server.switch("fail-polls", false).await;
    for path in &paths {
        assert_eq!(
            server.request("GET", path, None).await.status,
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn stats_count_sockets_polls_handled_and_acked_messages() {
    let server = common::start_admin().await;
    assert_eq!(
        server.stats().await,
        json!({
            "ws_connections_total": 0,
            "ws_open": 0,
            "handled_messages": 0,
            "acked_messages": 0,
            "poll_requests": 0,
            "slow_consumers": 0,
        })
    );

    let id = server.start_job("generations", "").await;
    server
        .request("GET", &format!("/api/v1/generations/{id}"), None)
        .await;
    server.switch("fail-polls", true).await;
    server
        .request("GET", "/api/v1/compositions/comp_9", None)
        .await;
    server.switch("fail-polls", false).await;
    let mut socket_a = server.socket().await;
    let mut socket_b = server.socket().await;
    // m_1 twice on one socket, then m_2 on the other.
    for (first, id) in [(true, "m_1"), (true, "m_1"), (false, "m_2")] {
        let socket = if first { &mut socket_a } else { &mut socket_b };
        socket.send(&message(id)).await;
        assert_eq!(
            socket.next_frame().await,
            ServerFrame::Ack { id: id.to_owned() }
        );
    }

    assert_eq!(
        server.stats().await,
        json!({
            "ws_connections_total": 2,
            "ws_open": 2,
            "handled_messages": 2,
            "acked_messages": 3,
            "poll_requests": 2,
            "slow_consumers": 0,
        })
    );
    drop(socket_b);
    let stats = wait_for_open_sockets(&server, 1).await;
    assert_eq!(stats["ws_connections_total"], 2);
    server.admin("POST", "/admin/drop", Some("{}")).await;
    let stats = wait_for_open_sockets(&server, 0).await;
    assert_eq!(stats["ws_connections_total"], 2);
    server.socket().await;
    assert_eq!(server.stats().await["ws_connections_total"], 3);
    // POST works as well as GET.
    assert_eq!(
        server.admin("POST", "/admin/stats", None).await["poll_requests"],
        2
    );
}

#[tokio::test]
async fn malformed_admin_bodies_answer_400_bad_request() {
    let server = common::start_admin().await;

    for (path, body) in [
        ("/admin/mute-pongs", ""),
        ("/admin/mute-pongs", "{}"),
        ("/admin/refuse-ws", r#"{"on":"yes"}"#),
        ("/admin/fail-polls", "{on:true}"),
        ("/admin/drop", "nope"),
        ("/admin/drop", "[1]"),
    ] {
        let response = server.admin_request("POST", path, Some(body)).await;
        assert_eq!(response.status, 400, "{path} {body}");
        let error = response.json();
        assert_eq!(error["type"], "error", "{path} {body}");
        assert_eq!(error["code"], "bad_request", "{path} {body}");
    }
    // Nothing was switched on by a bad request.
    let mut socket = server.socket().await;
    socket.send(&ClientFrame::Ping { t: 5 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 5 });
}

#[tokio::test]
async fn faults_and_counters_stay_inside_the_scope_that_named_them() {
    let server = common::start_admin().await;
    let mut scoped = server.socket_with_query("scope=test-a").await;
    let mut other = server.socket_with_query("scope=test-b").await;
    let mut unnamed = server.socket().await;
    let id = server.start_job("generations", "").await;

    server
        .admin(
            "POST",
            "/admin/refuse-ws?scope=test-a",
            Some(r#"{"on":true}"#),
        )
        .await;
    server
        .admin(
            "POST",
            "/admin/mute-pongs?scope=test-a",
            Some(r#"{"on":true}"#),
        )
        .await;
    server
        .admin(
            "POST",
            "/admin/fail-polls?scope=test-a",
            Some(r#"{"on":true}"#),
        )
        .await;
    match server.connect("scope=test-a").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        Err(other) => panic!("expected an HTTP 503, got {other:?}"),
        Ok(_) => panic!("the upgrade went through"),
    }
    server.socket_with_query("scope=test-b").await;
    let snapshot = format!("/api/v1/generations/{id}");
    let failed = server
        .request("GET", &format!("{snapshot}?scope=test-a"), None)
        .await;
    assert_eq!(failed.status, 503);
    let answered = server
        .request("GET", &format!("{snapshot}?scope=test-b"), None)
        .await;
    assert_eq!(answered.status, 200);
    scoped.send(&ClientFrame::Ping { t: 1 }).await;
    assert_eq!(scoped.next_text_within(NO_PONG).await, None);
    for socket in [&mut other, &mut unnamed] {
        socket.send(&ClientFrame::Ping { t: 2 }).await;
        assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 2 });
    }

    server.admin("POST", "/admin/drop?scope=test-a", None).await;
    let (_, end) = scoped.until_end().await;
    assert!(matches!(end, End::Dropped(_)), "{end:?}");
    for socket in [&mut other, &mut unnamed] {
        socket.send(&message("m_1")).await;
        assert_eq!(
            socket.next_frame().await,
            ServerFrame::Ack { id: "m_1".into() }
        );
    }

    let stats = |scope: &'static str| {
        let server = &server;
        async move {
            server
                .admin("GET", &format!("/admin/stats?scope={scope}"), None)
                .await
        }
    };
    let a = stats("test-a").await;
    assert_eq!(a["ws_connections_total"], 1);
    assert_eq!(a["poll_requests"], 1);
    let b = stats("test-b").await;
    assert_eq!(b["ws_connections_total"], 2);
    assert_eq!(b["poll_requests"], 1);
    // The message id was new for the first scope that sent it only.
    assert_eq!(b["handled_messages"], 1);
    assert_eq!(b["acked_messages"], 1);
    assert_eq!(server.stats().await["handled_messages"], 0);
    assert_eq!(server.stats().await["acked_messages"], 1);
}

#[tokio::test]
async fn a_malformed_scope_is_refused_with_400() {
    let server = common::start_admin().await;
    for path in [
        "/admin/stats?scope=",
        "/admin/stats?scope=a%20b",
        "/api/v1/generations/gen_1?scope=%2F",
    ] {
        let response = server.admin_request("GET", path, None).await;
        assert_eq!(response.status, 400, "{path}");
        assert_eq!(response.json()["code"], "bad_request", "{path}");
    }
    match server.connect("scope=a/b").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        Err(other) => panic!("expected an HTTP 400, got {other:?}"),
        Ok(_) => panic!("the upgrade went through"),
    }
}
