//! `POST /api/v1/messages`: the outbox's messages over HTTP, from a client that polls because
//! its network blocks WebSockets. A message id is handled once, whether it came over HTTP, over
//! a socket or both, and through whichever instance; every message taken is acked.

mod common;

use common::redis::{Instance, Redis};
use jobsocket::core::protocol::{ClientFrame, RawJson, ServerFrame};
use jobsocket_server::Config;
use jobsocket_server::limits::MAX_CLIENT_FRAME_BYTES;
use jobsocket_server::messages::MAX_ID_BYTES;
use serde_json::{Value, json};

/// Leases short enough that nothing waits on them, long enough for a loaded machine to renew.
const LEASE_MS: u64 = 600;

const PATH: &str = "/api/v1/messages";

/// The body of message `id`: a `message` frame without its `type`.
fn body(id: &str) -> String {
    json!({"id": id, "event": "note", "data": {"text": "hello"}}).to_string()
}

/// A body of exactly `bytes` bytes, most of them in `data`.
fn body_of_size(bytes: usize) -> String {
    let (start, end) = (r#"{"id":"m_big","event":"note","data":""#, r#""}"#);
    let padding = "x".repeat(bytes - start.len() - end.len());
    format!("{start}{padding}{end}")
}

async fn post(server: &common::Server, path: &str, id: &str) -> common::Response {
    server.request("POST", path, Some(&body(id))).await
}

/// Posts message `id` to `path`; fails the test unless it is acked.
async fn post_acked(server: &common::Server, path: &str, id: &str) {
    let response = post(server, path, id).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json(), json!({"type": "ack", "id": id}));
}

