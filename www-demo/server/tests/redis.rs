//! The `--redis` mode against a real redis-server: two instances, one stream of events.
//! Each test has its own Redis and its own instances.

mod common;

use std::time::Duration;

use common::redis::{Instance, Redis};
use common::seqs;
use jobsocket::core::protocol::{Channel, ClientFrame, RawJson, ServerFrame};
use jobsocket_server::redis::RedisConfig;
use jobsocket_server::{AppState, Config};
use redis::AsyncCommands;

/// Leases short enough that a takeover is quick, long enough for a loaded machine to renew.
const LEASE_MS: u64 = 600;

fn subscribe(id: &str, since: Option<u64>) -> ClientFrame {
    ClientFrame::Subscribe {
        channel: Channel::Generation,
        id: id.to_owned(),
        since,
    }
}

/// Two instances, a job of 40 events on `a` one every 20 ms, and a socket of `b` that has
/// received its first 5 or more events.
struct Midway {
    a: Instance,
    b: Instance,
    id: String,
    socket: common::Socket,
    events: Vec<(u64, jobsocket::core::events::JobEvent)>,
}

async fn a_job_on_a_watched_from_b_midway(redis: &Redis) -> Midway {
    let a = Instance::start(redis, "a", 20, LEASE_MS).await;
    let b = Instance::start(redis, "b", 20, LEASE_MS).await;
    let id = a
        .server
        .start_job("generations", r#"{"clips":4,"steps_per_clip":8}"#)
        .await;
    let mut socket = b.server.socket().await;
    socket.send(&subscribe(&id, None)).await;
    socket.subscribed(&id).await;
    let mut events = Vec::new();
    while events.len() < 5 {
        for frame in socket.next_frames().await {
            if let ServerFrame::Event { seq, event, .. } = frame {
                events.push((seq, event));
            }
        }
    }
    Midway {
        a,
        b,
        id,
        socket,
        events,
    }
}

#[tokio::test]
async fn events_of_a_job_on_one_instance_reach_a_client_of_the_other_once_and_in_order() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    let b = Instance::start(&redis, "b", 5, LEASE_MS).await;
    let mut socket = b.server.socket().await;
    let id = a
        .server
        .start_job("generations", r#"{"clips":2,"steps_per_clip":4}"#)
        .await;
    socket.send(&subscribe(&id, None)).await;
    socket.subscribed(&id).await;

    let events = socket.events_until_terminal(&id).await;

    // queued, picked up, 2 × (4 progress + clip_completed), status_change, completed
    assert_eq!(seqs(&events), (1..=14).collect::<Vec<_>>());
    let snapshot = b
        .server
        .request("GET", &format!("/api/v1/generations/{id}"), None)
        .await;
    assert_eq!(
        snapshot.status, 200,
        "the other instance answers the snapshot"
    );
    assert_eq!(snapshot.json()["seq"], 14);
    assert_eq!(snapshot.json()["status"], "completed");
}

#[tokio::test]
async fn a_replay_with_since_comes_from_redis_after_the_jobs_instance_died() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 1, LEASE_MS).await;
    let b = Instance::start(&redis, "b", 1, LEASE_MS).await;
    let id = a
        .server
        .start_job("generations", r#"{"clips":1,"steps_per_clip":3}"#)
        .await;
    // Wait for the job's end on A's own socket, then kill A.
    let mut on_a = a.server.socket().await;
    on_a.send(&subscribe(&id, None)).await;
    on_a.subscribed(&id).await;
    assert_eq!(on_a.events_until_terminal(&id).await.len(), 8);
    a.kill();

    let mut on_b = b.server.socket().await;
    on_b.send(&subscribe(&id, Some(5))).await;
    assert_eq!(on_b.subscribed(&id).await, 8);
    assert_eq!(
        seqs(&on_b.events_until_terminal(&id).await),
        [6, 7, 8],
        "the replay after since = 5"
    );
}

#[tokio::test]
async fn a_killed_instances_job_is_taken_over_and_no_seq_is_lost_or_repeated() {
    let redis = Redis::start().await;
    let Midway {
        a,
        b: _b,
        id,
        mut socket,
        mut events,
    } = a_job_on_a_watched_from_b_midway(&redis).await;
    a.kill();

    events.extend(socket.events_until_terminal(&id).await);

    // queued, picked up, 4 × (8 progress + clip_completed), status_change, completed
    assert_eq!(seqs(&events), (1..=40).collect::<Vec<_>>());
    let mut redis_commands = redis.connection().await;
    let running: Vec<String> = redis_commands.smembers("jobsocket:running").await.unwrap();
    assert!(running.is_empty(), "a finished job leaves the running set");
}

/// Leases far longer than the tests below wait, so no takeover can come between.
const LONG_LEASE_MS: u64 = 10_000;

