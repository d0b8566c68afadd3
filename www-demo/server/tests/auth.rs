//! `--token`: sockets without the right `?token=` are accepted, then closed with 4001 before
//! any `connected` frame; the HTTP routes stay open.

mod common;

use common::End;
use jobsocket::core::protocol::{ClientFrame, ServerFrame};
use jobsocket_server::Config;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A token that needs percent-encoding in a URL.
const TOKEN: &str = "s3cr&t";

async fn start() -> common::Server {
    common::start_with(Config {
        step_ms: 1,
        token: Some(TOKEN.to_owned()),
        ..Config::default()
    })
    .await
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
        let (texts, end) = socket.until_end().await;
        assert!(texts.is_empty(), "?{query}: sent {texts:?}");
        match end {
            End::Closed(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::from(4001), "?{query}");
                assert_eq!(frame.reason.as_str(), "unauthorized", "?{query}");
            }
            other => panic!("?{query}: expected a close frame, got {other:?}"),
        }
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
async fn the_http_routes_need_no_token() {
    let server = start().await;

    let id = server.start_job("generations", "").await;
    let response = server
        .request("GET", &format!("/api/v1/generations/{id}"), None)
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(server.request("GET", "/healthz", None).await.status, 200);
}