/// Sends message `id` over a new socket; fails the test unless it is acked.
async fn send_acked(server: &common::Server, id: &str) {
    let mut socket = server.socket().await;
    socket
        .send(&ClientFrame::Message {
            id: id.to_owned(),
            event: "note".to_owned(),
            data: RawJson::new(r#"{"text":"hello"}"#).expect("valid JSON"),
        })
        .await;
    assert_eq!(
        socket.next_frame().await,
        ServerFrame::Ack { id: id.to_owned() }
    );
}

/// Fails the test unless `response` is the error `status` with `code`.
fn assert_refused(response: &common::Response, status: u16, code: &str, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", response.body);
    let body = response.json();
    assert_eq!(body["type"], "error", "{what}");
    assert_eq!(body["code"], code, "{what}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}"
    );
}

/// `handled_messages` and `acked_messages` of `stats`.
fn handled_and_acked(stats: &Value) -> (u64, u64) {
    let count = |name: &str| stats[name].as_u64().expect("a counter");
    (count("handled_messages"), count("acked_messages"))
}

#[tokio::test]
async fn a_message_posted_once_is_acked_and_handled() {
    let server = common::start_admin().await;

    post_acked(&server, PATH, "m_1").await;

    assert_eq!(handled_and_acked(&server.stats().await), (1, 1));
    assert_eq!(server.state.handled_messages(), 1);
}

#[tokio::test]
async fn a_message_posted_twice_is_acked_twice_and_handled_once() {
    let server = common::start_admin().await;

    post_acked(&server, PATH, "m_1").await;
    post_acked(&server, PATH, "m_1").await;

    assert_eq!(handled_and_acked(&server.stats().await), (1, 2));
}

#[tokio::test]
async fn a_message_posted_then_resent_over_a_socket_is_handled_once_in_total() {
    let server = common::start_admin().await;

    post_acked(&server, PATH, "m_1").await;
    send_acked(&server, "m_1").await;

    assert_eq!(handled_and_acked(&server.stats().await), (1, 2));
}

#[tokio::test]
async fn a_message_sent_over_a_socket_then_posted_is_handled_once_in_total() {
    let server = common::start_admin().await;

    send_acked(&server, "m_1").await;
    post_acked(&server, PATH, "m_1").await;

    assert_eq!(handled_and_acked(&server.stats().await), (1, 2));
}

#[tokio::test]
async fn a_malformed_message_body_answers_400_and_nothing_is_handled() {
    let server = common::start_admin().await;

    for bad in [
        "",
        "not json",
        r#"{"id":"m_1","event":"note""#,
        r#"{"event":"note","data":1}"#,
        r#"{"id":"m_1","data":1}"#,
        r#"{"id":7,"event":"note"}"#,
        r#"{"id":"m_1","event":["note"]}"#,
    ] {
        let response = server.request("POST", PATH, Some(bad)).await;
        assert_refused(&response, 400, "bad_request", bad);
    }

    assert_eq!(handled_and_acked(&server.stats().await), (0, 0));
}

#[tokio::test]
async fn a_message_id_over_the_limit_answers_400_and_is_not_handled() {
    let server = common::start_admin().await;
    let longest = "m".repeat(MAX_ID_BYTES);
    let too_long = "m".repeat(MAX_ID_BYTES + 1);

    let refused = post(&server, PATH, &too_long).await;
    assert_refused(&refused, 400, "bad_request", "an id one byte too long");
    assert_eq!(handled_and_acked(&server.stats().await), (0, 0));

    post_acked(&server, PATH, &longest).await;
    assert_eq!(handled_and_acked(&server.stats().await), (1, 1));
}

#[tokio::test]
async fn a_message_body_over_the_frame_limit_answers_413_and_is_not_handled() {
    let server = common::start_admin().await;

    let too_large = body_of_size(MAX_CLIENT_FRAME_BYTES + 1);
    let refused = server.request("POST", PATH, Some(&too_large)).await;
    assert_refused(&refused, 413, "too_large", "a body one byte too large");
    assert_eq!(handled_and_acked(&server.stats().await), (0, 0));

    let largest = body_of_size(MAX_CLIENT_FRAME_BYTES);
    let taken = server.request("POST", PATH, Some(&largest)).await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    assert_eq!(handled_and_acked(&server.stats().await), (1, 1));
}

#[tokio::test]
async fn with_a_token_a_message_post_needs_it_as_a_bearer_header_or_in_the_query() {
    let server = common::start_with(Config {
        token: Some("s3cr&t".to_owned()),
        ..Config::default()
    })
    .await;

    assert_refused(
        &post(&server, PATH, "m_1").await,
        401,
        "unauthorized",
        "none",
    );
    let wrong = [("authorization", "Bearer s3cr")];
    let refused = server
        .request_with("POST", PATH, &wrong, Some(&body("m_1")))
        .await;
    assert_refused(&refused, 401, "unauthorized", "a wrong token");
    assert_eq!(server.state.handled_messages(), 0);

    let bearer = [("authorization", "Bearer s3cr&t")];
    let taken = server
        .request_with("POST", PATH, &bearer, Some(&body("m_1")))
        .await;
    assert_eq!(taken.status, 200, "{}", taken.body);
    post_acked(&server, &format!("{PATH}?token=s3cr%26t"), "m_2").await;
    assert_eq!(server.state.handled_messages(), 2);
}

#[tokio::test]
async fn while_fail_messages_is_on_a_post_answers_503_and_nothing_is_handled() {
    let server = common::start_admin().await;

    server.switch("fail-messages", true).await;
    let refused = post(&server, PATH, "m_1").await;
    assert_refused(&refused, 503, "unavailable", "fail-messages on");
    assert_eq!(handled_and_acked(&server.stats().await), (0, 0));
    // Only HTTP deliveries fail: a socket's message is still taken.
    send_acked(&server, "m_2").await;

    server.switch("fail-messages", false).await;
    post_acked(&server, PATH, "m_1").await;
    assert_eq!(handled_and_acked(&server.stats().await), (2, 2));
}

#[tokio::test]
async fn fail_messages_and_the_counters_stay_in_the_scope_the_post_names() {
    let server = common::start_admin().await;
    let on = Some(r#"{"on":true}"#);
    server
        .admin("POST", "/admin/fail-messages?scope=t1", on)
        .await;

    let refused = post(&server, &format!("{PATH}?scope=t1"), "m_1").await;
    assert_refused(&refused, 503, "unavailable", "fail-messages on in t1");
    post_acked(&server, &format!("{PATH}?scope=t2"), "m_1").await;
    post_acked(&server, PATH, "m_2").await;

    let stats = |scope: &'static str| server.admin("GET", scope, None);
    assert_eq!(
        handled_and_acked(&stats("/admin/stats?scope=t1").await),
        (0, 0)
    );
    assert_eq!(
        handled_and_acked(&stats("/admin/stats?scope=t2").await),
        (1, 1)
    );
    assert_eq!(handled_and_acked(&stats("/admin/stats").await), (1, 1));
}

#[tokio::test]
async fn a_message_posted_to_one_instance_and_resent_to_the_other_is_handled_once() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    let b = Instance::start(&redis, "b", 5, LEASE_MS).await;

    post_acked(&a.server, PATH, "m_resent").await;
    post_acked(&b.server, PATH, "m_resent").await;
    send_acked(&b.server, "m_resent").await;

    assert_eq!(handled_and_acked(&a.server.stats().await), (1, 1));
    assert_eq!(handled_and_acked(&b.server.stats().await), (0, 2));
}

#[tokio::test]
async fn with_redis_unreachable_a_post_answers_503_and_is_not_acked() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    drop(redis);

    let refused = post(&a.server, PATH, "m_1").await;

    assert_refused(&refused, 503, "unavailable", "Redis gone");
    assert_eq!(handled_and_acked(&a.server.stats().await), (0, 0));
}