/// A job on `a` running one event every 10 ms, watched until its first events arrived; the
/// keys of its meta and lease.
async fn a_running_job(a: &Instance) -> (String, String) {
    let id = a
        .server
        .start_job("generations", r#"{"clips":5,"steps_per_clip":10}"#)
        .await;
    let mut socket = a.server.socket().await;
    socket.send(&subscribe(&id, None)).await;
    socket.subscribed(&id).await;
    socket.next_frames().await;
    let meta = format!("jobsocket:{{generation:{id}}}:meta");
    let lease = format!("jobsocket:{{generation:{id}}}:lease");
    (meta, lease)
}

#[tokio::test]
async fn an_instance_whose_lease_another_holds_writes_no_more_events() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 10, LONG_LEASE_MS).await;
    let (meta, lease) = a_running_job(&a).await;
    let mut commands = redis.connection().await;
    // Another instance holds the lease now, as after a takeover of a frozen instance.
    let _: () = commands.set(&lease, "another-instance").await.unwrap();
    let seq_then: u64 = commands.hget(&meta, "seq").await.unwrap();

    tokio::time::sleep(Duration::from_millis(200)).await;

    let seq_now: u64 = commands.hget(&meta, "seq").await.unwrap();
    assert!(
        seq_now <= seq_then + 1,
        "at most the event in flight was written: {seq_then} then {seq_now}"
    );
}

#[tokio::test]
async fn a_seq_that_does_not_follow_the_stored_one_is_never_written() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 10, LONG_LEASE_MS).await;
    let (meta, _) = a_running_job(&a).await;
    let mut commands = redis.connection().await;
    // Another writer got ahead: the stored seq is ten past what the instance knows.
    let seq_then: u64 = commands.hget(&meta, "seq").await.unwrap();
    let _: () = commands.hset(&meta, "seq", seq_then + 10).await.unwrap();

    tokio::time::sleep(Duration::from_millis(200)).await;

    let seq_now: u64 = commands.hget(&meta, "seq").await.unwrap();
    assert_eq!(seq_now, seq_then + 10, "the instance stopped instead");
}

#[tokio::test]
async fn after_redis_restarts_empty_the_job_goes_on_and_no_seq_repeats() {
    let mut redis = Redis::start().await;
    let Midway {
        a: _a,
        b,
        id,
        socket: mut watching,
        mut events,
    } = a_job_on_a_watched_from_b_midway(&redis).await;

    redis.restart().await;
    events.extend(watching.events_until_terminal(&id).await);

    // The job's instance held its events while Redis was away: the client missed none.
    assert_eq!(seqs(&events), (1..=40).collect::<Vec<_>>());
    // A replay from the start gets what Redis holds now: the log restarted after the
    // restart, without a repeat and up to the end.
    let mut late = b.server.socket().await;
    late.send(&subscribe(&id, Some(0))).await;
    assert_eq!(late.subscribed(&id).await, 40);
    let replay = seqs(&late.events_until_terminal(&id).await);
    assert!(
        replay[0] > 5,
        "the log lost what came before the restart: {replay:?}"
    );
    assert_eq!(replay, (replay[0]..=40).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_message_resent_through_the_other_instance_is_handled_once() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    let b = Instance::start(&redis, "b", 5, LEASE_MS).await;
    let message = ClientFrame::Message {
        id: "m_resent".to_owned(),
        event: "note".to_owned(),
        data: RawJson::new("{}").unwrap(),
    };
    for instance in [&a, &b] {
        let mut socket = instance.server.socket().await;
        socket.send(&message).await;
        assert_eq!(
            socket.next_frame().await,
            ServerFrame::Ack {
                id: "m_resent".to_owned()
            },
            "each instance acks it"
        );
    }
    assert_eq!(a.server.stats().await["handled_messages"], 1);
    assert_eq!(b.server.stats().await["handled_messages"], 0);
}

#[tokio::test]
async fn app_channel_events_are_numbered_across_instances_and_reach_both() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    let b = Instance::start(&redis, "b", 5, LEASE_MS).await;
    let mut socket = b.server.socket().await;
    socket
        .send(&ClientFrame::Join {
            channel: "chat".to_owned(),
            id: "room".to_owned(),
            since: None,
        })
        .await;
    assert!(matches!(
        socket.next_frame().await,
        ServerFrame::Joined { seq: 0, .. }
    ));
    for (instance, text) in [(&a, "one"), (&b, "two"), (&a, "three")] {
        let body = format!(r#"{{"event":"said","data":{{"text":"{text}"}}}}"#);
        let response = instance
            .server
            .request("POST", "/api/v1/channels/chat/room/events", Some(&body))
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
    }
    let mut received = Vec::new();
    while received.len() < 3 {
        for frame in socket.next_frames().await {
            if let ServerFrame::ChannelEvent { seq, data, .. } = frame {
                received.push((seq, data.as_str().to_owned()));
            }
        }
    }
    assert_eq!(
        received,
        [
            (1, r#"{"text":"one"}"#.to_owned()),
            (2, r#"{"text":"two"}"#.to_owned()),
            (3, r#"{"text":"three"}"#.to_owned())
        ]
    );
}

#[tokio::test]
async fn a_server_told_to_use_an_unreachable_redis_refuses_to_start_and_says_where() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let config = Config {
        redis: Some(RedisConfig::new(url.clone())),
        ..Config::default()
    };
    let error = AppState::start(config).await.expect_err("no Redis there");
    assert!(error.contains(&url), "{error}");
}

#[tokio::test]
async fn each_instance_names_itself_in_its_client_ids() {
    let redis = Redis::start().await;
    let a = Instance::start(&redis, "a", 5, LEASE_MS).await;
    let mut socket = a.server.connect("").await.unwrap();
    match socket.next_frame().await {
        ServerFrame::Connected { client_id, .. } => assert_eq!(client_id, "a.c_1"),
        other => panic!("expected connected, got {other:?}"),
    }
}
