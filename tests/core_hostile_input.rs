//! A hostile (or broken) server, on the core with fake time: batches full of bad elements,
//! too many elements, duplicate member names, seqs no JS number holds, numbering that goes
//! back, oversized status bodies. Each is reported through the client's errors, once per
//! frame, and the client goes on delivering what is valid.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClientError, ClientFrame, Config, DecodeError, Event, ServerFrame, Status,
};
use support::{Scenario, error_codes, job_events};

/// The largest `seq` a JS number holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// A progress event of `job` whose `seq` is the JSON text `seq`.
fn progress_text(job: &str, seq: &str) -> String {
    format!(
        r#"{{"type":"event","channel":"generation","id":"{job}","seq":{seq},"event":"progress","data":{{"step":"render","clip_number":1,"total_clips":1,"percentage":5,"message":""}}}}"#
    )
}

fn progress(job: &str, seq: u64) -> String {
    progress_text(job, &seq.to_string())
}

fn seqs(events: &[Event]) -> Vec<u64> {
    job_events(events).iter().map(|(_, seq, _)| *seq).collect()
}

fn errors(events: &[Event]) -> Vec<&ClientError> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Error(error) => Some(error),
            _ => None,
        })
        .collect()
}

/// An open client watching generation `gen_1`, its subscription answered.
fn watching() -> (Scenario, jobsocket::core::SocketId) {
    let mut config = support::config();
    config.use_polling = false;
    let mut scenario = Scenario::with_config(config);
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_received();
    scenario.take_events();
    (scenario, socket)
}

#[test]
fn a_batch_with_many_invalid_elements_reports_one_error_and_delivers_the_valid_ones() {
    let (mut scenario, socket) = watching();
    let mut elements = Vec::new();
    for seq in 1..=497 {
        elements.push(progress("gen_1", seq));
        if seq == 100 || seq == 200 || seq == 300 {
            elements.push(r#"{"type":"event","channel":"generation"}"#.to_owned());
        }
    }
    scenario.server_sends_text(socket, &format!("[{}]", elements.join(",")));
    let events = scenario.take_events();
    assert_eq!(seqs(&events), (1..=497).collect::<Vec<_>>());
    let errors = errors(&events);
    assert_eq!(errors.len(), 1, "one error for the frame: {errors:?}");
    assert_eq!(
        errors[0].code(),
        "missing_field",
        "the first element's code"
    );
    assert_eq!(
        errors[0].to_string(),
        "3 of 500 frames in a batch were invalid and dropped; the first: \"event\" frame without its \"event\" field"
    );
    // Where the first bad element was: after event 100, before event 101.
    let at = events
        .iter()
        .position(|event| matches!(event, Event::Error(_)))
        .unwrap();
    assert_eq!(seqs(&events[..at]).last(), Some(&100));
}

#[test]
fn a_batch_of_only_invalid_elements_reports_one_error() {
    let (mut scenario, socket) = watching();
    let batch = format!("[{}]", vec!["{}"; 1000].join(","));
    scenario.server_sends_text(socket, &batch);
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), ["malformed_frame"]);
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn a_batch_longer_than_the_limit_is_dropped_whole_with_one_batch_too_large_error() {
    let (mut scenario, socket) = watching();
    // Pongs, short enough for the longest batch to stay under the frame limit.
    let pong = r#"{"type":"pong","t":1}"#;
    let over = vec![pong; 10_000].join(",");
    let event = progress("gen_1", 1);
    scenario.server_sends_text(socket, &format!("[{event},{over}]"));
    let events = scenario.take_events();
    assert_eq!(
        events,
        [Event::Error(ClientError::Decode(
            DecodeError::BatchTooLarge { limit: 10_000 }
        ))]
    );
    assert_eq!(
        errors(&events)[0].to_string(),
        "dropped a batch of more than 10000 frames, the limit; none of it was delivered"
    );
    // A batch at the limit is fine, and the client goes on.
    let at_limit = vec![pong; 9_999].join(",");
    scenario.server_sends_text(socket, &format!("[{event},{at_limit}]"));
    let events = scenario.take_events();
    assert_eq!(seqs(&events), [1]);
    assert!(error_codes(&events).is_empty());
}

#[test]
fn a_batch_of_a_megabyte_of_empty_objects_is_one_error() {
    let (mut scenario, socket) = watching();
    let mut batch = "[{}".to_owned();
    while batch.len() < 1024 * 1024 - 4 {
        batch.push_str(",{}");
    }
    batch.push(']');
    scenario.server_sends_text(socket, &batch);
    assert_eq!(error_codes(&scenario.take_events()), ["batch_too_large"]);
}

