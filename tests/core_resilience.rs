//! Scenarios of the connection's resilience, with fake time: backoff with jitter, minimum
//! uptime, heartbeat, idle timeout, network and visibility, token refresh, recovery of missed
//! events. Hours of simulated time run in microseconds.

mod support;

use std::time::Duration;

use jobsocket::core::{
    Channel, ClientError, ClientFrame, Config, Event, GenerationEvent, JobEvent, JobResult,
    Progress, ServerFrame, StateChange, StateReason, Status, Transmit,
};
use support::{Scenario, connected, error_codes};

const SECOND: Duration = Duration::from_secs(1);

/// WebSocket only (the polling fallback has its own scenarios), without jitter.
fn no_jitter() -> Config {
    let mut config = websocket_only();
    config.jitter = false;
    config
}

fn websocket_only() -> Config {
    let mut config = support::config();
    config.use_polling = false;
    config
}

fn progress(job: &str, seq: u64) -> ServerFrame {
    ServerFrame::Event {
        id: job.to_owned(),
        seq,
        event: JobEvent::Generation(GenerationEvent::Progress(Progress {
            step: "rendering".to_owned(),
            clip_number: 1,
            total_clips: 1,
            percentage: seq as f64,
            message: String::new(),
        })),
    }
}

fn completed(job: &str, seq: u64) -> ServerFrame {
    ServerFrame::Event {
        id: job.to_owned(),
        seq,
        event: JobEvent::Generation(GenerationEvent::Completed(JobResult {
            video_url: "/v.mp4".to_owned(),
            thumbnail_url: "/t.svg".to_owned(),
            duration: 1.0,
        })),
    }
}

fn delivered_seqs(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Job(delivery) => Some(delivery.seq),
            _ => None,
        })
        .collect()
}

fn changes(events: &[Event]) -> Vec<(Status, StateReason)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::StateChanged(StateChange { to, reason, .. }) => Some((*to, *reason)),
            _ => None,
        })
        .collect()
}

/// Fails every attempt as it comes and records how long the client waited before each.
fn waits_between_failed_attempts(scenario: &mut Scenario, attempts: usize) -> Vec<Duration> {
    let mut waits = Vec::new();
    scenario.refuse();
    for _ in 0..attempts {
        let wait = scenario.next_wake_in().expect("a retry is scheduled");
        waits.push(wait);
        scenario.advance(wait);
        scenario.refuse();
    }
    waits
}

#[test]
fn the_backoff_ladder_without_jitter_is_1_2_4_8_16_16_seconds() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    let waits = waits_between_failed_attempts(&mut scenario, 6);
    let seconds: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(seconds, vec![1, 2, 4, 8, 16, 16]);
}

#[test]
fn jitter_stays_within_each_step_and_repeats_for_a_fixed_seed() {
    let run = || {
        let mut scenario = Scenario::with_config(websocket_only());
        scenario.subscribe(Channel::Generation, "gen_1");
        waits_between_failed_attempts(&mut scenario, 8)
    };
    let waits = run();
    let steps = [1, 2, 4, 8, 16, 16, 16, 16];
    for (wait, step) in waits.iter().zip(steps) {
        assert!(*wait <= Duration::from_secs(step), "{wait:?} over {step} s");
    }
    assert!(
        waits.windows(2).any(|pair| pair[0] != pair[1]),
        "jittered waits all equal: {waits:?}"
    );
    assert_eq!(run(), waits, "the same seed gives the same waits");
}

#[test]
fn five_failures_in_a_row_are_reported_once_and_retries_go_on_at_the_cap() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    let waits = waits_between_failed_attempts(&mut scenario, 7);
    let events = scenario.take_events();
    let failing: Vec<&Event> = events
        .iter()
        .filter(|event| matches!(event, Event::Error(ClientError::ReconnectFailing { .. })))
        .collect();
    assert_eq!(
        failing,
        vec![&Event::Error(ClientError::ReconnectFailing { failures: 5 })]
    );
    assert_eq!(waits.last(), Some(&Duration::from_secs(16)));
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    assert_eq!(scenario.client.state().attempt, 8);
}

