//! `--token`: a socket gives the token in its URL (`?token=`) or as its first frame (`auth`);
//! without it, it is accepted, then closed with 4001 before any `connected` frame. The API
//! answers 401 without it.

mod common;

use common::End;
use jobsocket::core::protocol::{ClientFrame, ServerFrame};
use jobsocket_server::{Config, Limits};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A token that needs percent-encoding in a URL.
const TOKEN: &str = "s3cr&t";

async fn start() -> common::Server {
    common::start_with(Config {
        step_ms: 1,
        token: Some(TOKEN.to_owned()),
        limits: Limits {
            auth_timeout_ms: AUTH_TIMEOUT_MS,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await
}

/// How long a socket without `?token=` has for its `auth` frame, here.
const AUTH_TIMEOUT_MS: u64 = 50;

/// Fails the test unless the socket ends with 4001 `unauthorized` and sent nothing before.
async fn refused(socket: &mut common::Socket, what: &str) {
    let (texts, end) = socket.until_end().await;
    assert!(texts.is_empty(), "{what}: sent {texts:?}");
    match end {
        End::Closed(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::from(4001), "{what}");
            assert_eq!(frame.reason.as_str(), "unauthorized", "{what}");
        }
        other => panic!("{what}: expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_socket_without_the_right_token_is_closed_with_4001_and_no_connected() {
    let server = start().await;

    for query in [
        "",
        "requestId=r_1",
        "token=wrong&requestId=r_2",
        "token=s3cr",
        "token=s3cr&t", // `&` unescaped: the token is "s3cr"
        "token=",
        "Token=s3cr%26t",
    ] {
        let mut socket = server
            .connect(query)
            .await
            .expect("the upgrade is accepted");
        refused(&mut socket, &format!("?{query}")).await;
    }
}

#[tokio::test]
async fn a_socket_without_a_url_token_is_connected_after_an_auth_first_frame() {
    let server = start().await;

    let mut socket = server.connect("requestId=r_4").await.expect("upgrade");
    socket
        .send(&ClientFrame::Auth {
            token: TOKEN.to_owned(),
        })
        .await;

    assert!(matches!(
        socket.next_frame().await,
        ServerFrame::Connected { .. }
    ));
    socket.send(&ClientFrame::Ping { t: 2 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 2 });
}

#[tokio::test]
async fn a_wrong_auth_frame_another_first_frame_or_silence_closes_with_4001() {
    let server = start().await;

    let wrong = ClientFrame::Auth {
        token: "s3cr".to_owned(),
    };
    let ping = ClientFrame::Ping { t: 1 };
    for (what, first) in [
        ("a wrong token", Some(wrong)),
        ("a ping", Some(ping)),
        ("silence", None),
    ] {
        let mut socket = server.connect("").await.expect("upgrade");
        if let Some(frame) = first {
            socket.send(&frame).await;
        }
        refused(&mut socket, what).await;
    }
    let mut socket = server.connect("").await.expect("upgrade");
    socket.send_text("not json").await;
    refused(&mut socket, "a malformed frame").await;
}

#[tokio::test]
async fn an_auth_frame_after_the_first_answers_bad_frame() {
    let server = start().await;
    let mut socket = server.socket_with_query("token=s3cr%26t").await;

    socket
        .send(&ClientFrame::Auth {
            token: TOKEN.to_owned(),
        })
        .await;

    match socket.next_frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, "bad_frame"),
        other => panic!("expected bad_frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_socket_with_the_right_token_is_connected() {
    let server = start().await;

    let mut socket = server
        .socket_with_query("requestId=r_3&token=s3cr%26t")
        .await;

    socket.send(&ClientFrame::Ping { t: 1 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 1 });
}

#[tokio::test]
async fn without_a_token_configured_the_query_is_ignored() {
    let server = common::start(1).await;

    server.socket_with_query("token=anything").await;
    server.socket_with_query("").await;
}

#[tokio::test]
async fn the_api_needs_the_token_in_a_bearer_header_or_the_query() {
    let server = start().await;

    let refused = server.request("POST", "/api/v1/generations", None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["code"], "unauthorized");
    let wrong = server
        .request_with(
            "POST",
            "/api/v1/generations",
            &[("authorization", "Bearer s3cr")],
            None,
        )
        .await;
    assert_eq!(wrong.status, 401);

    let bearer = [("authorization", "Bearer s3cr&t")];
    let created = server
        .request_with("POST", "/api/v1/generations", &bearer, None)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("an id").to_owned();
    let path = format!("/api/v1/generations/{id}");
    assert_eq!(server.request("GET", &path, None).await.status, 401);
    let by_header = server.request_with("GET", &path, &bearer, None).await;
    assert_eq!(by_header.status, 200);
    let by_query = server
        .request("GET", &format!("{path}?token=s3cr%26t"), None)
        .await;
    assert_eq!(by_query.status, 200);
    assert_eq!(server.request("GET", "/healthz", None).await.status, 200);
}

#[tokio::test]
async fn without_a_token_configured_an_auth_first_frame_is_ignored_and_a_second_is_a_bad_frame() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;
    let auth = ClientFrame::Auth {
        token: "anything".to_owned(),
    };

    socket.send(&auth).await;
    socket.send(&ClientFrame::Ping { t: 3 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 3 });
    socket.send(&auth).await;
    match socket.next_frame().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, "bad_frame"),
        other => panic!("expected bad_frame, got {other:?}"),
    }
}