#[test]
fn a_frame_that_names_a_field_twice_is_invalid_and_ends_no_subscription() {
    let (mut scenario, socket) = watching();
    // JSON.parse reads the last `recoverable` (true), the core the first: refused instead.
    let frame = r#"{"type":"event","channel":"generation","id":"gen_1","seq":1,"event":"error","data":{"code":"busy","message":"retrying","recoverable":false,"recoverable":true}}"#;
    scenario.server_sends_text(socket, frame);
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), ["malformed_frame"]);
    assert!(
        errors(&events)[0]
            .to_string()
            .contains("duplicate member name in an object"),
        "{}",
        errors(&events)[0]
    );
    assert!(
        !events
            .iter()
            .any(|event| matches!(event, Event::SubscriptionEnded { .. })),
        "the subscription goes on"
    );
    scenario.server_sends_text(socket, &progress("gen_1", 1));
    assert_eq!(seqs(&scenario.take_events()), [1]);
}

#[test]
fn a_frame_that_names_its_type_twice_is_invalid() {
    let (mut scenario, socket) = watching();
    scenario.server_sends_text(
        socket,
        r#"{"type":"pong","t":1,"type":"event","channel":"generation","id":"gen_1","seq":1,"event":"progress","data":{}}"#,
    );
    assert_eq!(error_codes(&scenario.take_events()), ["malformed_frame"]);
}

#[test]
fn a_seq_beyond_the_largest_safe_integer_is_invalid_and_later_events_still_arrive() {
    let (mut scenario, socket) = watching();
    scenario.server_sends_text(socket, &progress("gen_1", 1));
    for huge in ["18446744073709551615", "9007199254740992", "1e3"] {
        scenario.server_sends_text(socket, &progress_text("gen_1", huge));
    }
    scenario.server_sends_text(socket, &progress("gen_1", 2));
    scenario.server_sends_text(socket, &progress("gen_1", 3));
    let events = scenario.take_events();
    assert_eq!(seqs(&events), [1, 2, 3]);
    assert_eq!(
        error_codes(&events),
        ["malformed_frame", "malformed_frame", "malformed_frame"]
    );
    assert_eq!(
        errors(&events)[0].to_string(),
        "malformed frame: the \"seq\" field of a \"event\" frame must be an integer from 0 to 9007199254740991"
    );
}

#[test]
fn a_subscribed_seq_beyond_the_largest_safe_integer_is_invalid() {
    let (mut scenario, socket) = watching();
    scenario.server_sends_text(
        socket,
        r#"{"type":"subscribed","channel":"generation","id":"gen_1","seq":18446744073709551615}"#,
    );
    assert_eq!(error_codes(&scenario.take_events()), ["malformed_frame"]);
}

#[test]
fn an_event_the_last_gap_skipped_is_a_jump_backward_and_the_job_is_subscribed_again_before_it() {
    let (mut scenario, socket) = watching();
    scenario.server_sends_text(socket, &progress("gen_1", 1));
    scenario.server_sends_text(socket, &progress("gen_1", 2));
    // A bogus seq, as large as a JS number holds: a gap, delivered.
    scenario.server_sends_text(socket, &progress("gen_1", MAX_SAFE));
    // The server goes on from 3: not a duplicate, it was never delivered.
    scenario.server_sends_text(socket, &progress("gen_1", 3));
    let events = scenario.take_events();
    assert_eq!(seqs(&events), [1, 2, MAX_SAFE]);
    assert_eq!(error_codes(&events), ["sequence_gap", "sequence_backward"]);
    assert_eq!(
        errors(&events)[1],
        &ClientError::SequenceBackward {
            channel: Channel::Generation,
            job_id: "gen_1".to_owned(),
            expected: MAX_SAFE + 1,
            received: 3,
            resubscribed: true,
        }
    );
    assert_eq!(
        errors(&events)[1].to_string(),
        "generation gen_1: event 3 came where 9007199254740992 was expected: the server's \
         numbering went back; subscribed again to replay from 3"
    );
    assert_eq!(
        scenario.take_received(),
        [ClientFrame::Subscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
            since: Some(2)
        }]
    );
    // The harness's server answered `subscribed`; its replay from 3 is delivered, once.
    for seq in 3..=5 {
        scenario.server_sends_text(socket, &progress("gen_1", seq));
    }
    scenario.server_sends_text(socket, &progress("gen_1", 5));
    let events = scenario.take_events();
    assert_eq!(seqs(&events), [3, 4, 5]);
    assert!(error_codes(&events).is_empty());
}

#[test]
fn an_event_below_the_since_of_a_resubscription_is_a_jump_backward() {
    let mut config = support::config();
    config.use_polling = false;
    config.jitter = false;
    let mut scenario = Scenario::with_config(config);
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    for seq in 1..=5 {
        scenario.server_sends_text(socket, &progress("gen_1", seq));
    }
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let socket = scenario.accept();
    scenario.take_events();
    scenario.take_received();
    // A restarted server that lost its log numbers the job's events from 1 again; it sends
    // 5 again too (a replay starting one early is still a duplicate).
    scenario.server_sends_text(socket, &progress("gen_1", 5));
    assert!(
        scenario
            .take_events()
            .iter()
            .all(|event| !matches!(event, Event::Job(_) | Event::Error(_)))
    );
    scenario.server_sends_text(socket, &progress("gen_1", 2));
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), ["sequence_backward"]);
    assert_eq!(
        scenario.take_received(),
        [ClientFrame::Subscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
            since: Some(1)
        }]
    );
    scenario.server_sends_text(socket, &progress("gen_1", 2));
    scenario.server_sends_text(socket, &progress("gen_1", 3));
    assert_eq!(seqs(&scenario.take_events()), [2, 3]);
}

