//! The plain-JSON dialect, frame by frame, with `phase-7`'s frames exactly as its design
//! document writes them: the token in the query, `{type:'subscribe', data:{jobId}}`, then
//! `{type:'progress', jobId, status, progress, stage, message}`, errors as `{type:'error',
//! error}`, and a `{type:'ping'}` heartbeat.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, Config, DialectConfig, Event, GenerationEvent, JobEvent, Progress, RawJson,
    StateReason, Status,
};
use support::Scenario;

const PHASE_7: &str = r#"{"dialect":"json",
    "subscribe":{"type":"subscribe","data":{"jobId":"{id}"}},
    "events":{"progress":"generation.progress"},
    "heartbeat":{"type":"ping"}}"#;

fn config(protocol: &str) -> Config {
    let mut config = support::config();
    config.url = "ws://localhost:3000/ws".to_owned();
    config.use_polling = false;
    config.jitter = false;
    config.auth = true;
    config.protocol = DialectConfig::parse(protocol).expect("a valid protocol");
    config
}

fn open(protocol: &str) -> (Scenario, jobsocket::core::SocketId) {
    let mut scenario = Scenario::with_config(config(protocol));
    scenario.subscribe(Channel::Generation, "550e8400");
    scenario.give_token(Ok("eyJ.a b"));
    assert_eq!(
        scenario.pending_url(),
        "ws://localhost:3000/ws?token=eyJ.a%20b"
    );
    let socket = scenario.accept();
    assert_eq!(scenario.client.status(), Status::Open, "no handshake");
    assert_eq!(
        scenario.take_sent_text(),
        [r#"{"type":"subscribe","data":{"jobId":"550e8400"}}"#]
    );
    scenario.server_sends_text(
        socket,
        r#"{"type":"connected","message":"Connected to live updates","timestamp":"2025-11-24T00:15:30.123Z"}"#,
    );
    scenario.take_events();
    (scenario, socket)
}

fn progress_frame(status: &str, progress: u32) -> String {
    format!(
        r#"{{"type":"progress","jobId":"550e8400","userId":"user-123","status":"{status}","progress":{progress},"stage":"inference","message":"Running model inference...","timestamp":"2025-11-24T00:15:30.123Z"}}"#
    )
}

#[test]
fn progress_frames_become_typed_progress_and_a_completed_status_ends_the_job() {
    let (mut scenario, socket) = open(PHASE_7);
    scenario.server_sends_text(socket, &progress_frame("processing", 45));
    scenario.server_sends_text(socket, &progress_frame("completed", 100));
    let events = scenario.take_events();
    let jobs: Vec<(u64, &JobEvent)> = events
        .iter()
        .filter_map(|event| match event {
            Event::Job(delivery) => Some((delivery.seq, &delivery.event)),
            _ => None,
        })
        .collect();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        jobs[0],
        (
            1,
            &JobEvent::Generation(GenerationEvent::Progress(Progress {
                step: "inference".to_owned(),
                clip_number: 0,
                total_clips: 0,
                percentage: 45.0,
                message: "Running model inference...".to_owned(),
            }))
        )
    );
    assert_eq!((jobs[1].0, jobs[1].1.name()), (2, "completed"));
    assert!(events.contains(&Event::SubscriptionEnded {
        channel: Channel::Generation,
        job_id: "550e8400".to_owned()
    }));
}

#[test]
fn the_heartbeat_frame_goes_out_and_silence_after_it_is_a_dead_link() {
    let (mut scenario, _socket) = open(PHASE_7);
    scenario.advance(Duration::from_secs(30));
    assert_eq!(scenario.take_sent_text(), [r#"{"type":"ping"}"#]);
    scenario.advance(Duration::from_secs(10));
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::HeartbeatTimeout)
    );
}

#[test]
fn without_a_heartbeat_frame_the_client_sends_nothing_and_trusts_the_socket() {
    let protocol = r#"{"dialect":"json","subscribe":{"type":"subscribe","data":{"jobId":"{id}"}}}"#;
    let (mut scenario, _socket) = open(protocol);
    scenario.advance(Duration::from_secs(3600));
    assert!(scenario.take_sent_text().is_empty());
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn error_frames_unknown_types_and_bad_json_are_reported_and_the_link_kept() {
    let (mut scenario, socket) = open(PHASE_7);
    for frame in [
        r#"{"type":"error","error":"Invalid message format","timestamp":"2025-11-24T00:15:30.123Z"}"#,
        r#"{"type":"presence","users":3}"#,
        r#"{"type":"progress","status":"processing","progress":5}"#,
        r#"{"type":"progress","jobId":"550e8400","progress":"half"}"#,
        r#"{"kind":"progress"}"#,
        "not json",
        r#"{"type":"pong"}"#,
    ] {
        scenario.server_sends_text(socket, frame);
    }
    scenario.server_sends_text(socket, &progress_frame("processing", 50));
    let events = scenario.take_events();
    assert_eq!(
        support::error_codes(&events),
        [
            "server_error",
            "unknown_event",
            "invalid_payload",
            "invalid_payload",
            "malformed_frame",
            "malformed_frame"
        ]
    );
    assert!(
        events
            .iter()
            .any(|event| matches!(event, Event::Job(delivery) if delivery.seq == 1))
    );
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn a_new_socket_subscribes_again_and_an_outbox_message_leaves_once_written() {
    let (mut scenario, socket) = open(PHASE_7);
    let data = RawJson::new(r#"{"note":1}"#).expect("JSON");
    scenario.act(|client, now| {
        client.send(now, "comment", data.clone());
    });
    let sent = scenario.take_sent_text();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].starts_with(r#"{"type":"comment","id":"m_"#),
        "{}",
        sent[0]
    );
    assert!(sent[0].ends_with(r#","data":{"note":1}}"#), "{}", sent[0]);
    assert_eq!(
        scenario.client.state().outbox_size,
        0,
        "no acks on this wire"
    );
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(1));
    scenario.give_token(Ok("t2"));
    scenario.accept();
    assert_eq!(
        scenario.take_sent_text(),
        [r#"{"type":"subscribe","data":{"jobId":"550e8400"}}"#]
    );
}

#[test]
fn a_batch_reports_its_bad_elements_once_and_a_batch_over_the_limit_is_dropped_whole() {
    let (mut scenario, socket) = open(PHASE_7);
    let mut elements: Vec<String> = (1..=5)
        .map(|percent| progress_frame("processing", percent))
        .collect();
    elements.insert(1, "[]".to_owned());
    elements.insert(3, r#"{"no_type":true}"#.to_owned());
    scenario.server_sends_text(socket, &format!("[{}]", elements.join(",")));
    let events = scenario.take_events();
    let jobs = events
        .iter()
        .filter(|event| matches!(event, Event::Job(_)))
        .count();
    assert_eq!(jobs, 5);
    assert_eq!(support::error_codes(&events), ["malformed_frame"]);
    let error = events
        .iter()
        .find_map(|event| match event {
            Event::Error(error) => Some(error.to_string()),
            _ => None,
        })
        .unwrap();
    assert!(
        error.starts_with("2 of 7 frames in a batch were invalid and dropped; the first: "),
        "{error}"
    );
    // Small elements, so that the longest batch stays under the frame limit.
    let many = vec!["{}"; 10_001].join(",");
    scenario.server_sends_text(socket, &format!("[{many}]"));
    assert_eq!(
        support::error_codes(&scenario.take_events()),
        ["batch_too_large"]
    );
    assert_eq!(scenario.client.status(), Status::Open);
}
