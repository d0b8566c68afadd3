//! Scenarios of the outbox over HTTP while polling, with fake time: behind a network that
//! blocks WebSockets, messages are POSTed to the message endpoint one at a time and in order,
//! retried with backoff, acked by a 2xx, dropped by another 4xx, with the token as a bearer;
//! and when the socket comes back mid-send, no message is in flight on both transports and none
//! is sent again once HTTP acked it.

mod support;

use std::time::Duration;

use jobsocket::core::outbox::DropReason;
use jobsocket::core::{Channel, Config, RawJson, Status};
use support::{Scenario, connected, sent_ids};

fn no_jitter() -> Config {
    let mut config = support::config();
    config.jitter = false;
    config
}

/// A client that watches a job and polls: its sockets failed until it fell back.
fn polling(config: Config) -> Scenario {
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    while scenario.client.status() != Status::Polling {
        if scenario.server.pending_opens.is_empty() {
            while !scenario.server.token_requests.is_empty() {
                scenario.give_token(Ok("t1"));
            }
            let wait = scenario.next_wake_in().expect("a retry is scheduled");
            scenario.advance(wait);
            continue;
        }
        scenario.refuse();
    }
    scenario
}

fn send(scenario: &mut Scenario, n: u32) -> String {
    let mut id = String::new();
    let data = RawJson::new(format!(r#"{{"n":{n}}}"#)).unwrap();
    scenario.act(|client, now| id = client.send(now, "note", data));
    id
}

/// The id in a posted body.
fn id_of(body: &str) -> String {
    jobsocket::core::json::parse(body)
        .expect("a JSON body")
        .get("id")
        .and_then(|id| id.as_str().map(str::to_owned))
        .expect("an id")
}

/// The token the next poll carries.
fn next_poll_token(scenario: &mut Scenario) -> Option<String> {
    scenario.advance_until_poll();
    scenario.server.poll_tokens.last().cloned().flatten()
}

/// A polling client whose first message is under way over HTTP when a socket probe opens and
/// the server greets it; with that message's id.
fn socket_back_during_a_post() -> (Scenario, String) {
    let mut scenario = polling(no_jitter());
    let first = send(&mut scenario, 1);
    scenario.advance_until_probe();
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    (scenario, first)
}

#[test]
fn messages_sent_while_polling_are_posted_one_at_a_time_in_order_and_a_2xx_acks_each() {
    let mut scenario = polling(no_jitter());
    let ids: Vec<String> = (1..=3).map(|n| send(&mut scenario, n)).collect();
    assert_eq!(scenario.server.posts.len(), 1, "one at a time");
    let (_, url, body, token) = scenario.server.posts[0].clone();
    assert_eq!(url, "http://jobs.test/api/v1/messages");
    assert_eq!(
        body,
        format!(r#"{{"id":"{}","event":"note","data":{{"n":1}}}}"#, ids[0])
    );
    assert_eq!(token, None, "no auth configured");
    let mut acked = Vec::new();
    while !scenario.server.posts.is_empty() {
        acked.push(id_of(&scenario.answer_post(Ok(201))));
    }
    assert_eq!(acked, ids);
    assert_eq!(scenario.client.state().outbox_size, 0);
    let stored = scenario.storage.outbox.clone().expect("stored");
    assert!(
        !stored.contains("m_"),
        "nothing left to send after a reload: {stored}"
    );
    assert!(scenario.take_received().is_empty(), "nothing over a socket");
}

#[test]
fn a_failed_post_is_retried_after_a_backoff_and_counts_toward_the_retries() {
    let mut scenario = polling(no_jitter());
    let id = send(&mut scenario, 1);
    scenario.answer_post(Ok(503));
    assert!(scenario.server.posts.is_empty(), "not retried at once");
    scenario.advance(Duration::from_millis(999));
    assert!(
        scenario.server.posts.is_empty(),
        "waits out the backoff (1 s)"
    );
    scenario.advance(Duration::from_millis(1));
    assert_eq!(id_of(&scenario.server.posts[0].2), id);
    scenario.answer_post(Err("Failed to fetch"));
    // The third and fourth attempts fail too: 1 + outboxMaxRetries (3) sends in all.
    for _ in 0..2 {
        let wait = scenario.next_wake_in().expect("a retry");
        scenario.advance(wait);
        while scenario.server.posts.is_empty() {
            let wait = scenario.next_wake_in().expect("a retry");
            scenario.advance(wait);
        }
        scenario.answer_post(Ok(500));
    }
    assert_eq!(scenario.server.posted.len(), 4);
    while scenario.client.state().outbox_size > 0 {
        let wait = scenario.next_wake_in().expect("the drop is due");
        scenario.advance(wait);
    }
    assert!(scenario.server.posts.is_empty());
    assert_eq!(scenario.server.posted.len(), 4, "no fifth send");
    assert_eq!(
        support::outbox_drops(&scenario.take_events()),
        vec![(id, DropReason::RetriesExhausted)]
    );
}

#[test]
fn a_4xx_drops_the_message_as_rejected_and_the_next_one_goes_on() {
    let mut scenario = polling(no_jitter());
    let first = send(&mut scenario, 1);
    let second = send(&mut scenario, 2);
    scenario.take_events();
    scenario.answer_post(Ok(422));
    let events = scenario.take_events();
    assert_eq!(
        support::outbox_drops(&events),
        vec![(first, DropReason::Rejected)]
    );
    assert_eq!(support::error_codes(&events), ["message_rejected"]);
    assert_eq!(id_of(&scenario.answer_post(Ok(200))), second);
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn the_token_goes_with_posts_and_polls_and_a_refused_one_is_refreshed_once() {
    let mut config = no_jitter();
    config.auth = true;
    let mut scenario = polling(config);
    assert!(
        scenario
            .server
            .poll_tokens
            .iter()
            .all(|token| token.as_deref() == Some("t1")),
        "polls carry the token: {:?}",
        scenario.server.poll_tokens
    );
    let id = send(&mut scenario, 1);
    assert_eq!(scenario.server.posts[0].3.as_deref(), Some("t1"));
    scenario.answer_post(Ok(401));
    assert!(scenario.server.posts.is_empty(), "a fresh token first");
    scenario.give_token(Ok("t2"));
    assert_eq!(scenario.server.posts[0].3.as_deref(), Some("t2"));
    scenario.take_events();
    scenario.answer_post(Ok(403));
    let events = scenario.take_events();
    assert_eq!(support::error_codes(&events), ["unauthorized"]);
    assert!(
        support::outbox_drops(&events).is_empty(),
        "the message waits"
    );
    assert!(scenario.server.token_requests.is_empty(), "asked once only");
    while scenario.server.posts.is_empty() {
        let wait = scenario.next_wake_in().expect("a retry");
        scenario.advance(wait);
    }
    assert_eq!(id_of(&scenario.answer_post(Ok(200))), id);
}

#[test]
fn a_client_that_only_polls_asks_a_token_for_its_http_requests() {
    let mut config = no_jitter();
    config.auth = true;
    config.use_websocket = false;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(scenario.client.status(), Status::Polling);
    send(&mut scenario, 1);
    assert!(scenario.server.posts.is_empty(), "waits for the token");
    scenario.give_token(Ok("t9"));
    assert_eq!(scenario.server.posts[0].3.as_deref(), Some("t9"));
    // The first poll left before the token came; the next carries it.
    scenario.answer_poll(Err("HTTP 503"));
    assert_eq!(next_poll_token(&mut scenario).as_deref(), Some("t9"));
}

#[test]
fn the_socket_waits_for_the_post_under_way_and_never_sends_what_http_acked() {
    let mut scenario = polling(no_jitter());
    let first = send(&mut scenario, 1);
    let second = send(&mut scenario, 2);
    scenario.advance_until_probe();
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    assert!(
        sent_ids(&scenario.take_received()).is_empty(),
        "nothing on the socket while the first message is in flight over HTTP"
    );
    assert_eq!(id_of(&scenario.answer_post(Ok(200))), first);
    assert_eq!(sent_ids(&scenario.take_received()), vec![second.clone()]);
    assert!(
        scenario.server.posts.is_empty(),
        "the rest went on the socket"
    );
    assert_eq!(scenario.server.posted.len(), 1);
}

#[test]
fn a_post_that_fails_as_the_socket_returns_goes_out_on_the_socket_once() {
    let (mut scenario, first) = socket_back_during_a_post();
    scenario.answer_post(Err("Failed to fetch"));
    assert_eq!(sent_ids(&scenario.take_received()), vec![first]);
    assert!(scenario.server.posts.is_empty());
    assert_eq!(scenario.server.posted.len(), 1);
}

#[test]
fn an_ack_that_comes_after_the_socket_took_over_removes_the_message_without_a_resend() {
    let (mut scenario, first) = socket_back_during_a_post();
    // The subscriptions are confirmed, polling ends; the POST is still under way.
    assert_eq!(scenario.client.status(), Status::Open);
    assert_eq!(id_of(&scenario.answer_post(Ok(200))), first);
    assert!(sent_ids(&scenario.take_received()).is_empty());
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn an_app_can_keep_messages_for_the_socket() {
    let mut config = no_jitter();
    config.messages_url = None;
    let mut scenario = polling(config);
    send(&mut scenario, 1);
    scenario.advance(Duration::from_secs(30));
    assert!(scenario.server.posted.is_empty());
    assert_eq!(scenario.client.state().outbox_size, 1);
}

#[test]
fn an_absolute_message_url_is_used_as_it_is() {
    let mut config = no_jitter();
    config.messages_url = Some("https://api.test/v2/inbox".to_owned());
    let mut scenario = polling(config);
    send(&mut scenario, 1);
    assert_eq!(scenario.server.posts[0].1, "https://api.test/v2/inbox");
}

#[test]
fn a_poll_refused_with_401_asks_a_fresh_token_for_the_next_requests() {
    let mut config = no_jitter();
    config.auth = true;
    let mut scenario = polling(config);
    scenario.answer_poll(Err("HTTP 401"));
    scenario.give_token(Ok("t2"));
    assert_eq!(next_poll_token(&mut scenario).as_deref(), Some("t2"));
}

#[test]
fn a_message_cleared_while_its_post_is_under_way_is_reported_dropped_once() {
    let mut scenario = polling(no_jitter());
    let id = send(&mut scenario, 1);
    scenario.take_events();
    scenario.act(|client, now| client.clear_outbox(now));
    scenario.answer_post(Ok(422));
    let events = scenario.take_events();
    assert_eq!(
        support::outbox_drops(&events),
        vec![(id, DropReason::Cleared)]
    );
    assert!(support::error_codes(&events).is_empty(), "{events:?}");
}
