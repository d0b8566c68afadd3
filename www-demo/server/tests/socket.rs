//! The WebSocket at `/ws`, over a real socket: job events in order and exactly once, replay
//! with `since`, failures, heartbeats, acknowledged messages, bad frames.

mod common;

use std::time::Duration;

use common::{names, seqs};
use jobsocket::core::events::{
    CompositionEvent, GenerationEvent, JobEvent, JobFailure, JobStatus, StatusChange,
};
use jobsocket::core::protocol::{Channel, ClientFrame, RawJson, ServerFrame};

fn subscribe(channel: Channel, id: &str, since: Option<u64>) -> ClientFrame {
    ClientFrame::Subscribe {
        channel,
        id: id.to_owned(),
        since,
    }
}

fn message(id: &str) -> ClientFrame {
    ClientFrame::Message {
        id: id.to_owned(),
        event: "note".to_owned(),
        data: RawJson::new(r#"{"text":"hello"}"#).expect("valid JSON"),
    }
}

/// How long a test waits to be sure nothing more arrives: several steps of its jobs.
const QUIET: Duration = Duration::from_millis(100);

#[tokio::test]
async fn a_generation_streams_every_event_in_order_and_ends_with_completed() {
    let server = common::start(2).await;
    let id = server
        .start_job("generations", r#"{"clips":3,"steps_per_clip":4}"#)
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Generation, &id, None))
        .await;
    socket.subscribed(&id).await;

    let events = socket.events_until_terminal(&id).await;

    // queued, picked up, 3 × (4 progress + clip_completed), status_change, completed
    assert_eq!(seqs(&events), (1..=19).collect::<Vec<_>>());
    let mut expected = vec!["queued", "status_change"];
    for _ in 0..3 {
        expected.extend(["progress"; 4]);
        expected.push("clip_completed");
    }
    expected.extend(["status_change", "completed"]);
    assert_eq!(names(&events), expected);
    let last_progress = events.iter().rev().find_map(|(_, event)| match event {
        JobEvent::Generation(GenerationEvent::Progress(progress)) => Some(progress),
        _ => None,
    });
    assert_eq!(
        last_progress.map(|progress| progress.percentage),
        Some(100.0)
    );
    assert!(
        socket.next_text_within(QUIET).await.is_none(),
        "nothing after the terminal event"
    );
}

#[tokio::test]
async fn subscribing_since_a_seq_replays_only_later_events_in_one_batch() {
    let server = common::start(1).await;
    let id = server
        .start_job("generations", r#"{"clips":2,"steps_per_clip":3}"#)
        .await;
    let mut first = server.socket().await;
    first.send(&subscribe(Channel::Generation, &id, None)).await;
    first.subscribed(&id).await;
    let all = first.events_until_terminal(&id).await;
    let last = all.len() as u64;

    let mut second = server.socket().await;
    second
        .send(&subscribe(Channel::Generation, &id, Some(5)))
        .await;
    assert_eq!(second.subscribed(&id).await, last);
    let replay = second.next_text().await;
    assert!(replay.starts_with('['), "one batch frame: {replay}");
    let frames = ServerFrame::decode_all(&replay);
    let replayed: Vec<u64> = frames
        .iter()
        .map(|frame| match frame {
            Ok(ServerFrame::Event { seq, .. }) => *seq,
            other => panic!("expected an event, got {other:?}"),
        })
        .collect();
    assert_eq!(replayed, (6..=last).collect::<Vec<_>>());
    assert!(second.next_text_within(QUIET).await.is_none());
}

#[tokio::test]
async fn subscribing_since_a_seq_of_a_running_job_continues_without_gaps_or_duplicates() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":3,"steps_per_clip":4,"step_ms":15}"#,
        )
        .await;
    let mut first = server.socket().await;
    first.send(&subscribe(Channel::Generation, &id, None)).await;
    first.subscribed(&id).await;
    let mut seen = 0;
    while seen < 4 {
        for frame in first.next_frames().await {
            if let ServerFrame::Event { seq, .. } = frame {
                seen = seq;
            }
        }
    }

    let mut second = server.socket().await;
    second
        .send(&subscribe(Channel::Generation, &id, Some(2)))
        .await;
    let at_subscribe = second.subscribed(&id).await;
    assert!(at_subscribe >= 4, "subscribed at seq {at_subscribe}");
    let events = second.events_until_terminal(&id).await;
    assert_eq!(seqs(&events), (3..=19).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_reader_that_falls_far_behind_still_gets_every_event_once() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":50,"steps_per_clip":100,"step_ms":0}"#,
        )
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Generation, &id, None))
        .await;

    // Read nothing until the whole job has run: the server's queue and broadcast overflow.
    let path = format!("/api/v1/generations/{id}");
    while server.request("GET", &path, None).await.json()["status"] != "completed" {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    socket.subscribed(&id).await;
    let events = socket.events_until_terminal(&id).await;

    // queued, picked up, 50 × (100 progress + clip_completed), status_change, completed
    assert_eq!(seqs(&events), (1..=5054).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_failing_generation_ends_with_failed_status_then_an_unrecoverable_error() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":4,"steps_per_clip":2,"fail":true}"#,
        )
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Generation, &id, None))
        .await;
    socket.subscribed(&id).await;

    let events = socket.events_until_terminal(&id).await;

    let count = events.len() as u64;
    assert_eq!(seqs(&events), (1..=count).collect::<Vec<_>>());
    let clips = names(&events)
        .iter()
        .filter(|name| **name == "clip_completed")
        .count();
    assert_eq!(clips, 2, "about half the clips complete");
    let [.., (_, before), (_, last)] = events.as_slice() else {
        panic!("too few events: {events:?}");
    };
    assert!(matches!(
        before,
        JobEvent::Generation(GenerationEvent::StatusChange(StatusChange {
            old_status: JobStatus::Processing,
            new_status: JobStatus::Failed,
            ..
        }))
    ));
    assert!(matches!(
        last,
        JobEvent::Generation(GenerationEvent::Error(JobFailure { code, recoverable: false, .. }))
            if code == "generation_failed"
    ));
}