#[test]
fn a_connection_that_dies_before_the_minimum_uptime_does_not_reset_the_attempt_counter() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 2); // three failures: next wait 4 s
    assert_eq!(scenario.next_wake_in(), Some(4 * SECOND));
    scenario.advance(4 * SECOND);
    let socket = scenario.accept();
    scenario.advance(4 * SECOND); // under the 5 s minimum uptime
    scenario.socket_closes(socket, 1006, "");
    assert_eq!(scenario.client.state().attempt, 4);
    assert_eq!(scenario.next_wake_in(), Some(8 * SECOND));
}

#[test]
fn a_connection_that_stays_up_for_the_minimum_uptime_resets_the_attempt_counter() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 2);
    scenario.advance(4 * SECOND);
    scenario.accept();
    assert_eq!(scenario.client.state().attempt, 3);
    scenario.advance(5 * SECOND);
    assert_eq!(scenario.client.state().attempt, 0);
}

#[test]
fn a_long_healthy_connection_that_drops_is_retried_immediately() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    let socket = scenario.accept();
    scenario.advance(60 * SECOND);
    scenario.take_events();
    scenario.socket_closes(socket, 1006, "");
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert_eq!(scenario.server.pending_opens.len(), 1);
    // If that immediate retry fails too, the ladder starts at 1 s.
    scenario.refuse();
    assert_eq!(scenario.next_wake_in(), Some(SECOND));
}

#[test]
fn reconnect_retries_at_once_instead_of_waiting_out_the_backoff() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 3);
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    scenario.act(|client, now| client.reconnect(now));
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert_eq!(scenario.server.pending_opens.len(), 1);
}

#[test]
fn close_stops_everything_and_cancels_every_timer() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 1);
    scenario.act(|client, now| client.close(now));
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(scenario.client.poll_timeout(), None);
    scenario.advance(Duration::from_secs(3_600));
    assert!(scenario.server.pending_opens.is_empty());
}

#[test]
fn an_open_connection_is_pinged_every_interval_and_any_frame_answers() {
    let mut scenario = Scenario::new();
    scenario.server.mute_pongs = true;
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_received();
    scenario.advance(30 * SECOND);
    let ping_time = scenario.now.as_millis();
    assert_eq!(
        scenario.take_received(),
        vec![ClientFrame::Ping { t: ping_time }]
    );
    // A job event (not even a pong) proves the link alive.
    scenario.advance(5 * SECOND);
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.advance(25 * SECOND);
    assert_eq!(scenario.client.status(), Status::Open);
    assert_eq!(scenario.take_received().len(), 1, "the next ping");
}

#[test]
fn a_missed_pong_closes_the_socket_and_reconnects() {
    let mut scenario = Scenario::new();
    scenario.server.mute_pongs = true;
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.advance(30 * SECOND); // ping
    scenario.take_events();
    scenario.advance(10 * SECOND); // no answer
    assert_eq!(
        scenario.server.closed,
        vec![(socket, 4000, "heartbeat timeout".to_owned())]
    );
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), vec!["heartbeat_timeout"]);
    // It was healthy for 40 s: the retry is immediate.
    assert_eq!(
        changes(&events),
        vec![(Status::Connecting, StateReason::HeartbeatTimeout)]
    );
    assert_eq!(scenario.server.pending_opens.len(), 1);
}

#[test]
fn a_late_throttled_wake_up_detects_the_dead_link_at_once() {
    let mut scenario = Scenario::new();
    scenario.server.mute_pongs = true;
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.advance(30 * SECOND); // ping sent, answer due 10 s later
    // The tab is throttled: the timer fires a minute late.
    scenario.sleep_without_waking(60 * SECOND);
    scenario.act(|client, now| client.handle_timeout(now));
    assert_eq!(scenario.server.closed[0].0, socket);
    assert_eq!(scenario.client.status(), Status::Connecting);
}

