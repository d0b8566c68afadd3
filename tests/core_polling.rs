//! Scenarios of the polling fallback, with fake time: when the socket keeps failing (or keeps
//! dying right after opening, or does not exist), job events come from the REST status
//! endpoints, once each, while the socket is probed; once a socket is back and confirms every
//! subscription, it takes over with no gap and no duplicate.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClientError, ClientFrame, Config, Event, JobDelivery, ServerFrame, StateChange,
    StateReason, Status,
};
use support::{Scenario, connected};

const SECOND: Duration = Duration::from_secs(1);

fn no_jitter() -> Config {
    let mut config = support::config();
    config.jitter = false;
    config
}

/// Fails attempts until the client polls; returns how many attempts failed.
fn fail_until_polling(scenario: &mut Scenario) -> usize {
    let mut failed = 0;
    while scenario.client.status() != Status::Polling {
        assert!(failed < 20, "never fell back to polling");
        scenario.refuse();
        failed += 1;
        if scenario.client.status() == Status::Polling {
            break;
        }
        let wait = scenario.next_wake_in().expect("a retry is scheduled");
        scenario.advance(wait);
    }
    failed
}

fn generation(status: &str, clips: usize, percentage: f64, seq: u64) -> String {
    let clips: Vec<String> = (1..=clips)
        .map(|n| {
            format!(r#"{{"clip_id":"gen_1_clip_{n}","thumbnail_url":"/t/{n}.svg","duration":4.0}}"#)
        })
        .collect();
    let result = if status == "completed" {
        r#"{"video_url":"/v.mp4","thumbnail_url":"/t/1.svg","duration":8.0}"#
    } else {
        "null"
    };
    format!(
        r#"{{"id":"gen_1","status":"{status}","progress":{{"percentage":{percentage},"step":"rendering","clip_number":1,"total_clips":2,"message":""}},"clips":[{}],"result":{result},"error":null,"seq":{seq}}}"#,
        clips.join(",")
    )
}

/// The server's answer to a `subscribe` for `id`.
fn subscribed(id: &str, seq: u64) -> ServerFrame {
    ServerFrame::Subscribed {
        channel: Channel::Generation,
        id: id.to_owned(),
        seq,
    }
}

fn delivered(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Job(JobDelivery { event, .. }) => Some(event.name()),
            _ => None,
        })
        .collect()
}

fn polling_scenario() -> Scenario {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    fail_until_polling(&mut scenario);
    scenario
}

#[test]
fn five_failed_attempts_in_a_row_switch_to_polling() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(fail_until_polling(&mut scenario), 5);
    let state = scenario.client.state();
    assert_eq!(state.status, Status::Polling);
    assert_eq!(state.reason, Some(StateReason::PollingFallback));
    assert_eq!(state.transport, Some("polling"));
    assert_eq!(
        scenario.server.polled_urls,
        vec!["http://jobs.test/api/v1/generations/gen_1".to_owned()],
        "the first poll goes out at once, relative to the server's origin"
    );
}

#[test]
fn a_socket_that_keeps_dying_right_after_opening_switches_to_polling() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    for _ in 0..3 {
        assert_ne!(scenario.client.status(), Status::Polling);
        let socket = scenario.accept();
        scenario.advance(SECOND); // well under the 5 s minimum uptime
        scenario.socket_closes(socket, 1006, "");
        let wait = scenario.next_wake_in().unwrap();
        if scenario.client.status() == Status::Polling {
            break;
        }
        scenario.advance(wait);
    }
    assert_eq!(scenario.client.status(), Status::Polling);
}

#[test]
fn each_watched_job_is_polled_every_five_seconds_while_polling() {
    let mut scenario = polling_scenario();
    scenario.answer_poll(Ok(&generation("processing", 0, 10.0, 3)));
    assert!(scenario.server.polls.is_empty());
    scenario.advance(Duration::from_millis(4_999));
    assert!(scenario.server.polls.is_empty());
    scenario.advance(Duration::from_millis(1));
    assert_eq!(scenario.server.polls.len(), 1);
}

