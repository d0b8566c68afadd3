//! Scenarios of the sans-IO core, one behaviour each, driven by fake time and a fake server.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClientError, ClientFrame, CompositionEvent, DecodeError, EncodingProgress, Event,
    GenerationEvent, JobDelivery, JobEvent, JobResult, Progress, ServerFrame, StateChange,
    StateReason, Status, Transmit,
};
use support::{Scenario, URL, connected, error_codes};

fn progress(job: &str, seq: u64, percentage: f64) -> ServerFrame {
    ServerFrame::Event {
        id: job.to_owned(),
        seq,
        event: JobEvent::Generation(GenerationEvent::Progress(Progress {
            step: "rendering".to_owned(),
            clip_number: 1,
            total_clips: 2,
            percentage,
            message: format!("{percentage}%"),
        })),
    }
}

fn delivered(job: &str, seq: u64, percentage: f64) -> Event {
    let ServerFrame::Event { event, .. } = progress(job, seq, percentage) else {
        unreachable!("progress() builds an event frame")
    };
    Event::Job(JobDelivery {
        job_id: job.to_owned(),
        seq,
        event,
        payload: None,
    })
}

fn subscribe_frame(channel: Channel, id: &str, since: Option<u64>) -> ClientFrame {
    ClientFrame::Subscribe {
        channel,
        id: id.to_owned(),
        since,
    }
}

fn state_change(from: Status, to: Status, reason: StateReason) -> Event {
    Event::StateChanged(StateChange { from, to, reason })
}

#[test]
fn a_new_client_is_idle_and_transmits_nothing() {
    let mut scenario = Scenario::new();
    assert_eq!(scenario.client.status(), Status::Idle);
    assert_eq!(scenario.client.poll_transmit(), None);
    assert_eq!(scenario.client.poll_timeout(), None);
}

#[test]
fn connect_opens_one_socket_to_the_configured_url() {
    let mut scenario = Scenario::new();
    scenario.connect();
    scenario.connect();
    assert_eq!(scenario.server.pending_opens.len(), 1);
    assert!(
        scenario
            .pending_url()
            .starts_with(&format!("{URL}?requestId="))
    );
    assert_eq!(
        scenario.take_events(),
        vec![state_change(
            Status::Idle,
            Status::Connecting,
            StateReason::ConnectRequested
        )]
    );
}

#[test]
fn socket_open_reports_open_and_the_connected_frame_names_the_client() {
    let mut scenario = Scenario::new();
    scenario.connect();
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    let state = scenario.client.state();
    assert_eq!(state.status, Status::Open);
    assert_eq!(state.client_id.as_deref(), Some("c_1"));
    assert_eq!(state.server_heartbeat_ms, Some(30_000));
    assert_eq!(
        scenario.take_events()[1..],
        [state_change(
            Status::Connecting,
            Status::Open,
            StateReason::SocketOpened
        )]
    );
}

#[test]
fn subscribe_while_open_sends_one_subscribe_frame() {
    let mut scenario = Scenario::new();
    scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(
        scenario.take_received(),
        vec![subscribe_frame(Channel::Generation, "gen_1", None)]
    );
}

#[test]
fn subscribe_while_idle_connects_and_subscribes_once_the_socket_opens() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Composition, "comp_1");
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert!(scenario.take_received().is_empty());
    scenario.accept();
    assert_eq!(
        scenario.take_received(),
        vec![subscribe_frame(Channel::Composition, "comp_1", None)]
    );
}

#[test]
fn job_events_are_delivered_typed_and_in_order() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    let result = JobResult {
        video_url: "/v.mp4".to_owned(),
        thumbnail_url: "/t.svg".to_owned(),
        duration: 8.0,
    };
    scenario.server_sends(
        socket,
        &ServerFrame::Event {
            id: "gen_1".to_owned(),
            seq: 3,
            event: JobEvent::Generation(GenerationEvent::Completed(result.clone())),
        },
    );
    assert_eq!(
        scenario.take_events(),
        vec![
            delivered("gen_1", 1, 10.0),
            delivered("gen_1", 2, 20.0),
            Event::Job(JobDelivery {
                job_id: "gen_1".to_owned(),
                seq: 3,
                event: JobEvent::Generation(GenerationEvent::Completed(result)),
                payload: None,
            }),
            Event::SubscriptionEnded {
                channel: Channel::Generation,
                job_id: "gen_1".to_owned()
            },
        ]
    );
}

