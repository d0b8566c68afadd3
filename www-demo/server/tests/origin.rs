//! Which pages may use the server from a browser: a WebSocket upgrade from a page of another
//! site answers 403 before the upgrade (cross-site WebSocket hijacking), and CORS answers only
//! the origins the server allows.

mod common;

use jobsocket::core::protocol::ServerFrame;
use jobsocket_server::{Config, Origins};
use tokio_tungstenite::tungstenite::Error as WsError;

/// The status of a refused WebSocket handshake; fails the test if the upgrade succeeded.
fn refused_status(result: Result<common::Socket, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the upgrade to be refused"),
    }
}

#[tokio::test]
async fn an_upgrade_from_a_page_of_another_site_answers_403_before_the_upgrade() {
    let server = common::start(1).await;

    for origin in [
        "https://evil.example",
        "null",
        "http://127.0.0.1",
        "http://localhost:1",
    ] {
        let status = refused_status(server.connect_from(origin, "").await);
        assert_eq!(status, 403, "Origin: {origin}");
    }
}

#[tokio::test]
async fn an_upgrade_from_the_servers_own_origin_or_without_an_origin_is_accepted() {
    let server = common::start(1).await;
    let own = format!("http://{}", server.address);

    let mut socket = server.connect_from(&own, "").await.expect("same origin");
    assert!(matches!(
        socket.next_frame().await,
        ServerFrame::Connected { .. }
    ));
    // A client that is not a browser (node's `ws`, a test) sends no Origin at all.
    server.socket().await;
}

#[tokio::test]
async fn an_allowed_origin_or_port_pattern_may_open_a_socket_and_nothing_like_it() {
    let server = common::start_with(Config {
        origins: Origins {
            allowed: vec![
                "https://app.example".parse().expect("a pattern"),
                "http://localhost:*".parse().expect("a pattern"),
            ],
            unsafe_test: Vec::new(),
        },
        ..Config::default()
    })
    .await;

    for origin in ["https://app.example", "http://localhost:5173"] {
        let mut socket = server.connect_from(origin, "").await.expect(origin);
        assert!(matches!(
            socket.next_frame().await,
            ServerFrame::Connected { .. }
        ));
    }
    for origin in [
        "http://app.example",
        "https://app.example.evil.example",
        "http://localhost.evil.example:5173",
        "https://evil.example",
    ] {
        let status = refused_status(server.connect_from(origin, "").await);
        assert_eq!(status, 403, "Origin: {origin}");
    }
}

/// The headers a preflight from `origin` for `path` says the page may send, lower case.
async fn preflight_allows(server: &common::Server, path: &str, origin: &str, asks: &str) -> String {
    let response = server
        .request_with(
            "OPTIONS",
            path,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", asks),
            ],
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("access-control-allow-origin"), Some(origin));
    response
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_lets_the_page_send_its_bearer_token() {
    let server = common::start_with(Config {
        origins: Origins {
            allowed: vec!["https://app.example".parse().expect("a pattern")],
            unsafe_test: Vec::new(),
        },
        ..Config::default()
    })
    .await;

    // `*` would not do: browsers never let it cover `Authorization`.
    let allowed = preflight_allows(
        &server,
        "/api/v1/generations",
        "https://app.example",
        "authorization,content-type",
    )
    .await;
    let names: Vec<&str> = allowed.split(',').map(str::trim).collect();
    assert!(names.contains(&"authorization"), "{allowed}");
    assert!(names.contains(&"content-type"), "{allowed}");
}

#[tokio::test]
async fn a_preflight_from_a_test_origin_lets_the_page_send_the_admin_key() {
    let server = common::start_for_test_runners().await;

    let allowed = preflight_allows(
        &server,
        "/admin/stats",
        "http://127.0.0.1:9",
        "content-type,x-admin-key",
    )
    .await;
    let names: Vec<&str> = allowed.split(',').map(str::trim).collect();
    assert!(names.contains(&"x-admin-key"), "{allowed}");
    assert!(names.contains(&"authorization"), "{allowed}");
}