#[test]
fn snapshots_become_the_same_typed_events_and_nothing_is_delivered_twice() {
    let mut scenario = polling_scenario();
    scenario.take_events();
    scenario.answer_poll(Ok(&generation("processing", 1, 50.0, 7)));
    assert_eq!(
        delivered(&scenario.take_events()),
        vec!["status_change", "clip_completed", "progress"]
    );
    scenario.advance(5 * SECOND);
    scenario.answer_poll(Ok(&generation("processing", 1, 50.0, 7)));
    assert!(
        delivered(&scenario.take_events()).is_empty(),
        "the same snapshot again"
    );
    scenario.advance(5 * SECOND);
    scenario.answer_poll(Ok(&generation("completed", 2, 100.0, 12)));
    assert_eq!(
        delivered(&scenario.take_events()),
        vec!["clip_completed", "progress", "status_change", "completed"]
    );
}

#[test]
fn polling_a_job_stops_at_its_terminal_status() {
    let mut scenario = polling_scenario();
    scenario.answer_poll(Ok(&generation("completed", 2, 100.0, 12)));
    assert!(scenario.take_events().contains(&Event::SubscriptionEnded {
        channel: Channel::Generation,
        job_id: "gen_1".to_owned()
    }));
    scenario.advance(60 * SECOND);
    assert!(
        scenario.server.polls.is_empty(),
        "no more polls for a finished job"
    );
}

#[test]
fn a_failed_poll_is_retried_with_backoff_three_times_then_reported_and_polling_goes_on() {
    let mut scenario = polling_scenario();
    scenario.take_events();
    scenario.answer_poll(Err("HTTP 503"));
    for wait in [1, 2, 4] {
        assert_eq!(scenario.advance_until_poll(), Duration::from_secs(wait));
        scenario.answer_poll(Err("HTTP 503"));
    }
    let events = scenario.take_events();
    assert!(events.iter().any(|event| matches!(
        event,
        Event::Error(ClientError::PollFailed { reason, .. }) if reason == "HTTP 503"
    )));
    assert_eq!(scenario.client.status(), Status::Polling);
    assert_eq!(scenario.advance_until_poll(), 5 * SECOND);
    scenario.answer_poll(Ok(&generation("processing", 0, 10.0, 3)));
    assert!(
        !delivered(&scenario.take_events()).is_empty(),
        "polling goes on"
    );
}

#[test]
fn the_socket_is_probed_while_polling_with_the_wait_capped_at_thirty_seconds() {
    let mut scenario = polling_scenario();
    let mut waits = Vec::new();
    for _ in 0..4 {
        waits.push(scenario.advance_until_probe());
        scenario.answer_all_polls(&generation("processing", 0, 10.0, 3));
        scenario.refuse();
    }
    // Without jitter the probe ladder goes on doubling past 16 s, up to 30 s.
    assert_eq!(
        waits,
        vec![16 * SECOND, 30 * SECOND, 30 * SECOND, 30 * SECOND]
    );
}

#[test]
fn a_confirmed_socket_ends_polling_and_continues_right_after_the_last_snapshot() {
    let mut scenario = polling_scenario();
    scenario.server.hold_confirmations = true;
    scenario.answer_poll(Ok(&generation("processing", 1, 50.0, 7)));
    scenario.take_events();
    scenario.advance_until_probe();
    scenario.answer_all_polls(&generation("processing", 1, 50.0, 7));
    scenario.take_received();
    let socket = scenario.accept();
    assert_eq!(
        scenario.take_received(),
        vec![ClientFrame::Subscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
            since: Some(7)
        }]
    );
    assert_eq!(
        scenario.client.status(),
        Status::Polling,
        "not before it is confirmed"
    );
    scenario.server_sends(socket, &connected());
    scenario.server_sends(socket, &subscribed("gen_1", 7));
    let state = scenario.client.state();
    assert_eq!(state.status, Status::Open);
    assert_eq!(state.reason, Some(StateReason::WebSocketRestored));
    assert_eq!(state.transport, Some("websocket"));
    let polled = scenario.server.polled_urls.len();
    scenario.advance(60 * SECOND);
    assert_eq!(
        scenario.server.polled_urls.len(),
        polled,
        "no poll after the socket took over"
    );
}