#[test]
fn composition_events_are_decoded_on_their_own_channel() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Composition, "comp_1");
    scenario.server_sends_text(
        socket,
        r#"{"type":"event","channel":"composition","id":"comp_1","seq":1,"event":"encoding_progress","data":{"percentage":50,"frames_processed":120,"total_frames":240,"estimated_remaining":3.5}}"#,
    );
    assert_eq!(
        scenario.take_events(),
        vec![Event::Job(JobDelivery {
            job_id: "comp_1".to_owned(),
            seq: 1,
            event: JobEvent::Composition(CompositionEvent::EncodingProgress(EncodingProgress {
                percentage: 50.0,
                frames_processed: 120,
                total_frames: 240,
                estimated_remaining: 3.5,
            })),
            payload: None,
        })]
    );
}

#[test]
fn an_event_repeating_the_last_seq_delivered_is_dropped_quietly() {
    // (One below that on the same subscription is the numbering going back: reported, see
    // tests/core_hostile_input.rs.)
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    assert_eq!(
        scenario.take_events(),
        vec![delivered("gen_1", 1, 10.0), delivered("gen_1", 2, 20.0)]
    );
}

#[test]
fn events_of_a_job_nobody_watches_are_ignored() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_2", 1, 10.0));
    assert!(scenario.take_events().is_empty());
}

#[test]
fn two_subscriptions_to_one_job_share_one_server_subscription() {
    let mut scenario = Scenario::new();
    scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(scenario.take_received().len(), 1);
    scenario.unsubscribe(Channel::Generation, "gen_1");
    assert!(scenario.take_received().is_empty());
    scenario.unsubscribe(Channel::Generation, "gen_1");
    assert_eq!(
        scenario.take_received(),
        vec![ClientFrame::Unsubscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned()
        }]
    );
}

#[test]
fn after_the_last_unsubscribe_no_more_events_are_delivered() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.unsubscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    assert!(scenario.take_events().is_empty());
}

#[test]
fn unsubscribing_a_job_never_subscribed_does_nothing() {
    let mut scenario = Scenario::new();
    scenario.open();
    scenario.unsubscribe(Channel::Generation, "gen_9");
    assert!(scenario.take_received().is_empty());
    assert!(scenario.take_events().is_empty());
}

#[test]
fn a_malformed_frame_reports_an_error_and_keeps_the_connection() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends_text(socket, "{not json");
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), vec!["malformed_frame"]);
    assert_eq!(events[1], delivered("gen_1", 1, 10.0));
    assert_eq!(scenario.client.status(), Status::Open);
    assert!(scenario.server.closed.is_empty());
}

#[test]
fn an_unknown_event_name_reports_an_error_and_later_events_still_arrive() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends_text(
        socket,
        r#"{"type":"event","channel":"generation","id":"gen_1","seq":1,"event":"teleported","data":{}}"#,
    );
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    assert_eq!(
        scenario.take_events(),
        vec![
            Event::Error(ClientError::Decode(DecodeError::UnknownEvent {
                channel: Channel::Generation,
                event: "teleported".to_owned(),
            })),
            // The dropped event leaves a hole, reported like any other.
            Event::Error(ClientError::SequenceGap {
                channel: Channel::Generation,
                job_id: "gen_1".to_owned(),
                expected: 1,
                received: 2,
            }),
            delivered("gen_1", 2, 20.0),
        ]
    );
}

#[test]
fn an_unknown_frame_type_reports_an_error() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.server_sends_text(socket, r#"{"type":"hologram"}"#);
    assert_eq!(
        scenario.take_events(),
        vec![Event::Error(ClientError::Decode(
            DecodeError::UnknownFrame("hologram".to_owned())
        ))]
    );
}

#[test]
fn a_payload_field_of_the_wrong_type_reports_invalid_payload() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends_text(
        socket,
        r#"{"type":"event","channel":"generation","id":"gen_1","seq":1,"event":"queued","data":{"position":"first"}}"#,
    );
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), vec!["invalid_payload"]);
    let Event::Error(error) = &events[0] else {
        unreachable!()
    };
    assert!(error.to_string().contains("queued"), "{error}");
}

#[test]
fn an_event_frame_without_seq_reports_the_missing_field() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.server_sends_text(
        socket,
        r#"{"type":"event","channel":"generation","id":"gen_1","event":"queued","data":{"position":1}}"#,
    );
    assert_eq!(
        scenario.take_events(),
        vec![Event::Error(ClientError::Decode(
            DecodeError::MissingField {
                frame: "event",
                field: "seq"
            }
        ))]
    );
}