#[test]
fn becoming_visible_pings_an_open_connection_at_once() {
    let mut scenario = Scenario::new();
    scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_received();
    scenario.advance(3 * SECOND);
    let now = scenario.now.as_millis();
    scenario.act(|client, now| client.handle_visible(now));
    assert_eq!(scenario.take_received(), vec![ClientFrame::Ping { t: now }]);
}

#[test]
fn becoming_visible_while_waiting_to_retry_retries_at_once() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 3);
    scenario.act(|client, now| client.handle_visible(now));
    assert_eq!(scenario.client.status(), Status::Connecting);
}

#[test]
fn the_idle_timeout_closes_the_socket_and_a_later_subscribe_reopens_it() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.unsubscribe(Channel::Generation, "gen_1");
    scenario.take_events();
    scenario.advance(Duration::from_secs(299));
    assert_eq!(scenario.client.status(), Status::Open);
    scenario.advance(SECOND);
    assert_eq!(scenario.client.status(), Status::Idle);
    assert_eq!(
        scenario.server.closed,
        vec![(socket, 1000, "idle".to_owned())]
    );
    assert_eq!(
        changes(&scenario.take_events()),
        vec![(Status::Idle, StateReason::IdleTimeout)]
    );
    assert_eq!(scenario.client.poll_timeout(), None, "idle means no timers");
    scenario.subscribe(Channel::Generation, "gen_2");
    assert_eq!(scenario.client.status(), Status::Connecting);
}

#[test]
fn a_subscription_keeps_the_connection_from_going_idle() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    for _ in 0..20 {
        scenario.advance(30 * SECOND);
        scenario.server_sends(socket, &ServerFrame::Pong { t: 0 });
    }
    assert_eq!(scenario.client.status(), Status::Open);
}

#[test]
fn offline_stops_attempts_and_online_reconnects_at_once() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    waits_between_failed_attempts(&mut scenario, 2);
    let attempt = scenario.client.state().attempt;
    scenario.act(|client, now| client.handle_offline(now));
    assert_eq!(scenario.client.status(), Status::Offline);
    assert_eq!(scenario.client.poll_timeout(), None);
    scenario.advance(Duration::from_secs(600));
    assert!(
        scenario.server.pending_opens.is_empty(),
        "no attempt while offline"
    );
    assert_eq!(
        scenario.client.state().attempt,
        attempt,
        "no attempt burned"
    );
    scenario.act(|client, now| client.handle_online(now));
    assert_eq!(scenario.client.status(), Status::Connecting);
    assert_eq!(scenario.server.pending_opens.len(), 1);
}

#[test]
fn going_offline_closes_an_open_socket() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.act(|client, now| client.handle_offline(now));
    assert_eq!(scenario.server.closed[0].0, socket);
    assert_eq!(scenario.client.status(), Status::Offline);
}

#[test]
fn each_attempt_carries_a_fresh_request_id_kept_in_the_state() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Generation, "gen_1");
    let first = scenario.client.state().request_id.expect("a request id");
    assert!(
        scenario
            .pending_url()
            .ends_with(&format!("requestId={first}"))
    );
    scenario.refuse();
    scenario.advance(16 * SECOND);
    let second = scenario.client.state().request_id.expect("a request id");
    assert_ne!(first, second);
    assert!(
        scenario
            .pending_url()
            .ends_with(&format!("requestId={second}"))
    );
}

fn with_auth() -> Scenario {
    let mut config = no_jitter();
    config.auth = true;
    Scenario::with_config(config)
}

#[test]
fn the_token_is_fetched_before_every_attempt_and_sent_in_the_query() {
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    assert_eq!(scenario.server.token_requests.len(), 1);
    assert!(
        scenario.server.pending_opens.is_empty(),
        "no socket before the token"
    );
    scenario.give_token(Ok("t one"));
    assert!(scenario.pending_url().contains("?token=t%20one&requestId="));
    scenario.refuse();
    scenario.advance(SECOND);
    assert_eq!(
        scenario.server.token_requests.len(),
        1,
        "a new token per attempt"
    );
    scenario.give_token(Ok("t2"));
    assert!(scenario.pending_url().contains("token=t2"));
}

