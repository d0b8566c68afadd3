//! Which names the server answers to: a page of a name rebound to the server's address (DNS
//! rebinding) is refused on every route, though its `Origin` matches its `Host`.

mod common;

use std::path::PathBuf;

use jobsocket::core::protocol::ServerFrame;
use jobsocket_server::{Config, Origins};
use tokio_tungstenite::tungstenite::Error as WsError;

/// A server with the admin API, the crate's own sources as its static files, and the given
/// allowed origins and hosts.
async fn start(allow_origin: &[&str], allow_host: &[&str]) -> common::Server {
    common::start_with(Config {
        admin: true,
        static_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
        origins: Origins {
            allowed: allow_origin
                .iter()
                .map(|origin| origin.parse().expect("a pattern"))
                .collect(),
            unsafe_test: Vec::new(),
        },
        allowed_hosts: allow_host
            .iter()
            .map(|host| host.parse().expect("a host"))
            .collect(),
        ..Config::default()
    })
    .await
}

/// The statuses of a static file, the API, the admin API and `/healthz` asked for with
/// `Host: host`, as a page of that name would.
async fn statuses(server: &common::Server, host: &str) -> [u16; 4] {
    let key = server.state.admin_key().expect("the admin API is on");
    let origin = format!("http://{host}");
    let headers = [("host", host), ("origin", origin.as_str())];
    let with_key = [headers[0], headers[1], ("x-admin-key", key)];
    [
        server
            .request_with("GET", "/Cargo.toml", &headers, None)
            .await,
        server
            .request_with("GET", "/api/v1/generations/gen_none", &headers, None)
            .await,
        server
            .request_with("GET", "/admin/stats", &with_key, None)
            .await,
        server.request_with("GET", "/healthz", &headers, None).await,
    ]
    .map(|response| response.status)
}

/// The status of a WebSocket upgrade from a page of `host`; 101 if it opened.
async fn upgrade_status(server: &common::Server, host: &str) -> u16 {
    match server.connect_as(host).await {
        Ok(mut socket) => {
            assert!(matches!(
                socket.next_frame().await,
                ServerFrame::Connected { .. }
            ));
            101
        }
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP answer, got {other}"),
    }
}

#[tokio::test]
async fn a_page_of_a_name_rebound_to_the_server_is_refused_on_every_route_but_healthz() {
    let server = start(&[], &[]).await;
    let port = server.address.port();
    let rebound = format!("rebind.evil:{port}");

    assert_eq!(statuses(&server, &rebound).await, [403, 403, 403, 200]);
    assert_eq!(upgrade_status(&server, &rebound).await, 403);
}

#[tokio::test]
async fn loopback_names_ip_addresses_and_listed_names_are_answered() {
    let server = start(&["https://app.example"], &["jobs.example.com"]).await;
    let port = server.address.port();

    for name in [
        "127.0.0.1",
        "localhost",
        "demo.localhost",
        "[::1]",
        "10.0.0.7",
        "jobs.example.com",
        "app.example",
    ] {
        let host = format!("{name}:{port}");
        assert_eq!(
            statuses(&server, &host).await,
            [200, 404, 200, 200],
            "{host}"
        );
        assert_eq!(upgrade_status(&server, &host).await, 101, "{host}");
    }
}