#[test]
fn the_polling_transport_alone_never_opens_a_socket() {
    let mut config = support::config();
    config.use_websocket = false;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(scenario.client.status(), Status::Polling);
    assert_eq!(scenario.server.polls.len(), 1);
    scenario.advance(Duration::from_secs(120));
    assert!(scenario.server.pending_opens.is_empty());
}

#[test]
fn a_browser_without_websocket_polls() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.act(|client, now| client.handle_websocket_unavailable(now));
    assert_eq!(scenario.client.status(), Status::Polling);
    assert!(!scenario.server.polls.is_empty());
}

#[test]
fn the_websocket_transport_alone_never_polls() {
    let mut config = no_jitter();
    config.use_polling = false;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    for _ in 0..10 {
        scenario.refuse();
        let wait = scenario.next_wake_in().unwrap();
        scenario.advance(wait);
    }
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert!(scenario.server.polled_urls.is_empty());
}

#[test]
fn without_a_message_endpoint_outbox_messages_wait_for_the_socket_while_polling() {
    let mut config = no_jitter();
    config.messages_url = None;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    fail_until_polling(&mut scenario);
    let mut id = String::new();
    scenario.act(|client, now| {
        id = client.send(now, "cancel", jobsocket::core::RawJson::new("{}").unwrap())
    });
    assert_eq!(scenario.client.state().outbox_size, 1);
    assert!(scenario.take_received().is_empty(), "not sent over polling");
    assert!(scenario.server.posted.is_empty(), "nor over HTTP");
    scenario.advance_until_probe();
    scenario.answer_all_polls(&generation("processing", 0, 10.0, 3));
    scenario.take_received();
    scenario.accept();
    assert!(
        scenario
            .take_received()
            .iter()
            .any(|frame| matches!(frame, ClientFrame::Message { id: sent, .. } if *sent == id))
    );
}

#[test]
fn a_subscription_made_while_polling_is_polled_at_once_with_its_id_encoded() {
    let mut scenario = polling_scenario();
    scenario.answer_all_polls(&generation("processing", 0, 10.0, 3));
    scenario.subscribe(Channel::Composition, "comp 1/x");
    assert_eq!(
        scenario.server.polled_urls.last().map(String::as_str),
        Some("http://jobs.test/api/v1/compositions/comp%201%2Fx")
    );
}

/// The status changes among `events`, in order.
fn changes(events: &[Event]) -> Vec<StateChange> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::StateChanged(change) => Some(*change),
            _ => None,
        })
        .collect()
}

#[test]
fn falling_back_to_polling_and_back_to_the_socket_are_both_announced() {
    let mut config = no_jitter();
    config.polling_after_failures = 1;
    let mut scenario = Scenario::with_config(config);
    scenario.server.hold_confirmations = true;
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_events();
    scenario.refuse();
    assert_eq!(
        changes(&scenario.take_events()),
        vec![StateChange {
            from: Status::Connecting,
            to: Status::Polling,
            reason: StateReason::PollingFallback,
        }]
    );
    assert_eq!(scenario.client.status(), Status::Polling);

    scenario.answer_poll(Ok(&generation("processing", 1, 50.0, 7)));
    scenario.advance_until_probe();
    scenario.answer_all_polls(&generation("processing", 1, 50.0, 7));
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    scenario.server_sends(socket, &subscribed("gen_1", 7));
    assert_eq!(
        changes(&scenario.take_events()),
        vec![StateChange {
            from: Status::Polling,
            to: Status::Open,
            reason: StateReason::WebSocketRestored,
        }]
    );
}