#[test]
fn a_failing_token_function_counts_as_a_failed_attempt() {
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.give_token(Err("login expired"));
    let events = scenario.take_events();
    assert_eq!(error_codes(&events), vec!["token_failed"]);
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    assert_eq!(scenario.next_wake_in(), Some(SECOND));
}

#[test]
fn a_refused_token_is_fetched_again_once_after_the_backoff_and_a_second_refusal_ends_in_closed_unauthorized()
 {
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.give_token(Ok("stale"));
    let socket = scenario.accept();
    scenario.socket_closes(socket, 4001, "unauthorized");
    assert_eq!(scenario.client.status(), Status::Reconnecting);
    assert!(
        scenario.server.token_requests.is_empty(),
        "the backoff first, not a token at once"
    );
    scenario.advance(SECOND);
    assert_eq!(
        scenario.server.token_requests.len(),
        1,
        "a fresh token after the backoff"
    );
    scenario.give_token(Ok("still stale"));
    let socket = scenario.accept();
    scenario.take_events();
    scenario.socket_closes(socket, 4001, "unauthorized");
    let events = scenario.take_events();
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(
        changes(&events),
        vec![(Status::Closed, StateReason::Unauthorized)]
    );
    assert!(error_codes(&events).contains(&"unauthorized".to_owned()));
    scenario.advance(Duration::from_secs(3_600));
    assert!(
        scenario.server.token_requests.is_empty(),
        "no endless retries"
    );
}

#[test]
fn a_token_answer_for_an_abandoned_attempt_is_ignored() {
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.advance(10 * SECOND); // the token never came: timeout, retry scheduled
    let stale = scenario.server.token_requests.remove(0);
    scenario.act(|client, now| client.handle_token(now, stale, Ok("late".to_owned())));
    assert!(scenario.server.pending_opens.is_empty());
    assert_eq!(scenario.client.status(), Status::Reconnecting);
}

#[test]
fn after_a_reconnect_missed_events_are_replayed_once_and_duplicates_dropped() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    let first = scenario.accept();
    scenario.server_sends(first, &connected());
    for seq in 1..=3 {
        scenario.server_sends(first, &progress("gen_1", seq));
    }
    scenario.socket_closes(first, 1006, "");
    scenario.take_received();
    scenario.advance(SECOND);
    let second = scenario.accept();
    assert_eq!(
        scenario.take_received(),
        vec![ClientFrame::Subscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned(),
            since: Some(3)
        }]
    );
    // The server replays from 3 (one too many) and goes on.
    let batch = ServerFrame::encode_batch(&[progress("gen_1", 3), progress("gen_1", 4)]);
    scenario.server_sends_text(second, &batch);
    scenario.server_sends(second, &progress("gen_1", 5));
    assert_eq!(delivered_seqs(&scenario.take_events()), vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_gap_in_the_sequence_is_reported_and_later_events_still_arrive() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.server_sends(socket, &progress("gen_1", 1));
    scenario.server_sends(socket, &progress("gen_1", 4));
    let events = scenario.take_events();
    assert_eq!(delivered_seqs(&events), vec![1, 4]);
    assert!(events.contains(&Event::Error(ClientError::SequenceGap {
        channel: Channel::Generation,
        job_id: "gen_1".to_owned(),
        expected: 2,
        received: 4
    })));
}

#[test]
fn the_terminal_event_ends_the_subscription() {
    let mut scenario = Scenario::new();
    let socket = scenario.open();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.take_received();
    scenario.server_sends(socket, &completed("gen_1", 1));
    assert_eq!(
        scenario.take_received(),
        vec![ClientFrame::Unsubscribe {
            channel: Channel::Generation,
            id: "gen_1".to_owned()
        }]
    );
    assert!(scenario.take_events().contains(&Event::SubscriptionEnded {
        channel: Channel::Generation,
        job_id: "gen_1".to_owned()
    }));
    // Nothing is delivered for it any more, and a later unsubscribe is a no-op.
    scenario.server_sends(socket, &progress("gen_1", 2));
    scenario.unsubscribe(Channel::Generation, "gen_1");
    assert!(scenario.take_events().is_empty());
    assert!(scenario.take_received().is_empty());
}

