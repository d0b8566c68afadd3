//! The Socket.IO v4 dialect, frame by frame, against transcripts of the npm `socket.io` 4.8
//! server (captured with a raw `ws` client: the open packet, the CONNECT reply with its `pid`,
//! offsets on every event, a recovered session's missed events before the CONNECT reply).

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClientError, Config, DecodeError, DialectConfig, Event, GenerationEvent, JobEvent,
    RawJson, StateReason, Status,
};
use support::{Scenario, error_codes as errors, job_events};

const OPEN: &str = r#"0{"sid":"-Tqt0w3qnXOB2dujAAAA","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;
const CONNECTED: &str = r#"40{"sid":"NNf4eK2qbzRYjLn5AAAC","pid":"qtmgRhiYEpvBOknpAAAD"}"#;

/// ep-080's events, the socket in its user room by the server (nothing to send to subscribe).
fn ep_080() -> &'static str {
    r#"{"dialect":"socket.io","events":{
        "generation:queued":"generation.queued",
        "generation:progress":"generation.progress",
        "generation:complete":"generation.completed",
        "generation:error":"generation.error"}}"#
}

fn config(protocol: &str) -> Config {
    let mut config = support::config();
    config.url = "ws://jobs.test".to_owned();
    config.use_polling = false;
    config.jitter = false;
    config.protocol = DialectConfig::parse(protocol).expect("a valid protocol");
    config
}