#[test]
fn a_client_without_websocket_announces_polling_when_it_starts() {
    let mut config = support::config();
    config.use_websocket = false;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(
        changes(&scenario.take_events()),
        vec![StateChange {
            from: Status::Idle,
            to: Status::Polling,
            reason: StateReason::PollingFallback,
        }]
    );
}

#[test]
fn a_poll_answered_after_close_delivers_nothing() {
    let mut scenario = polling_scenario();
    scenario.take_events();
    assert!(!scenario.server.polls.is_empty(), "a poll is under way");
    scenario.act(|client, now| client.close(now));
    scenario.take_events();
    scenario.answer_all_polls(&generation("completed", 2, 100.0, 9));
    assert_eq!(scenario.take_events(), vec![]);
    assert_eq!(scenario.client.poll_timeout(), None);
}

#[test]
fn losing_websocket_while_open_with_polling_off_closes_the_client_and_says_why() {
    let mut config = no_jitter();
    config.use_polling = false;
    let mut scenario = Scenario::with_config(config);
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_events();
    scenario.take_received();
    scenario.act(|client, now| client.handle_websocket_unavailable(now));
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::NoTransport)
    );
    assert_eq!(
        scenario.server.closed,
        vec![(socket, 1000, "no WebSocket".to_owned())]
    );
    let events = scenario.take_events();
    assert!(
        events.contains(&Event::Error(ClientError::NoTransport)),
        "{events:?}"
    );
    assert_eq!(
        changes(&events),
        vec![StateChange {
            from: Status::Open,
            to: Status::Closed,
            reason: StateReason::NoTransport,
        }]
    );
    // No timer: nothing pings the closed socket, no deadline in the past makes a driver spin.
    assert_eq!(scenario.client.poll_timeout(), None);
    scenario.advance(Duration::from_secs(60));
    assert!(scenario.take_received().is_empty());
}

#[test]
fn an_unknown_job_answered_with_an_error_does_not_keep_the_client_polling() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.server.hold_confirmations = true;
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_404");
    fail_until_polling(&mut scenario);
    scenario.advance_until_probe();
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    scenario.server_sends(socket, &subscribed("gen_1", 0));
    assert_eq!(
        scenario.client.status(),
        Status::Polling,
        "gen_404 unanswered"
    );
    scenario.take_events();
    scenario.server_sends(
        socket,
        &ServerFrame::Error {
            code: "unknown_job".to_owned(),
            message: "no generation gen_404".to_owned(),
            job: Some((Channel::Generation, "gen_404".to_owned())),
        },
    );
    assert_eq!(scenario.client.status(), Status::Open);
    let events = scenario.take_events();
    assert!(
        events.contains(&Event::Error(ClientError::Server {
            code: "unknown_job".to_owned(),
            message: "no generation gen_404".to_owned(),
            job: Some((Channel::Generation, "gen_404".to_owned())),
        })),
        "{events:?}"
    );
    let polled = scenario.server.polled_urls.len();
    scenario.advance(Duration::from_secs(600));
    assert_eq!(
        scenario.server.polled_urls.len(),
        polled,
        "no poll on a healthy socket"
    );
}

/// (seq, event name) of each job event among `events`.
fn seqs_and_names(events: &[Event]) -> Vec<(u64, &'static str)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Job(JobDelivery { seq, event, .. }) => Some((*seq, event.name())),
            _ => None,
        })
        .collect()
}

#[test]
fn no_two_events_delivered_from_snapshots_share_a_seq() {
    let mut scenario = polling_scenario();
    scenario.take_events();
    scenario.answer_poll(Ok(&generation("processing", 1, 50.0, 7)));
    scenario.advance_until_poll();
    scenario.answer_poll(Ok(&generation("completed", 2, 100.0, 12)));
    let delivered = seqs_and_names(&scenario.take_events());
    assert_eq!(
        delivered,
        vec![
            (5, "status_change"),
            (6, "clip_completed"),
            (7, "progress"),
            (9, "clip_completed"),
            (10, "progress"),
            (11, "status_change"),
            (12, "completed"),
        ]
    );
}
