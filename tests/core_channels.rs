//! Scenarios of the app's own channels and event names, on every dialect: protocol v1's generic
//! channel (numbered, replayed, exactly once), Socket.IO events of the server's own rooms, and
//! plain-JSON frame types (story-007's project channels).

mod support;

use std::time::Duration;

use jobsocket::core::{
    ChannelDelivery, ClientFrame, DialectConfig, Event, RawJson, ServerFrame, Status,
};
use support::{Scenario, error_codes};

/// A delivered channel event: (channel and id, seq, name, data).
type Seen = (Option<(String, String)>, u64, String, String);

fn channel_events(events: &[Event]) -> Vec<Seen> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Channel(ChannelDelivery {
                channel,
                seq,
                event,
                data,
            }) => Some((
                channel.clone(),
                *seq,
                event.clone(),
                data.as_str().to_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn workspace_event(seq: u64) -> ServerFrame {
    ServerFrame::ChannelEvent {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        seq,
        event: "approval.created".to_owned(),
        data: RawJson::new(format!(r#"{{"n":{seq}}}"#)).expect("JSON"),
    }
}

fn joined(seq: u64) -> ServerFrame {
    ServerFrame::Joined {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        seq,
    }
}

fn tagged(seq: u64) -> Seen {
    (
        Some(("workspace".to_owned(), "w_1".to_owned())),
        seq,
        "approval.created".to_owned(),
        format!(r#"{{"n":{seq}}}"#),
    )
}

#[test]
fn a_v1_channel_is_subscribed_by_name_and_its_events_come_once_in_order_after_the_answer() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.subscribe_channel(now, "workspace", "w_1"));
    assert_eq!(
        scenario.take_received(),
        [ClientFrame::Join {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            since: None
        }]
    );
    scenario.server_sends(socket, &workspace_event(1));
    assert!(
        channel_events(&scenario.take_events()).is_empty(),
        "before the answer"
    );
    scenario.server_sends(socket, &joined(1));
    for seq in [1, 2, 2, 4] {
        scenario.server_sends(socket, &workspace_event(seq));
    }
    let events = scenario.take_events();
    assert_eq!(channel_events(&events), [tagged(1), tagged(2), tagged(4)]);
    assert_eq!(error_codes(&events), ["sequence_gap"]);
}

#[test]
fn a_new_socket_resubscribes_a_v1_channel_from_its_last_seq_and_unsubscribe_tells_the_server() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.subscribe_channel(now, "workspace", "w_1"));
    scenario.server_sends(socket, &joined(0));
    scenario.server_sends(socket, &workspace_event(1));
    scenario.socket_closes(socket, 1006, "");
    scenario.advance(Duration::from_secs(16));
    let socket = scenario.accept();
    scenario.take_received();
    scenario.take_events();
    scenario.server_sends(socket, &joined(2));
    scenario.server_sends(socket, &workspace_event(1));
    scenario.server_sends(socket, &workspace_event(2));
    assert_eq!(channel_events(&scenario.take_events()), [tagged(2)]);
    scenario.act(|client, now| client.unsubscribe_channel(now, "workspace", "w_1"));
    assert_eq!(
        scenario.take_received(),
        [ClientFrame::Leave {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned()
        }]
    );
}

#[test]
fn the_resubscription_asks_for_a_replay_from_the_last_seq() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.act(|client, now| client.subscribe_channel(now, "workspace", "w_1"));
    scenario.server_sends(socket, &joined(0));
    scenario.server_sends(socket, &workspace_event(1));
    scenario.take_received();
    scenario.act(|client, now| client.reconnect(now));
    scenario.accept();
    assert!(scenario.take_received().contains(&ClientFrame::Join {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        since: Some(1)
    }));
}

const STORY_16_15: &str = r#"{"dialect":"socket.io"}"#;

fn socket_io_open() -> (Scenario, jobsocket::core::SocketId) {
    let mut config = support::config();
    config.url = "wss://api.test".to_owned();
    config.protocol = DialectConfig::parse(STORY_16_15).expect("valid");
    let mut scenario = Scenario::with_config(config);
    scenario.act(|client, now| client.listen(now, "approval.created"));
    let socket = scenario.accept();
    scenario.server_sends_text(
        socket,
        r#"0{"sid":"s","pingInterval":25000,"pingTimeout":20000}"#,
    );
    scenario.server_sends_text(socket, r#"40{"sid":"a"}"#);
    assert_eq!(scenario.client.status(), Status::Open);
    scenario.take_events();
    (scenario, socket)
}

#[test]
fn listening_to_a_name_connects_and_gets_socket_io_events_of_the_servers_rooms() {
    let (mut scenario, socket) = socket_io_open();
    scenario.server_sends_text(socket, r#"42["approval.created",{"id":"a1"}]"#);
    scenario.server_sends_text(socket, r#"42["notification.new",{"id":"n1"}]"#);
    let events = scenario.take_events();
    assert_eq!(
        channel_events(&events),
        [(
            None,
            1,
            "approval.created".to_owned(),
            r#"{"id":"a1"}"#.to_owned()
        )]
    );
    assert_eq!(
        error_codes(&events),
        ["unknown_event"],
        "nobody listens to notification.new"
    );
}

#[test]
fn the_last_listener_gone_lets_the_client_go_idle() {
    let (mut scenario, _socket) = socket_io_open();
    scenario.act(|client, now| client.unlisten(now, "approval.created"));
    scenario.advance(Duration::from_secs(300));
    assert_eq!(scenario.client.status(), Status::Idle);
}

/// story-007's project channels, as its document writes them.
const STORY_007: &str = r#"{"dialect":"json",
    "subscribe":{"type":"subscribe","projectId":"{id}"},
    "unsubscribe":{"type":"unsubscribe","projectId":"{id}"}}"#;

#[test]
fn a_story_007_project_is_subscribed_and_its_frames_arrive_by_type() {
    let mut config = support::config();
    config.url = "ws://localhost:3001/ws".to_owned();
    config.protocol = DialectConfig::parse(STORY_007).expect("valid");
    let mut scenario = Scenario::with_config(config);
    scenario.act(|client, now| client.subscribe_channel(now, "project", "p1"));
    let socket = scenario.accept();
    assert_eq!(
        scenario.take_sent_text(),
        [r#"{"type":"subscribe","projectId":"p1"}"#]
    );
    let progress = r#"{"type":"progress","jobId":"j1","jobType":"video","sentenceId":"s1","progress":40,"message":"m"}"#;
    let complete = r#"{"type":"job_complete","jobId":"j1","jobType":"video","sentenceId":"s1","result":{"file":"/f.mp4","duration":4}}"#;
    for frame in [
        r#"{"type":"connected","clientId":"c1"}"#,
        r#"{"type":"subscribed","projectId":"p1"}"#,
        progress,
        complete,
    ] {
        scenario.server_sends_text(socket, frame);
    }
    assert_eq!(
        channel_events(&scenario.take_events()),
        [
            (None, 1, "progress".to_owned(), progress.to_owned()),
            (None, 2, "job_complete".to_owned(), complete.to_owned()),
        ]
    );
    scenario.act(|client, now| client.unsubscribe_channel(now, "project", "p1"));
    assert_eq!(
        scenario.take_sent_text(),
        [r#"{"type":"unsubscribe","projectId":"p1"}"#]
    );
}