#[test]
fn a_batch_delivers_each_event_and_reports_only_its_bad_element() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    let batch = format!(
        "[{},{},{}]",
        progress("gen_1", 1, 10.0).encode(),
        r#"{"type":"event","channel":"generation","id":"gen_1","seq":2,"event":"progress","data":null}"#,
        progress("gen_1", 3, 30.0).encode()
    );
    scenario.server_sends_text(socket, &batch);
    let events = scenario.take_events();
    assert_eq!(events[0], delivered("gen_1", 1, 10.0));
    // The bad element is dropped, so the next one also reports the gap it leaves.
    assert_eq!(
        error_codes(&events[1..3]),
        vec!["invalid_payload", "sequence_gap"]
    );
    assert_eq!(events[3], delivered("gen_1", 3, 30.0));
    assert_eq!(events.len(), 4);
}

#[test]
fn a_frame_over_the_size_limit_is_dropped_undecoded() {
    let mut config = support::config();
    config.max_frame_bytes = 64;
    let mut scenario = Scenario::with_config(config);
    // The confirmation would be over the limit too.
    scenario.server.hold_confirmations = true;
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    let frame = progress("gen_1", 1, 10.0).encode();
    assert!(frame.len() > 64);
    scenario.server_sends_text(socket, &frame);
    assert_eq!(
        scenario.take_events(),
        vec![Event::Error(ClientError::FrameTooLarge {
            bytes: frame.len(),
            limit: 64
        })]
    );
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn a_binary_frame_is_reported_and_dropped() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.handle_binary_frame(now, socket, 12));
    assert_eq!(
        scenario.take_events(),
        vec![Event::Error(ClientError::BinaryFrame { bytes: 12 })]
    );
}

#[test]
fn a_server_error_frame_is_reported_to_the_app() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.server_sends(
        socket,
        &ServerFrame::Error {
            code: "unknown_job".to_owned(),
            message: "no job gen_9".to_owned(),
            job: Some((Channel::Generation, "gen_9".to_owned())),
        },
    );
    assert_eq!(
        scenario.take_events(),
        vec![Event::Error(ClientError::Server {
            code: "unknown_job".to_owned(),
            message: "no job gen_9".to_owned(),
            job: Some((Channel::Generation, "gen_9".to_owned())),
        })]
    );
}

#[test]
fn close_closes_the_socket_politely_and_reports_closed() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.close(now));
    assert_eq!(
        scenario.server.closed,
        vec![(socket, 1000, "closed by the app".to_owned())]
    );
    assert_eq!(
        scenario.take_events(),
        vec![state_change(
            Status::Open,
            Status::Closed,
            StateReason::ClosedByApp
        )]
    );
    assert_eq!(scenario.client.poll_timeout(), None);
}

#[test]
fn a_socket_that_never_opens_times_out_and_a_retry_is_scheduled() {
    let mut scenario = Scenario::new();
    scenario.connect();
    scenario.take_events();
    scenario.advance(Duration::from_millis(9_999));
    assert_eq!(scenario.client.status(), Status::Connecting);
    scenario.advance(Duration::from_millis(1));
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    assert_eq!(scenario.server.closed.len(), 1);
    assert_eq!(
        scenario.take_events(),
        vec![
            Event::Error(ClientError::ConnectTimeout),
            state_change(
                Status::Connecting,
                Status::Reconnecting,
                StateReason::ConnectTimeout
            )
        ]
    );
}

#[test]
fn a_late_wake_up_still_acts_on_the_passed_deadline() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.sleep_without_waking(Duration::from_secs(3_600));
    scenario.act(|client, now| client.handle_timeout(now));
    assert_eq!(scenario.client.status(), Status::Reconnecting);
}

#[test]
fn an_early_or_repeated_wake_up_changes_nothing() {
    let mut scenario = Scenario::new();
    scenario.connect();
    scenario.take_events();
    scenario.act(|client, now| client.handle_timeout(now));
    scenario.act(|client, now| client.handle_timeout(now));
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert!(scenario.take_events().is_empty());
}

#[test]
fn a_socket_closed_by_the_server_is_reported_with_its_code() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.socket_closes(socket, 1006, "");
    assert_eq!(
        scenario.take_events(),
        vec![
            Event::Error(ClientError::SocketClosed {
                code: 1006,
                reason: String::new()
            }),
            state_change(
                Status::Open,
                Status::Reconnecting,
                StateReason::SocketClosed
            )
        ]
    );
}

#[test]
fn inputs_from_a_stale_socket_change_nothing() {
    let mut scenario = Scenario::new();
    let old = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.act(|client, now| client.close(now));
    scenario.connect();
    let new = scenario.accept();
    assert_ne!(old, new);
    scenario.take_events();
    scenario.server_sends(old, &progress("gen_1", 1, 10.0));
    scenario.socket_closes(old, 1006, "");
    assert!(scenario.take_events().is_empty());
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn a_new_socket_resubscribes_from_the_last_delivered_seq() {
    let mut scenario = Scenario::new();
    let first = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Composition, "comp_1");
    scenario.server_sends(first, &progress("gen_1", 4, 40.0));
    scenario.socket_closes(first, 1006, "");
    scenario.take_received();
    scenario.advance(Duration::from_secs(1));
    scenario.accept();
    assert_eq!(
        scenario.take_received(),
        vec![
            subscribe_frame(Channel::Generation, "gen_1", Some(4)),
            subscribe_frame(Channel::Composition, "comp_1", None),
        ]
    );
}

