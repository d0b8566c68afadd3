//! Who may call the admin API: only a caller that knows the admin key, sent in the
//! `x-admin-key` header, which a page of another site can neither read nor send (the admin
//! routes answer no CORS), so it cannot drop the sockets of a `make demo` server.

mod common;

use jobsocket_server::{Config, Origins};

const EVIL: &str = "https://evil.example";

#[tokio::test]
async fn an_admin_request_without_the_admin_key_answers_401() {
    let server = common::start_admin().await;

    for headers in [&[][..], &[("x-admin-key", "guess")][..]] {
        for (method, path) in [("POST", "/admin/drop"), ("GET", "/admin/stats")] {
            let response = server.request_with(method, path, headers, Some("{}")).await;
            assert_eq!(response.status, 401, "{method} {path} {headers:?}");
            assert_eq!(response.json()["code"], "unauthorized");
        }
    }
}

#[tokio::test]
async fn the_admin_routes_answer_no_cors_to_another_site() {
    let server = common::start_admin().await;

    let preflight = server
        .request_with(
            "OPTIONS",
            "/admin/drop",
            &[
                ("origin", EVIL),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-admin-key,content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    let simple = server
        .request_with("POST", "/admin/drop", &[("origin", EVIL)], Some("{}"))
        .await;
    assert_eq!(simple.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_api_answers_cors_to_its_own_origin_list_only() {
    let server = common::start(1).await;

    let response = server
        .request_with("POST", "/api/v1/generations", &[("origin", EVIL)], None)
        .await;
    assert_eq!(response.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_configured_admin_key_is_the_one_wanted() {
    let server = common::start_with(Config {
        admin: true,
        admin_key: Some("k3y".to_owned()),
        ..Config::default()
    })
    .await;

    let keyed = [("x-admin-key", "k3y")];
    let response = server
        .request_with("GET", "/admin/stats", &keyed, None)
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(server.state.admin_key(), Some("k3y"));
}

#[tokio::test]
async fn an_unsafe_test_origin_gets_cors_on_the_admin_routes_and_still_needs_the_key() {
    let runner = "http://127.0.0.1:4711";
    let server = common::start_for_test_runners().await;

    let preflight = server
        .request_with(
            "OPTIONS",
            "/admin/drop",
            &[
                ("origin", runner),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "x-admin-key,content-type"),
            ],
            None,
        )
        .await;
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(runner)
    );
    let unkeyed = server
        .request_with("POST", "/admin/drop", &[("origin", runner)], Some("{}"))
        .await;
    assert_eq!(unkeyed.status, 401);
    let api = server
        .request_with("POST", "/api/v1/generations", &[("origin", runner)], None)
        .await;
    assert_eq!(api.header("access-control-allow-origin"), Some(runner));
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_on_the_api_but_not_on_the_admin_routes() {
    let app = "https://app.example";
    let server = common::start_with(Config {
        admin: true,
        origins: Origins {
            allowed: vec![app.parse().expect("a pattern")],
            unsafe_test: Vec::new(),
        },
        ..Config::default()
    })
    .await;

    let api = server
        .request_with("POST", "/api/v1/generations", &[("origin", app)], None)
        .await;
    assert_eq!(api.header("access-control-allow-origin"), Some(app));
    let admin = server.admin_request("GET", "/admin/stats", None).await;
    assert_eq!(admin.status, 200);
    let cross = server
        .request_with("GET", "/admin/stats", &[("origin", app)], None)
        .await;
    assert_eq!(cross.header("access-control-allow-origin"), None);
}