#[test]
fn the_state_snapshot_records_when_the_connection_came_and_went() {
    let mut scenario = Scenario::with_config(no_jitter());
    scenario.subscribe(Channel::Generation, "gen_1");
    let socket = scenario.accept();
    let opened = scenario.now;
    scenario.advance(2 * SECOND);
    scenario.socket_closes(socket, 1006, "gone");
    let state = scenario.client.state();
    assert_eq!(state.connected_at, Some(opened));
    assert_eq!(state.disconnected_at, Some(scenario.now));
    assert_eq!(state.next_retry_at, Some(scenario.now + SECOND));
    assert_eq!(
        state.last_error,
        Some(ClientError::SocketClosed {
            code: 1006,
            reason: "gone".to_owned()
        })
    );
}

#[test]
fn every_transmit_names_a_socket_the_core_asked_for() {
    let mut scenario = Scenario::new();
    scenario.subscribe(Channel::Generation, "gen_1");
    let socket = scenario.accept();
    scenario.advance(Duration::from_secs(45));
    assert!(scenario.server.received.iter().all(|(id, _)| *id == socket));
    assert_eq!(scenario.client.poll_transmit(), None::<Transmit>);
}

#[test]
fn a_reconnect_from_idle_with_nothing_to_do_goes_idle_again_after_the_timeout() {
    let mut config = support::config();
    config.idle_timeout = Some(Duration::from_secs(20));
    let mut scenario = Scenario::with_config(config);
    scenario.act(|client, now| client.reconnect(now));
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    scenario.advance(Duration::from_secs(19));
    assert_eq!(scenario.client.status(), Status::Open);
    scenario.advance(SECOND);
    assert_eq!(scenario.client.status(), Status::Idle);
}

/// issue 12's refusal loop: a server that greets every socket (`connected`) and then closes it
/// with 4001 got 341 sockets and token calls in 8 s, because the greeting reset the refusal
/// count and a refusal retried at once.
#[test]
fn a_server_that_greets_then_refuses_every_token_gets_two_sockets_and_the_client_ends_unauthorized()
{
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    let mut sockets = 0;
    for _ in 0..1_000 {
        while !scenario.server.token_requests.is_empty() {
            scenario.give_token(Ok("refused"));
        }
        while !scenario.server.pending_opens.is_empty() {
            let socket = scenario.accept();
            sockets += 1;
            scenario.server_sends(socket, &connected());
            scenario.socket_closes(socket, 4001, "unauthorized");
        }
        scenario.advance(Duration::from_millis(10)); // 10 s of fake time in all
    }
    assert_eq!(sockets, 2, "one fresh token, then unauthorized");
    assert_eq!(scenario.client.status(), Status::Closed);
    assert_eq!(
        scenario.client.state().reason,
        Some(StateReason::Unauthorized)
    );
}

#[test]
fn a_connection_that_stays_up_min_uptime_resets_the_refusal_count() {
    let mut scenario = with_auth();
    scenario.subscribe(Channel::Generation, "gen_1");
    scenario.give_token(Ok("old"));
    let socket = scenario.accept();
    scenario.socket_closes(socket, 4001, "unauthorized");
    scenario.advance(SECOND);
    scenario.give_token(Ok("fresh"));
    let socket = scenario.accept();
    scenario.server_sends(socket, &connected());
    scenario.advance(6 * SECOND); // past min_uptime: the token was good
    scenario.socket_closes(socket, 4001, "expired later");
    assert_eq!(
        scenario.client.status(),
        Status::Reconnecting,
        "a later refusal is a first one again"
    );
}