#[test]
fn the_client_sends_only_what_the_driver_is_told_to_carry_out() {
    let mut scenario = Scenario::new();
    scenario.connect();
    let socket = scenario.accept();
    scenario.subscribe(Channel::Generation, "gen_1");
    // Every transmit went through the harness: none is left queued in the core.
    assert_eq!(scenario.client.poll_transmit(), None::<Transmit>);
    assert_eq!(scenario.server.received[0].0, socket);
}

#[test]
fn each_delivery_says_where_its_payload_lies_in_the_frame() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    let single = progress("gen_1", 1, 10.0).encode();
    let batch = format!(
        "[ {}, {} ]",
        progress("gen_1", 2, 20.0).encode(),
        r#"{"data":{"position":7,"note":"é"},"type":"event","channel":"generation","id":"gen_1","seq":3,"event":"queued"}"#
    );
    let mut payloads = Vec::new();
    for text in [&single, &batch] {
        scenario.server_sends_text(socket, text);
        for event in scenario.take_events_with_spans() {
            let Event::Job(JobDelivery {
                payload: Some(span),
                ..
            }) = event
            else {
                panic!("a delivery without its payload span: {event:?}");
            };
            let data: serde_json::Value = serde_json::from_str(&text[span]).unwrap();
            payloads.push(data);
        }
    }
    assert_eq!(payloads[0]["percentage"], 10.0);
    assert_eq!(payloads[1]["percentage"], 20.0);
    assert_eq!(payloads[2], serde_json::json!({"position": 7, "note": "é"}));
}

fn subscribed(id: &str, seq: u64) -> ServerFrame {
    ServerFrame::Subscribed {
        channel: Channel::Generation,
        id: id.to_owned(),
        seq,
    }
}

#[test]
fn events_of_an_older_subscription_arriving_before_the_new_confirmation_are_not_taken_for_it() {
    let mut scenario = Scenario::new();
    scenario.server.hold_confirmations = true;
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &subscribed("gen_1", 0));
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    scenario.take_events();
    // The app lets go of the job and watches it again; the old subscription's event 2 was
    // already on its way.
    scenario.unsubscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    scenario.server_sends(socket, &subscribed("gen_1", 2));
    scenario.server_sends(socket, &progress("gen_1", 1, 10.0));
    scenario.server_sends(socket, &progress("gen_1", 2, 20.0));
    assert_eq!(
        scenario.take_events(),
        vec![delivered("gen_1", 1, 10.0), delivered("gen_1", 2, 20.0)],
        "the new subscription gets the whole replay, once"
    );
}

#[test]
fn a_replay_that_starts_past_the_first_event_reports_the_gap() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    // The server kept only the job's newest events.
    scenario.server_sends(socket, &progress("gen_1", 5, 50.0));
    let events = scenario.take_events();
    assert_eq!(
        events,
        vec![
            Event::Error(ClientError::SequenceGap {
                channel: Channel::Generation,
                job_id: "gen_1".to_owned(),
                expected: 1,
                received: 5,
            }),
            delivered("gen_1", 5, 50.0),
        ]
    );
}

#[test]
fn only_the_answer_to_the_last_subscribe_confirms_a_subscription() {
    let mut scenario = Scenario::new();
    scenario.server.hold_confirmations = true;
    let first = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(first, &subscribed("gen_1", 0));
    scenario.server_sends(first, &progress("gen_1", 1, 10.0));
    scenario.socket_closes(first, 1006, "");
    scenario.advance(Duration::from_secs(1));
    let second = scenario.accept(); // resubscribes with since 1
    scenario.server_sends(second, &connected());
    // A component remounts before the server answered the resubscription.
    scenario.unsubscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_events();
    // The answer to the resubscription and its replay come first…
    scenario.server_sends(second, &subscribed("gen_1", 2));
    scenario.server_sends(second, &progress("gen_1", 2, 20.0));
    // …then the answer to the new subscribe, replaying from the start.
    scenario.server_sends(second, &subscribed("gen_1", 2));
    scenario.server_sends(second, &progress("gen_1", 1, 10.0));
    scenario.server_sends(second, &progress("gen_1", 2, 20.0));
    assert_eq!(
        scenario.take_events(),
        vec![delivered("gen_1", 1, 10.0), delivered("gen_1", 2, 20.0)]
    );
}