#[tokio::test]
async fn a_composition_streams_its_progress_and_ends_with_completed() {
    let server = common::start(1).await;
    let id = server
        .start_job("compositions", r#"{"total_frames":240,"steps":8}"#)
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Composition, &id, None))
        .await;
    socket.subscribed(&id).await;

    let events = socket.events_until_terminal(&id).await;

    assert_eq!(seqs(&events), (1..=9).collect::<Vec<_>>());
    let mut expected = vec!["encoding_progress"; 8];
    expected.push("completed");
    assert_eq!(names(&events), expected);
    let JobEvent::Composition(CompositionEvent::EncodingProgress(last)) = &events[7].1 else {
        panic!("expected encoding_progress, got {:?}", events[7]);
    };
    assert_eq!(last.percentage, 100.0);
    assert_eq!(last.frames_processed, 240);
}

#[tokio::test]
async fn a_failing_composition_ends_with_an_unrecoverable_error() {
    let server = common::start(1).await;
    let id = server
        .start_job("compositions", r#"{"steps":4,"fail":true}"#)
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Composition, &id, None))
        .await;
    socket.subscribed(&id).await;

    let events = socket.events_until_terminal(&id).await;

    assert_eq!(
        names(&events),
        ["encoding_progress", "encoding_progress", "error"]
    );
    assert!(matches!(
        &events[2].1,
        JobEvent::Composition(CompositionEvent::Error(JobFailure { code, recoverable: false, .. }))
            if code == "encoding_failed"
    ));
}

#[tokio::test]
async fn subscribing_to_an_unknown_job_answers_unknown_job() {
    let server = common::start(1).await;
    let id = server.start_job("generations", "").await;
    let mut socket = server.socket().await;

    socket
        .send(&subscribe(Channel::Generation, "gen_999", None))
        .await;
    // A generation's id is not a composition's.
    socket
        .send(&subscribe(Channel::Composition, &id, None))
        .await;

    for job in [
        (Channel::Generation, "gen_999".to_owned()),
        (Channel::Composition, id.clone()),
    ] {
        match socket.next_frame().await {
            ServerFrame::Error {
                code,
                job: Some(named),
                ..
            } => {
                assert_eq!(code, "unknown_job");
                assert_eq!(named, job, "the error names the job it concerns");
            }
            other => panic!("expected an error naming {job:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unsubscribing_stops_the_events() {
    let server = common::start(1).await;
    let id = server
        .start_job(
            "generations",
            r#"{"clips":5,"steps_per_clip":4,"step_ms":10}"#,
        )
        .await;
    let mut socket = server.socket().await;
    socket
        .send(&subscribe(Channel::Generation, &id, None))
        .await;
    socket.subscribed(&id).await;
    socket.next_frames().await;

    socket
        .send(&ClientFrame::Unsubscribe {
            channel: Channel::Generation,
            id: id.clone(),
        })
        .await;
    socket.send(&ClientFrame::Ping { t: 1 }).await;
    // Events already on their way may arrive before the pong; none after it.
    loop {
        match socket.next_frames().await.as_slice() {
            [ServerFrame::Pong { .. }] => break,
            frames => assert!(
                frames
                    .iter()
                    .all(|frame| matches!(frame, ServerFrame::Event { .. })),
                "{frames:?}"
            ),
        }
    }
    assert!(socket.next_text_within(QUIET).await.is_none());
}

#[tokio::test]
async fn ping_is_answered_with_a_pong_carrying_the_same_t() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;

    socket.send(&ClientFrame::Ping { t: 48213 }).await;

    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 48213 });
}