#[test]
fn a_repeat_of_the_last_seq_is_quiet_and_one_below_what_the_subscription_delivered_is_reported_and_dropped()
 {
    let (mut scenario, socket) = watching();
    for seq in [1, 2, 3, 3, 2, 1, 4] {
        scenario.server_sends_text(socket, &progress("gen_1", seq));
    }
    let events = scenario.take_events();
    assert_eq!(seqs(&events), [1, 2, 3, 4]);
    assert_eq!(
        error_codes(&events),
        ["sequence_backward", "sequence_backward"]
    );
    assert_eq!(
        errors(&events)[0].to_string(),
        "generation gen_1: event 2 came where 4 was expected: the server's numbering went back; \
         the app already had an event of that number, so it was dropped"
    );
    assert!(scenario.take_received().is_empty(), "no resubscription");
}

/// An event of the app channel workspace `w_1` with seq `seq`.
fn workspace_event(seq: u64) -> ServerFrame {
    ServerFrame::ChannelEvent {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        seq,
        event: "note".to_owned(),
        data: jobsocket::core::RawJson::new(format!(r#"{{"n":{seq}}}"#)).unwrap(),
    }
}

fn channel_seqs(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Channel(delivery) => Some(delivery.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn an_app_channel_event_the_last_gap_skipped_is_a_jump_backward_and_the_channel_is_joined_again() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.subscribe_channel(now, "workspace", "w_1"));
    scenario.server_sends(
        socket,
        &ServerFrame::Joined {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            seq: 0,
        },
    );
    scenario.take_received();
    for seq in [1, MAX_SAFE, 2] {
        scenario.server_sends(socket, &workspace_event(seq));
    }
    let events = scenario.take_events();
    assert_eq!(channel_seqs(&events), [1, MAX_SAFE]);
    assert_eq!(error_codes(&events), ["sequence_gap", "sequence_backward"]);
    assert_eq!(
        errors(&events)[1],
        &ClientError::ChannelSequenceBackward {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            expected: MAX_SAFE + 1,
            received: 2,
            resubscribed: true,
        }
    );
    assert_eq!(
        scenario.take_received(),
        [ClientFrame::Join {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            since: Some(1)
        }]
    );
    scenario.server_sends(
        socket,
        &ServerFrame::Joined {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            seq: 3,
        },
    );
    for seq in [2, 3] {
        scenario.server_sends(socket, &workspace_event(seq));
    }
    assert_eq!(channel_seqs(&scenario.take_events()), [2, 3]);
}

#[test]
fn an_app_channel_seq_beyond_the_largest_safe_integer_is_invalid() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.subscribe_channel(now, "workspace", "w_1"));
    scenario.server_sends_text(
        socket,
        r#"{"type":"subscribed","channel":"workspace","id":"w_1","seq":0}"#,
    );
    scenario.server_sends_text(
        socket,
        r#"{"type":"event","channel":"workspace","id":"w_1","seq":18446744073709551615,"event":"note","data":{}}"#,
    );
    scenario.server_sends(socket, &workspace_event(1));
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), ["malformed_frame"]);
    assert_eq!(channel_seqs(&events), [1]);
}

#[test]
fn a_frame_refused_by_its_length_before_copying_is_reported_too_large_and_proves_the_link() {
    let (mut scenario, socket) = watching();
    scenario.act(|client, now| client.handle_frame_too_large(now, socket, 2_000_000));
    assert_eq!(
        scenario.take_events(),
        [Event::Error(ClientError::FrameTooLarge {
            bytes: 2_000_000,
            limit: 1024 * 1024
        })]
    );
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn a_status_body_longer_than_max_frame_bytes_fails_the_poll_with_a_clear_reason() {
    let mut config = Config::new(support::URL);
    config.max_frame_bytes = 64;
    config.use_websocket = false;
    config.poll_max_retries = 0;
    let mut scenario = Scenario::with_config(config);
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.advance_until_poll();
    let body = format!(r#"{{"id":"gen_1","padding":"{}"}}"#, "x".repeat(100));
    scenario.answer_poll(Ok(&body));
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), ["poll_failed"]);
    assert_eq!(
        errors(&events)[0].to_string(),
        format!(
            "polling generation gen_1 failed: the response body is over the limit of 64 bytes \
             (maxFrameBytes): {} or more",
            body.len()
        )
    );
}