/// A client of `protocol` with a token, through the handshake to an open session.
fn open(protocol: &str) -> (Scenario, jobsocket::core::SocketId) {
    let mut config = config(protocol);
    config.auth = true;
    let mut scenario = Scenario::with_config(config);
    scenario.connect();
    scenario.give_token(Ok("t1"));
    assert_eq!(
        scenario.pending_url(),
        "ws://jobs.test/socket.io/?EIO=4&transport=websocket"
    );
    let socket = scenario.accept();
    assert_eq!(
        scenario.client.status(),
        Status::Connecting,
        "handshake first"
    );
    scenario.server_sends_text(socket, OPEN);
    assert_eq!(scenario.take_sent_text(), vec![r#"40{"token":"t1"}"#]);
    scenario.server_sends_text(socket, CONNECTED);
    assert_eq!(scenario.client.status(), Status::Open);
    scenario.take_events();
    (scenario, socket)
}

#[test]
fn the_client_joins_with_its_token_after_the_open_packet_and_is_open_on_the_reply() {
    let (scenario, _) = open(ep_080());
    let state = scenario.client.state();
    assert_eq!(state.client_id.as_deref(), Some("NNf4eK2qbzRYjLn5AAAC"));
    assert_eq!(state.server_heartbeat_ms, Some(500));
    assert!(!state.recovered, "a first session recovers nothing");
}

#[test]
fn server_pings_are_answered_and_the_client_never_pings_for_an_hour() {
    let (mut scenario, socket) = open(ep_080());
    scenario.subscribe(Channel::Generation, "j1");
    for _ in 0..(3_600_000 / 300) {
        scenario.advance(Duration::from_millis(300));
        scenario.server_sends_text(socket, "2");
    }
    let sent = scenario.take_sent_text();
    assert_eq!(sent.len(), 12_000);
    assert!(sent.iter().all(|text| text == "3"), "only pongs");
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn silence_past_the_servers_interval_plus_timeout_is_a_dead_link() {
    let (mut scenario, socket) = open(ep_080());
    scenario.advance(Duration::from_millis(499));
    assert_eq!(scenario.client.status(), Status::Open);
    scenario.advance(Duration::from_millis(1));
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::HeartbeatTimeout)
    );
    assert_eq!(
        scenario.server.closed.last().map(|closed| closed.0),
        Some(socket)
    );
}

#[test]
fn a_connect_error_gets_one_fresh_token_then_the_client_stops_unauthorized() {
    let mut config = config(ep_080());
    config.auth = true;
    let mut scenario = Scenario::with_config(config);
    scenario.connect();
    for token in ["bad-1", "bad-2"] {
        if scenario.server.token_requests.is_empty() {
            // After a refusal, the fresh token waits out the backoff.
            let backoff = scenario.next_wake_in().expect("a retry is scheduled");
            scenario.advance(backoff);
        }
        scenario.give_token(Ok(token));
        let socket = scenario.accept();
        scenario.server_sends_text(socket, OPEN);
        assert_eq!(
            scenario.take_sent_text(),
            vec![format!(r#"40{{"token":"{token}"}}"#)]
        );
        scenario.server_sends_text(socket, r#"44{"message":"unauthorized"}"#);
    }
    let events = scenario.take_events();
    assert_eq!(
        errors(&events),
        ["connect_error", "connect_error", "unauthorized"]
    );
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::Unauthorized)
    );
    assert!(scenario.server.token_requests.is_empty(), "no third token");
}

#[test]
fn mapped_events_of_watched_jobs_arrive_typed_numbered_and_end_the_job() {
    let (mut scenario, socket) = open(ep_080());
    scenario.subscribe(Channel::Generation, "j1");
    assert!(
        scenario.take_sent_text().is_empty(),
        "the server's rooms: nothing to send"
    );
    for frame in [
        r#"42["generation:queued",{"jobId":"j1","position":2}]"#,
        r#"42["generation:progress",{"jobId":"j2","progress":10}]"#,
        r#"42["generation:progress",{"jobId":"j1","progress":10,"status":"processing"}]"#,
        r#"42["generation:complete",{"jobId":"j1","result":{"url":"/v.mp4","duration":4}}]"#,
    ] {
        scenario.server_sends_text(socket, frame);
    }
    let events = scenario.take_events();
    assert_eq!(
        job_events(&events),
        [
            ("j1".to_owned(), 1, "queued"),
            ("j1".to_owned(), 2, "progress"),
            ("j1".to_owned(), 3, "completed"),
        ],
        "j2 is nobody's: dropped"
    );
    let completed = events.iter().find_map(|event| match event {
        Event::Job(delivery) => match &delivery.event {
            JobEvent::Generation(GenerationEvent::Completed(result)) => Some(result.clone()),
            _ => None,
        },
        _ => None,
    });
    let completed = completed.expect("a completed event");
    assert_eq!(
        (completed.video_url.as_str(), completed.duration),
        ("/v.mp4", 4.0)
    );
    assert!(events.contains(&Event::SubscriptionEnded {
        channel: Channel::Generation,
        job_id: "j1".to_owned()
    }));
}

#[test]
fn subscribe_and_unsubscribe_emits_carry_the_configured_names_and_payloads() {
    let protocol = r#"{"dialect":"socket.io","namespace":"/jobs",
        "subscribe":{"event":"join","data":{"room":"{channel}:{id}"}},
        "unsubscribe":{"event":"leave","data":{"room":"{channel}:{id}"}}}"#;
    let mut scenario = Scenario::with_config(config(protocol));
    scenario.subscribe(Channel::Composition, "c\"1");
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, r#"40/jobs,{"sid":"s1"}"#);
    scenario.unsubscribe(Channel::Composition, "c\"1");
    assert_eq!(
        scenario.take_sent_text(),
        [
            "40/jobs,",
            r#"42/jobs,["join",{"room":"composition:c\"1"}]"#,
            r#"42/jobs,["leave",{"room":"composition:c\"1"}]"#,
        ]
    );
}

#[test]
fn outbox_messages_go_out_with_ack_ids_and_leave_the_outbox_on_the_ack() {
    let (mut scenario, socket) = open(ep_080());
    let data = RawJson::new(r#"{"text":"hi"}"#).expect("JSON");
    scenario.act(|client, now| {
        client.send(now, "send-chat", data.clone());
        client.send(now, "send-chat", data.clone());
    });
    assert_eq!(
        scenario.take_sent_text(),
        [
            r#"420["send-chat",{"text":"hi"}]"#,
            r#"421["send-chat",{"text":"hi"}]"#
        ]
    );
    scenario.server_sends_text(socket, r#"431[{"ok":true}]"#);
    assert_eq!(scenario.client.state().outbox_size, 1);
    scenario.server_sends_text(socket, r#"437[{"ok":true}]"#);
    assert_eq!(
        scenario.client.state().outbox_size,
        1,
        "an unknown ack id changes nothing"
    );
    scenario.server_sends_text(socket, "430[]");
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn an_unacked_message_goes_out_again_on_the_next_session_with_a_new_ack_id() {
    let (mut scenario, socket) = open(ep_080());
    let data = RawJson::new("1").expect("JSON");
    scenario.act(|client, now| {
        client.send(now, "note", data.clone());
    });
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    scenario.give_token(Ok("t2"));
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, CONNECTED);
    let sent = scenario.take_sent_text();
    assert_eq!(sent.last().map(String::as_str), Some(r#"421["note",1]"#));
    scenario.server_sends_text(socket, "431[]");
    assert_eq!(scenario.client.state().outbox_size, 0);
}

#[test]
fn a_recovered_session_gets_the_missed_events_once_in_order_and_says_so() {
    let (mut scenario, socket) = open(ep_080());
    scenario.subscribe(Channel::Generation, "j1");
    scenario.server_sends_text(
        socket,
        r#"42["generation:progress",{"jobId":"j1","progress":10},"Q8iLzYl"]"#,
    );
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    scenario.give_token(Ok("t2"));
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    assert_eq!(
        scenario.take_sent_text(),
        [r#"40{"pid":"qtmgRhiYEpvBOknpAAAD","offset":"Q8iLzYl","token":"t2"}"#]
    );
    // The missed events come before the CONNECT reply; they wait for it.
    scenario.server_sends_text(
        socket,
        r#"42["generation:progress",{"jobId":"j1","progress":20},"Q8iLzbw"]"#,
    );
    scenario.server_sends_text(
        socket,
        r#"42["generation:complete",{"jobId":"j1","result":{"url":"/v.mp4"}},"Q8iLzbw.0"]"#,
    );
    assert_eq!(scenario.client.status(), Status::Connecting);
    scenario.server_sends_text(socket, CONNECTED);
    assert!(scenario.client.state().recovered);
    let events = scenario.take_events();
    assert_eq!(
        job_events(&events),
        [
            ("j1".to_owned(), 1, "progress"),
            ("j1".to_owned(), 2, "progress"),
            ("j1".to_owned(), 3, "completed"),
        ]
    );
    assert!(errors(&events).iter().all(|code| code == "socket_closed"));
}

#[test]
fn a_session_the_server_did_not_recover_subscribes_again_and_forgets_the_offset() {
    let protocol =
        r#"{"dialect":"socket.io","subscribe":{"event":"subscribe","data":{"jobId":"{id}"}}}"#;
    let mut scenario = Scenario::with_config(config(protocol));
    scenario.subscribe(Channel::Generation, "j1");
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, CONNECTED);
    scenario.server_sends_text(socket, r#"42["other",{},"o1"]"#);
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, r#"40{"sid":"new","pid":"another"}"#);
    assert!(!scenario.client.state().recovered);
    assert_eq!(
        scenario.take_sent_text(),
        [
            "40",
            r#"42["subscribe",{"jobId":"j1"}]"#,
            r#"40{"pid":"qtmgRhiYEpvBOknpAAAD","offset":"o1"}"#,
            r#"42["subscribe",{"jobId":"j1"}]"#,
        ]
    );
}

#[test]
fn a_server_disconnect_stops_the_client_until_the_app_reconnects() {
    let (mut scenario, socket) = open(ep_080());
    scenario.server_sends_text(socket, "41");
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::ServerDisconnect)
    );
    assert!(errors(&scenario.take_events()).contains(&"server_disconnect".to_owned()));
    scenario.advance(Duration::from_secs(3600));
    assert!(
        scenario.server.pending_opens.is_empty(),
        "no retry on its own"
    );
    scenario.act(|client, now| client.reconnect(now));
    assert_eq!(
        scenario.server.token_requests.len(),
        1,
        "the app's reconnect starts again"
    );
}

#[test]
fn binary_packets_unknown_namespaces_and_bad_events_are_reported_and_the_link_kept() {
    let (mut scenario, socket) = open(ep_080());
    scenario.subscribe(Channel::Generation, "j1");
    for frame in [
        r#"451-["generation:progress",{"_placeholder":true,"num":0}]"#,
        r#"42/admin,["generation:progress",{"jobId":"j1"}]"#,
        r#"42["approval.created",{"id":"a1"}]"#,
        r#"42["generation:progress",{"jobId":"j1","progress":"half"}]"#,
        r#"42["generation:progress",{"progress":5}]"#,
        r#"42{"not":"an array"}"#,
        "9",
    ] {
        scenario.server_sends_text(socket, frame);
    }
    scenario.act(|client, now| client.handle_binary_frame(now, socket, 12));
    scenario.server_sends_text(
        socket,
        r#"42["generation:progress",{"jobId":"j1","progress":5}]"#,
    );
    let events = scenario.take_events();
    assert_eq!(
        errors(&events),
        [
            "binary_packet",
            "unknown_namespace",
            "unknown_event",
            "invalid_payload",
            "invalid_payload",
            "malformed_frame",
            "malformed_frame",
            "binary_frame",
        ]
    );
    assert_eq!(job_events(&events), [("j1".to_owned(), 1, "progress")]);
    assert_eq!(scenario.client.status(), Status::Open);
    let named = events.iter().find_map(|event| match event {
        Event::Error(ClientError::Decode(error @ DecodeError::UnknownNamespace { .. })) => {
            Some(error.to_string())
        }
        _ => None,
    });
    assert!(named.is_some_and(|message| message.contains("/admin")));
}

#[test]
fn a_server_event_asking_for_an_ack_gets_an_empty_one() {
    let (mut scenario, socket) = open(ep_080());
    scenario.server_sends_text(
        socket,
        r#"4212["generation:queued",{"jobId":"x","position":1}]"#,
    );
    assert_eq!(scenario.take_sent_text(), ["4312[]"]);
}

#[test]
fn the_url_path_names_the_namespace_and_the_query_is_kept() {
    let mut config = config(ep_080());
    config.url = "wss://api.test/tenant-a?region=eu".to_owned();
    let mut scenario = Scenario::with_config(config);
    scenario.connect();
    assert_eq!(
        scenario.pending_url(),
        "wss://api.test/socket.io/?EIO=4&transport=websocket&region=eu"
    );
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    assert_eq!(scenario.take_sent_text(), ["40/tenant-a,"]);
}

/// ep-080 with its own status endpoint, which speaks the same fields as its events.
fn with_status_endpoint() -> Config {
    let mut config = config(ep_080());
    config.use_polling = true;
    config.generation_url = "/api/generations/{id}/status".to_owned();
    config
}

#[test]
fn a_reconnection_the_server_did_not_recover_polls_each_job_once_to_fill_the_gap() {
    let mut scenario = Scenario::with_config(with_status_endpoint());
    scenario.subscribe(Channel::Generation, "j1");
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, CONNECTED);
    scenario.server_sends_text(
        socket,
        r#"42["generation:progress",{"jobId":"j1","progress":10},"o1"]"#,
    );
    assert!(
        scenario.server.polls.is_empty(),
        "a first session has no gap"
    );
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, r#"40{"sid":"new","pid":"another"}"#);
    assert_eq!(
        scenario.server.polled_urls,
        ["http://jobs.test/api/generations/j1/status"]
    );
    scenario.take_events();
    scenario.answer_poll(Ok(
        r#"{"status":"completed","progress":100,"result":{"url":"/v.mp4","duration":4}}"#,
    ));
    let events = scenario.take_events();
    assert_eq!(
        job_events(&events),
        [
            ("j1".to_owned(), 2, "progress"),
            ("j1".to_owned(), 3, "status_change"),
            ("j1".to_owned(), 4, "completed"),
        ]
    );
    assert!(events.contains(&Event::SubscriptionEnded {
        channel: Channel::Generation,
        job_id: "j1".to_owned()
    }));
}

#[test]
fn a_recovered_session_needs_no_poll() {
    let mut scenario = Scenario::with_config(with_status_endpoint());
    scenario.subscribe(Channel::Generation, "j1");
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, CONNECTED);
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let socket = scenario.accept();
    scenario.server_sends_text(socket, OPEN);
    scenario.server_sends_text(socket, CONNECTED);
    assert!(scenario.client.state().recovered);
    assert!(scenario.server.polled_urls.is_empty());
}

#[test]
fn polling_an_endpoint_of_the_same_fields_delivers_the_job_by_state_when_sockets_fail() {
    let mut config = with_status_endpoint();
    config.polling_after_failures = 1;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "j1");
    scenario.refuse();
    assert_eq!(scenario.client.status(), Status::Polling);
    scenario.answer_poll(Ok(
        r#"{"status":"processing","progress":40,"stage":"inference"}"#,
    ));
    scenario.advance_until_poll();
    scenario.answer_poll(Ok(
        r#"{"status":"processing","progress":40,"stage":"inference"}"#,
    ));
    scenario.advance_until_poll();
    scenario.answer_poll(Ok(r#"{"status":"failed","error":"GPU lost"}"#));
    let events = scenario.take_events();
    assert_eq!(
        job_events(&events),
        [
            ("j1".to_owned(), 1, "status_change"),
            ("j1".to_owned(), 2, "progress"),
            ("j1".to_owned(), 3, "status_change"),
            ("j1".to_owned(), 4, "error"),
        ],
        "the unchanged second snapshot says nothing"
    );
}

#[test]
fn frames_do_not_move_the_wake_up_time_the_window_runs_from_the_last_one_when_it_fires() {
    let (mut scenario, socket) = open(ep_080());
    let first = scenario.client.poll_timeout();
    scenario.advance(Duration::from_millis(100));
    scenario.server_sends_text(socket, "2");
    assert_eq!(
        scenario.client.poll_timeout(),
        first,
        "the driver's timer stays armed as it was"
    );
    scenario.advance(Duration::from_millis(400));
    assert_eq!(scenario.client.status(), Status::Open);
    assert_eq!(scenario.next_wake_in(), Some(Duration::from_millis(100)));
    scenario.advance(Duration::from_millis(100));
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::HeartbeatTimeout)
    );
}

#[test]
fn a_packet_whose_type_is_not_ascii_is_malformed_and_the_session_goes_on() {
    let (mut scenario, socket) = open(ep_080());
    scenario.server_sends_text(socket, "4é");
    scenario.server_sends_text(socket, "4\u{fffd}12[\"x\"]");
    assert_eq!(
        errors(&scenario.take_events()),
        ["malformed_frame", "malformed_frame"]
    );
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn an_ack_id_beyond_the_largest_safe_integer_is_malformed_and_not_answered() {
    let (mut scenario, socket) = open(ep_080());
    scenario.server_sends_text(
        socket,
        r#"4299999999999999999999999["generation:queued",{"jobId":"g1"}]"#,
    );
    scenario.server_sends_text(
        socket,
        r#"429007199254740992["generation:queued",{"jobId":"g1"}]"#,
    );
    assert_eq!(
        errors(&scenario.take_events()),
        ["malformed_frame", "malformed_frame"]
    );
    assert!(
        scenario.take_sent_text().is_empty(),
        "no answer to an id it cannot hold"
    );
    // The largest safe id is answered.
    scenario.server_sends_text(
        socket,
        r#"429007199254740991["generation:queued",{"jobId":"g1"}]"#,
    );
    assert_eq!(scenario.take_sent_text(), ["439007199254740991[]"]);
}