#[tokio::test]
async fn messages_are_acked_and_a_duplicate_id_is_handled_once() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;

    for id in ["m_1", "m_1", "m_2"] {
        socket.send(&message(id)).await;
        assert_eq!(
            socket.next_frame().await,
            ServerFrame::Ack { id: id.to_owned() }
        );
    }
    // Another socket resending m_2 (a reconnected client) is acked, not handled again.
    let mut other = server.socket().await;
    other.send(&message("m_2")).await;
    assert_eq!(
        other.next_frame().await,
        ServerFrame::Ack {
            id: "m_2".to_owned()
        }
    );

    assert_eq!(server.state.handled_messages(), 2);
}

#[tokio::test]
async fn a_malformed_frame_is_answered_with_bad_frame_and_the_socket_stays_usable() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;

    for bad in [
        "not json",
        r#"{"type":"launch"}"#,
        r#"{"type":"subscribe","channel":7,"id":"gen_1"}"#,
        r#"{"type":"ping"}"#,
    ] {
        socket.send_text(bad).await;
        match socket.next_frame().await {
            ServerFrame::Error { code, message, job } => {
                assert_eq!(code, "bad_frame");
                assert!(!message.is_empty());
                assert_eq!(job, None);
            }
            other => panic!("expected bad_frame for {bad}, got {other:?}"),
        }
    }

    socket.send(&ClientFrame::Ping { t: 7 }).await;
    assert_eq!(socket.next_frame().await, ServerFrame::Pong { t: 7 });
}

#[tokio::test]
async fn stopping_the_server_closes_open_sockets_with_going_away() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = jobsocket_server::AppState::new(jobsocket_server::Config::default());
    let server = tokio::spawn(jobsocket_server::serve_until(listener, state, async {
        let _ = stopped.await;
    }));
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
        .await
        .expect("WebSocket handshake");
    let connected = socket.next().await;
    assert!(
        matches!(connected, Some(Ok(Message::Text(_)))),
        "{connected:?}"
    );

    let _ = stop.send(());

    let close = tokio::time::timeout(common::PATIENCE, socket.next())
        .await
        .expect("a close frame in time");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(socket);
    let served = tokio::time::timeout(common::PATIENCE, server)
        .await
        .expect("the server stops in time");
    assert!(matches!(served, Ok(Ok(()))), "{served:?}");
}

#[tokio::test]
async fn a_replay_from_before_a_capped_log_sends_only_the_events_kept() {
    let server = common::start_with(jobsocket_server::Config {
        step_ms: 0,
        max_log_events: 5,
        ..jobsocket_server::Config::default()
    })
    .await;
    let id = server
        .start_job("compositions", r#"{"total_frames":240,"steps":8}"#)
        .await;
    let path = format!("/api/v1/compositions/{id}");
    while server.request("GET", &path, None).await.json()["status"] != "completed" {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    for (since, expected) in [
        (Some(0), 5..=9),
        (None, 5..=9),
        (Some(3), 5..=9),
        (Some(6), 7..=9),
    ] {
        let mut socket = server.socket().await;
        socket
            .send(&subscribe(Channel::Composition, &id, since))
            .await;
        assert_eq!(socket.subscribed(&id).await, 9);
        let events = socket.events_until_terminal(&id).await;
        assert_eq!(
            seqs(&events),
            expected.collect::<Vec<_>>(),
            "since {since:?}"
        );
        assert!(socket.next_text_within(QUIET).await.is_none());
    }
    // The snapshot still folds every event.
    let snapshot = server.request("GET", &path, None).await.json();
    assert_eq!(snapshot["seq"], 9);
    assert_eq!(snapshot["progress"]["frames_processed"], 240);
}

#[tokio::test]
async fn an_app_channel_forwards_published_events_in_order_and_replays_after_since() {
    let server = common::start(1).await;
    let mut socket = server.socket().await;
    let join = |since| ClientFrame::Join {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        since,
    };
    socket.send(&join(None)).await;
    assert_eq!(
        socket.next_frame().await,
        ServerFrame::Joined {
            channel: "workspace".to_owned(),
            id: "w_1".to_owned(),
            seq: 0
        }
    );
    let channel = server
        .state
        .channels()
        .get_or_create("workspace", "w_1")
        .expect("room for a channel");
    for n in 1..=3 {
        let data = RawJson::new(format!(r#"{{"n":{n}}}"#)).expect("JSON");
        channel.publish("approval.created".to_owned(), data);
    }
    let event = |seq: u64| ServerFrame::ChannelEvent {
        channel: "workspace".to_owned(),
        id: "w_1".to_owned(),
        seq,
        event: "approval.created".to_owned(),
        data: RawJson::new(format!(r#"{{"n":{seq}}}"#)).expect("JSON"),
    };
    for seq in 1..=3 {
        assert_eq!(socket.next_frame().await, event(seq));
    }

    let mut again = server.socket().await;
    again.send(&join(Some(1))).await;
    assert!(matches!(
        again.next_frame().await,
        ServerFrame::Joined { seq: 3, .. }
    ));
    assert_eq!(again.next_frame().await, event(2));
    assert_eq!(again.next_frame().await, event(3));
}
